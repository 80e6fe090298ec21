"""The worklist's section of HL7 messages waiting for a navigator (issue 17).

The unmatched queue has its own page (``/hl7/queue``) with the actions; the worklist shows how
many messages wait and the first of them in words (what the message is, about whom, why it
waits), each linked to its actions on that page, so a navigator's day has one list. It is read
in the worklist's own snapshot; like the rest of that page it is not an audited read (the queue
page, where the messages are handled, is).
"""

import datetime as dt
from dataclasses import dataclass

from sqlmodel import Session

from surveil.services.actor import Actor
from surveil.services.hl7.queue import waiting, waiting_count

KEY = "hl7"
TITLE = "HL7 messages waiting"
HINT = (
    "Messages from the hospital's systems that surveil could not apply by itself: apply each "
    "to the right patient or item, or dismiss it with a reason."
)
QUEUE_URL = "/hl7/queue"


@dataclass(frozen=True)
class WaitingRow:
    message_id: int
    meaning: str  # "lab result (ORU^R01) for Ann SMITH, MRN 100001: Chromogranin A 120 ug/L"
    reason: str  # why it waits
    patient_id: int | None  # the patient it names, when matched
    received_at: dt.datetime
    rejected: bool  # not HL7 surveil could read: only a dismissal applies

    @property
    def actions_url(self) -> str:
        return f"{QUEUE_URL}#hl7-{self.message_id}"


@dataclass(frozen=True)
class WaitingSection:
    count: int
    rows: tuple[WaitingRow, ...]
    key: str = KEY
    title: str = TITLE
    hint: str = HINT
    queue_url: str = QUEUE_URL

    @property
    def truncated(self) -> bool:
        return self.count > len(self.rows)


def hl7_section(
    session: Session, *, actor: Actor, rows: int, authority: str = ""
) -> WaitingSection:
    """How many messages wait that ``actor`` may see, and the oldest ``rows`` of them
    (``authority``: ``[hl7] identifier_authority``, whose identifier the words call the MRN)."""
    entries = waiting(session, actor=actor, limit=rows, authority=authority)
    shown = tuple(
        WaitingRow(e.id, e.meaning, e.reason, e.patient_id, e.received_at, e.state == "rejected")
        for e in entries
    )
    count = len(shown) if len(shown) < rows else waiting_count(session, actor=actor)
    return WaitingSection(count=count, rows=shown)
