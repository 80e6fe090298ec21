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


# HL7 table 0357 (message error condition codes), chosen by what the reason says.
_CONDITIONS = (
    ("is not one surveil takes", "200^Unsupported message type^HL70357", "MSH^1^9"),
    ("MSH-10", "101^Required field missing^HL70357", "MSH^1^10"),
    ("does not start with an MSH", "100^Segment sequence error^HL70357", "MSH^1"),
    ("encoding characters", "102^Data type error^HL70357", "MSH^1^2"),
    ("not UTF-8", "102^Data type error^HL70357", "MSH^1^18"),
    ("no patient", "204^Unknown key identifier^HL70357", "PID^1^3"),
    ("PID", "204^Unknown key identifier^HL70357", "PID^1^3"),
    ("OBX-3 code", "103^Table value not found^HL70357", "OBX^1^3"),
    ("appointment type", "103^Table value not found^HL70357", "SCH^1^7"),
)


def error_code(code: str, reason: str) -> str:
    """ERR-3: the condition in HL7's own terms; 207 when nothing more precise fits."""
    for words, condition, _ in _CONDITIONS:
        if words in reason:
            return condition
    if code == "AE":
        return "207^Application internal error^HL70357"
    return "102^Data type error^HL70357"


def error_location(reason: str) -> str:
    """ERR-2: the segment and field the condition is about, where the reason names one."""
    for words, _, location in _CONDITIONS:
        if words in reason:
            return location
    return ""


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
        where, condition = error_location(reason), error_code(code, reason)
        segments.append(f"ERR||{where}|{condition}|E||||{escape(reason)}")
    return "\r".join(segments)
