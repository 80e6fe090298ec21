"""``surveil hl7 send``: push messages from a file to an MLLP listener and read each ACK."""

import socket
from pathlib import Path

from surveil.hl7.mllp import Deframer, frame


def messages_in(path: Path) -> list[bytes]:
    """The messages in a file: each starts at a line beginning with MSH; segments may end in
    CR, LF or CRLF (they are sent with CR, as HL7 wants)."""
    data = path.read_bytes().replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    messages: list[list[bytes]] = []
    for line in data.split(b"\n"):
        if line.startswith(b"MSH"):
            messages.append([])
        if line.strip() and messages:
            messages[-1].append(line)
    return [b"\r".join(segments) + b"\r" for segments in messages]


def send(host: str, port: int, messages: list[bytes], *, timeout: float = 30.0) -> list[str]:
    """Send each message and wait for its ACK; returns the ACKs (segments joined by CR)."""
    acks: list[str] = []
    with socket.create_connection((host, port), timeout=timeout) as connection:
        deframer = Deframer()
        for message in messages:
            connection.sendall(frame(message))
            got: list[bytes] = []
            while not got:
                data = connection.recv(65536)
                if not data:
                    raise ConnectionError("the listener closed the connection before its ACK")
                got = deframer.feed(data)
            acks.extend(g.decode("utf-8", errors="replace") for g in got)
    return acks


def ack_code(ack: str) -> str:
    """MSA-1 of an ACK ("AA", "AE", "AR"), or "" when there is no MSA segment."""
    for segment in ack.split("\r"):
        if segment.startswith("MSA"):
            parts = segment.split("|")
            return parts[1] if len(parts) > 1 else ""
    return ""


def ack_text(ack: str) -> str:
    """MSA-3, the words of the ACK (why a message was queued or rejected)."""
    for segment in ack.split("\r"):
        if segment.startswith("MSA"):
            parts = segment.split("|")
            return parts[3] if len(parts) > 3 else ""
    return ""
