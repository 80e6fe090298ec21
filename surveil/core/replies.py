"""Patients' answers to reminders, as pure functions: what a text message says, whether a
webhook was signed by the provider, and the signed links of a reminder e-mail.

Pure: the clock comes in as ``now`` (aware UTC) and the secrets as bytes; nothing here touches
a database or a network.

* **Keywords.** A text is read case-insensitively, trimmed of spaces and punctuation. STOP and
  its usual variants (the ones carriers honour: STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT,
  and the patient's-language words ARRÊT/ARRET, ALTO, BAJA) stop the channel; START, UNSTOP,
  YES-to-restart words resume it; C, CONFIRM, YES, OK, SÍ/SI, OUI confirm. Anything else is
  "unrecognised" and goes to a navigator, with the text.
* **Webhook signature.** ``HMAC-SHA256(secret, timestamp + "." + body)``, hex, compared in
  constant time; the timestamp must be within ``window`` of now in either direction, so a
  captured request cannot be replayed later. Replays inside the window are refused by the
  caller, which stores every provider message id (``inbound_reply.dedupe_key``).
* **Link tokens.** ``base64url(reminder id ‖ expiry ‖ purpose ‖ HMAC[:16])``: nothing about the
  patient, unforgeable without the key, expiring. The same reminder always gets the same token
  (a resend after a crash carries the same links). Single use is the caller's: the SHA-256 of
  the token is stored when it is used, never the token.
"""

import base64
import datetime as dt
import hashlib
import hmac
import struct
import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class Reply(StrEnum):
    CONFIRM = "confirm"
    CALL_ME = "call_me"
    STOP = "stop"
    START = "start"
    UNRECOGNISED = "unrecognised"


STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "ARRET", "ALTO", "BAJA", "PARAR"}
)
START_WORDS = frozenset({"START", "UNSTOP", "RESUME", "SUBSCRIBE"})
CONFIRM_WORDS = frozenset({"C", "CONFIRM", "CONFIRMED", "YES", "Y", "OK", "SI", "OUI"})


def _folded(text: str) -> str:
    """Upper case, accents dropped, surrounding spaces and punctuation trimmed: "  Stop! " and
    "arrêt" read as STOP and ARRET."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return plain.strip().strip(".!?,;:'\"()[] \t\r\n").upper()


def classify(text: str) -> Reply:
    """What a text message asks for. Only a whole message that is a keyword counts: "please stop
    calling me at work" is for a human, not a silent opt-out."""
    word = _folded(text)
    if word in STOP_WORDS:
        return Reply.STOP
    if word in START_WORDS:
        return Reply.START
    if word in CONFIRM_WORDS:
        return Reply.CONFIRM
    return Reply.UNRECOGNISED


class BadSignature(Exception):
    """The webhook is not from the provider (or too old): refused, nothing recorded."""


def sign_webhook(secret: bytes, timestamp: str, body: bytes) -> str:
    return hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify_webhook(
    secret: bytes,
    *,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: dt.datetime,
    window: dt.timedelta,
) -> None:
    """Raise ``BadSignature`` unless ``signature`` is ``[sha256=]<hex HMAC>`` of this body at
    this timestamp (Unix seconds) and the timestamp is within ``window`` of ``now``."""
    if not secret:
        raise BadSignature("no inbound secret is configured")
    if not timestamp or not signature:
        raise BadSignature("timestamp or signature header missing")
    try:
        sent = dt.datetime.fromtimestamp(int(timestamp), dt.UTC)
    except (ValueError, OverflowError, OSError):
        raise BadSignature("timestamp is not Unix seconds") from None
    expected = sign_webhook(secret, timestamp, body)
    given = signature.strip().removeprefix("sha256=")
    # Compared before the clock, and always: the time taken says nothing about the key.
    good = hmac.compare_digest(expected.encode(), given.encode("ascii", "replace"))
    if not good:
        raise BadSignature("signature does not match")
    if abs(now - sent) > window:
        raise BadSignature("timestamp outside the allowed window")


class Purpose(StrEnum):
    REPLY = "r"  # the reply page: confirm, call me, stop
    UNSUBSCRIBE = "u"  # List-Unsubscribe (RFC 8058): stop e-mail


@dataclass(frozen=True)
class LinkToken:
    reminder_id: int
    expires: dt.datetime
    purpose: Purpose


class BadToken(Exception):
    """Forged, damaged or expired: the page says the link cannot be used, nothing else."""


_LAYOUT = struct.Struct(">QQc")  # reminder id, expiry (Unix seconds), purpose
_MAC_BYTES = 16


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, b"surveil-reply-link\x00" + payload, hashlib.sha256).digest()[:_MAC_BYTES]


def make_token(key: bytes, reminder_id: int, expires: dt.datetime, purpose: Purpose) -> str:
    payload = _LAYOUT.pack(reminder_id, int(expires.timestamp()), purpose.value.encode())
    raw = payload + _mac(key, payload)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def read_token(key: bytes, token: str, now: dt.datetime) -> LinkToken:
    """The token's contents if ``key`` signed it and it has not expired; else ``BadToken``."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError):
        raise BadToken("not a link token") from None
    if len(raw) != _LAYOUT.size + _MAC_BYTES:
        raise BadToken("not a link token")
    payload, mac = raw[: _LAYOUT.size], raw[_LAYOUT.size :]
    if not hmac.compare_digest(mac, _mac(key, payload)):
        raise BadToken("signature does not match")
    reminder_id, expires_at, purpose = _LAYOUT.unpack(payload)
    try:
        kind = Purpose(purpose.decode())
    except (ValueError, UnicodeDecodeError):
        raise BadToken("unknown purpose") from None
    expires = dt.datetime.fromtimestamp(expires_at, dt.UTC)
    if now >= expires:
        raise BadToken("expired")
    return LinkToken(reminder_id, expires, kind)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link_key(secret_key: str) -> bytes:
    """The links' signing key, derived from the web app's secret (one secret to keep, and a
    different key from the session cookies')."""
    return hmac.new(secret_key.encode(), b"surveil reply links v1", hashlib.sha256).digest()
