"""What every channel takes and gives back: one message in, a provider receipt out, or a
``TransportError`` that says whether trying again could help.
"""

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class OutgoingMessage:
    """One rendered reminder for one address.

    ``idempotency_key`` is the outbox row's unique key: the SMTP Message-ID is built from it and
    an SMS provider receives it as ``Idempotency-Key``, so a resend after a crash can be
    recognised downstream. ``to`` is an email address or a phone number, depending on the
    transport; ``sms`` is the text-message version of the same message.
    """

    idempotency_key: str
    to: str
    subject: str
    text: str
    html: str | None = None
    sms: str | None = None
    # Extra e-mail headers, e.g. List-Unsubscribe (RFC 8058); printable ASCII, one line each.
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class DeliveryResult:
    """What the provider said when it accepted the message, for the delivery ledger."""

    provider_id: str | None
    response: str


class Transport(Protocol):
    """A channel. ``send`` raises ``surveil.errors.TransportError(permanent=...)`` on failure.

    Transports may keep a connection open between sends; ``close`` releases it and is safe to
    call more than once.
    """

    def send(self, message: OutgoingMessage) -> DeliveryResult: ...

    def close(self) -> None: ...
