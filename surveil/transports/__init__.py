"""Channels that deliver a rendered reminder: SMTP email, an SMS webhook, and a dry-run log.

``TRANSPORTS`` maps the configuration's ``transport = "..."`` names to their classes; it is a
dict in code on purpose, never a dotted path read from a config file.
"""

from collections.abc import Callable

from surveil.transports.base import DeliveryResult, OutgoingMessage, Transport
from surveil.transports.log import LogTransport
from surveil.transports.sms import WebhookSmsTransport
from surveil.transports.smtp import SmtpTransport

TRANSPORTS: dict[str, Callable[..., Transport]] = {
    "smtp": SmtpTransport,
    "sms": WebhookSmsTransport,
    "log": LogTransport,
}

__all__ = [
    "TRANSPORTS",
    "DeliveryResult",
    "LogTransport",
    "OutgoingMessage",
    "SmtpTransport",
    "Transport",
    "WebhookSmsTransport",
]
