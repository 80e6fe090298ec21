"""The ACK surveil sends back for each message: AA applied, AE not applied (the reason in MSA-3
and ERR-8; the message is kept in the unmatched queue for a navigator), AR rejected."""

import datetime as dt
import hashlib

from surveil.services.hl7.parse import Header

_ESCAPES = (("\\", "\\E\\"), ("|", "\\F\\"), ("^", "\\S\\"), ("~", "\\R\\"), ("&", "\\T\\"))


def escape(text: str) -> str:
    """Text as an HL7 field value (ERR and MSA-3 carry words that may contain separators)."""
    for plain, escaped in _ESCAPES:
        text = text.replace(plain, escaped)
    return text.replace("\r", " ").replace("\n", " ")


def build_ack(
    code: str,
    *,
    header: Header | None,
    reason: str,
    now: dt.datetime,
    raw_digest: str = "",
) -> str:
    """One ACK message (segments joined by CR, without MLLP framing)."""
    stamp = now.astimezone(dt.UTC).strftime("%Y%m%d%H%M%S+0000")
    control = header.control_id if header else ""
    trigger = header.kind.split("^")[1] if header and "^" in header.kind else ""
    ack_id = "ACK" + hashlib.sha256(f"{control}{raw_digest}{stamp}".encode()).hexdigest()[:17]
    receiving = (
        f"{escape(header.sending_application)}|{escape(header.sending_facility)}" if header else "|"
    )
    version = header.version if header and header.version else "2.5.1"
    segments = [
        f"MSH|^~\\&|SURVEIL|SURVEIL|{receiving}|{stamp}||ACK^{trigger}^ACK|{ack_id}|P|{version}",
        f"MSA|{code}|{escape(control)}|{escape(reason)[:80]}",
    ]
    if code != "AA":
        error = (
            "207^Application internal error^HL70357"
            if code == "AE"
            else ("200^Unsupported message type^HL70357")
        )
        segments.append(f"ERR||MSH^1^10|{error}|E||||{escape(reason)}")
    return "\r".join(segments)
