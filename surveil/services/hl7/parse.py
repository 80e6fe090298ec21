"""Reading HL7 v2 text with python-hl7: the header checks that decide AR, and field access.

Pure functions over text; nothing here touches the database. A message that cannot be read
(not UTF-8, no MSH, wrong encoding characters, no control id, a type surveil does not take)
raises ``Unreadable`` with the reason the ACK will carry.
"""

from dataclasses import dataclass

import hl7

from surveil.core.digits import is_digits

# The message types surveil applies; anything else is rejected (AR) with its name.
SUPPORTED = frozenset(
    {"ORU^R01", "SIU^S12", "SIU^S13", "SIU^S14", "SIU^S15", "SIU^S26"}
    | {f"ADT^{event}" for event in ("A01", "A03", "A04", "A08", "A28", "A31", "A40")}
)


class Unreadable(Exception):
    """Not an HL7 v2 message surveil can read: the reason goes back in the ACK (AR). ``header``
    is the header when it could be read (a type surveil does not take), so the ACK names the
    message it answers (MSA-2)."""

    def __init__(self, reason: str, header: "Header | None" = None) -> None:
        super().__init__(reason)
        self.header = header


@dataclass(frozen=True)
class Header:
    sending_application: str
    sending_facility: str
    control_id: str
    kind: str  # "ORU^R01"
    version: str

    @property
    def sender(self) -> str:
        return f"{self.sending_application}^{self.sending_facility}"


def decode(raw: bytes) -> str:
    """UTF-8 (ASCII included), or ISO 8859-1 when MSH-18 says so; segments end in CR."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        head = raw.split(b"\r", 1)[0]
        if b"8859/1" not in head:
            raise Unreadable("the message is not UTF-8 and MSH-18 names no other charset") from None
        text = raw.decode("latin-1")
    return text.replace("\r\n", "\r").replace("\n", "\r").strip("\r")


def read(text: str) -> tuple[hl7.Message, Header]:
    """Parse the message and check its header; raises ``Unreadable`` with the reason."""
    if not text.startswith("MSH") or len(text) < 8:
        raise Unreadable("the message does not start with an MSH segment")
    separator, encoding = text[3], text[4:8]
    if len(set(separator + encoding)) != 5 or any(c.isalnum() or c in "\r " for c in encoding):
        raise Unreadable(f"MSH-2 encoding characters {encoding!r} are not four distinct separators")
    try:
        message = hl7.parse(text)
        msh = message.segment("MSH")
    except (KeyError, IndexError, ValueError) as error:
        raise Unreadable(f"the message cannot be parsed ({error})") from None
    header = Header(
        sending_application=field(msh, 3),
        sending_facility=field(msh, 4),
        control_id=field(msh, 10),
        kind=f"{component(msh, 9, 1)}^{component(msh, 9, 2)}",
        version=field(msh, 12),
    )
    if not header.control_id:
        raise Unreadable("MSH-10 (message control id) is empty")
    if len(header.control_id) > 199 or len(header.sender) > 199:
        raise Unreadable("MSH-10 or MSH-3/MSH-4 is longer than 199 characters")
    if header.kind not in SUPPORTED:
        raise Unreadable(f"message type {header.kind} is not one surveil takes", header)
    return message, header


def field(segment: hl7.Segment, index: int) -> str:
    """A field's whole text as sent (every repetition and component, not unescaped), or ""."""
    try:
        value = segment[index]
    except IndexError:
        return ""
    return str(value)


def component(segment: hl7.Segment, index: int, part: int, repetition: int = 1) -> str:
    """One component (1-based) of one repetition (1-based) of a field, unescaped, or ""."""
    try:
        return str(segment.extract_field(1, index, repetition, part, 1))
    except IndexError:
        return ""


def repetition_count(segment: hl7.Segment, index: int) -> int:
    """How many repetitions a field has (PID-3 lists a patient's identifiers this way)."""
    text = field(segment, index)
    # python-hl7 keeps the separators from the segment level down: CR | ~ ^ &.
    separator = str(segment.separators[2])
    return text.count(separator) + 1 if text else 0


def segments(message: hl7.Message, name: str) -> list[hl7.Segment]:
    return [s for s in message if str(s[0]) == name]


def hl7_date(value: str) -> str | None:
    """'20260301' or '202603011230+0000' -> '2026-03-01'; None if not a date."""
    digits = value[:8]
    if len(digits) != 8 or not is_digits(digits):
        return None
    return f"{digits[:4]}-{digits[4:6]}-{digits[6:8]}"
