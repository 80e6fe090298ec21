"""A transport that sends nothing: for ``--dry-run`` and for tests of the code around sending.

It logs the idempotency key only (never the address or the text) and keeps the latest messages
it would have sent in memory (a bounded number: the demo daemon runs for days), so a dry run can
print a summary of them.

``dry_run=True`` (what a configured ``"log"`` channel gets): the dispatcher records "would send"
in the ledger and leaves the reminder waiting, so a clinic that switches the channel to a real
transport later still sends what is due. Without it, the dispatcher treats it as a channel that
accepted the message (tests of the code around sending use it that way).
"""

import logging
from collections import deque

from surveil.transports.base import DeliveryResult, OutgoingMessage

logger = logging.getLogger(__name__)


class LogTransport:
    def __init__(self, keep: int = 10_000, *, dry_run: bool = False) -> None:
        self.sent: deque[OutgoingMessage] = deque(maxlen=keep)
        self.dry_run = dry_run

    def __repr__(self) -> str:
        return f"LogTransport({len(self.sent)} message(s))"

    def send(self, message: OutgoingMessage) -> DeliveryResult:
        self.sent.append(message)
        logger.info("dry run: would send %s", message.idempotency_key)
        return DeliveryResult(
            provider_id=f"dry-run:{message.idempotency_key}", response="not sent (dry run)"
        )

    def close(self) -> None:
        """Nothing to release; the record of what would have been sent is kept."""
