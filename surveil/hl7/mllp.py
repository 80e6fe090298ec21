"""MLLP framing: each message is sent as VT, the message, FS CR (``\\x0b … \\x1c\\x0d``).

``Deframer`` takes bytes as TCP delivers them (a message split over many packets, or several
in one) and hands back whole messages. Bytes outside a frame are discarded (MLLP allows no other
content); a frame longer than ``max_bytes`` is an error, so a peer cannot exhaust memory.
"""

START, END = b"\x0b", b"\x1c\x0d"


class FrameTooLarge(Exception):
    pass


def frame(message: bytes | str) -> bytes:
    data = message.encode("utf-8") if isinstance(message, str) else message
    return START + data + END


class Deframer:
    def __init__(self, max_bytes: int = 16 * 1024 * 1024) -> None:
        self._buffer = bytearray()
        self._max = max_bytes

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        messages: list[bytes] = []
        while True:
            start = self._buffer.find(START)
            if start < 0:
                self._buffer.clear()
                return messages
            del self._buffer[:start]
            end = self._buffer.find(END)
            if end < 0:
                if len(self._buffer) > self._max:
                    self._buffer.clear()
                    raise FrameTooLarge(f"an MLLP frame over {self._max} bytes")
                return messages
            messages.append(bytes(self._buffer[1:end]))
            del self._buffer[: end + len(END)]
