"""A real SMTP server for the daemon tests: aiosmtpd on a free loopback port, counting what it
accepts by Message-ID (a resend after a crash carries the same one)."""

import re
import socket
import threading
from collections import Counter
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

_MESSAGE_ID = re.compile(rb"^Message-ID:\s*<([^@>]+)@", re.MULTILINE | re.IGNORECASE)


def free_port() -> int:
    # Controller(port=0) cannot work: it connects to its own port to see that it is up.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Sink:
    """Accepts every message; ``keys`` counts receipts per idempotency key."""

    port: int = field(default_factory=free_port)
    keys: Counter[str] = field(default_factory=Counter)
    raw: list[bytes] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # rcpt prefix -> SMTP reply
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _controller: Controller | None = None

    async def handle_RCPT(
        self, _server: Any, _session: Any, envelope: Any, address: str, _options: list[str]
    ) -> str:
        for prefix, reply in self.refuse.items():
            if address.startswith(prefix):
                return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content or b""
        found = _MESSAGE_ID.search(content)
        with self._lock:
            self.keys[found.group(1).decode() if found else "?"] += 1
            self.raw.append(content)
        return "250 2.0.0 Ok: queued"

    def start(self) -> "Sink":
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def received(self) -> int:
        return sum(self.keys.values())

    def duplicates(self) -> dict[str, int]:
        return {key: n for key, n in self.keys.items() if n > 1}

    def messages(self) -> list[EmailMessage]:
        out = []
        for raw in self.raw:
            message = message_from_bytes(raw, policy=policy.default)
            assert isinstance(message, EmailMessage)
            out.append(message)
        return out
