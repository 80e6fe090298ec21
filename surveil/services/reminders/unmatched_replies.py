"""Texts from numbers no patient has (issue 18, left over): kept for a navigator, never dropped.

A patient who changed phones, or a relative texting for them, answers a reminder from a number
surveil does not know. The reply is stored with that number (``inbound_reply.sender``) and waits
on the worklist, whatever it says, until a navigator either

* **matches** it to a patient (by MRN): it then does what it would have done had the number been
  known (a STOP stops texts to that patient, a "call me" joins the patient's replies, a confirm is
  recorded against the last text sent to them), or
* **dismisses** it with a note (a wrong number, spam).

Either way the number is cleared: it is kept only while nobody knows whose it is. Like the HL7
queue's unmatched messages, these are shown to every member of staff (there is no patient yet
whose clinic could narrow it).
"""

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session

from surveil.core.replies import Reply
from surveil.db import models as m
from surveil.db.base import as_utc
from surveil.db.session import read_scope, session_scope
from surveil.errors import InvalidInput, NotFound, Problem
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.entry import change
from surveil.services.registry.access import patient_by_mrn
from surveil.services.registry.patients import get_patient
from surveil.services.reminders.replies import (
    ACTIONS,
    NEEDS_A_NAVIGATOR,
    NOTE_KEPT,
    Q,
    Target,
    apply_effect,
    latest_text_to,
)

WAITING = sa.and_(Q.c.patient_id.is_(None), Q.c.needs_action.is_(True), Q.c.handled_at.is_(None))
KIND_WORDS = {
    Reply.CONFIRM: "confirmed",
    Reply.CALL_ME: "asks to be called: can't make it",
    Reply.STOP: "asked to stop texts",
    Reply.START: "asked to start texts again",
    Reply.UNRECOGNISED: "not understood",
}


@dataclass(frozen=True)
class UnmatchedReply:
    reply_id: int
    channel: str
    kind: Reply
    text: str  # what they wrote
    sender: str  # the number, to call back or to recognise
    received_at: dt.datetime

    @property
    def meaning(self) -> str:
        sender = self.sender or "an unknown sender"
        return f"{KIND_WORDS[self.kind]} (by {self.channel} from {sender})"


@dataclass(frozen=True)
class UnmatchedSection:
    """The worklist overview's list of them: how many wait, and the oldest."""

    count: int
    rows: tuple[UnmatchedReply, ...]
    key: str = "unknown-senders"
    title: str = "Replies from unknown numbers"
    hint: str = (
        "Texts from numbers no patient has (a new phone, a relative): say whose each is, "
        "or dismiss it with a reason."
    )

    @property
    def truncated(self) -> bool:
        return self.count > len(self.rows)


def unmatched_section(session: Session, *, rows: int) -> UnmatchedSection:
    found = tuple(unmatched_replies(session, limit=rows))
    count = len(found) if len(found) < rows else unmatched_count(session)
    return UnmatchedSection(count, found)


def show_unmatched(engine: sa.Engine, *, rows: int) -> UnmatchedSection:
    """The section from a read-only snapshot (the command line's list)."""
    with read_scope(engine) as session:
        return unmatched_section(session, rows=rows)


def unmatched_replies(session: Session, *, limit: int) -> list[UnmatchedReply]:
    """The oldest ``limit`` replies waiting for someone to say whose they are."""
    rows = session.connection().execute(
        sa.select(Q.c.id, Q.c.channel, Q.c.kind, Q.c.text, Q.c.sender, Q.c.received_at)
        .where(WAITING)
        .order_by(Q.c.received_at, Q.c.id)
        .limit(limit)
    )
    return [
        UnmatchedReply(
            r.id, r.channel, Reply(r.kind), r.text, r.sender or "", as_utc(r.received_at)
        )
        for r in rows
    ]


def unmatched_count(session: Session) -> int:
    return int(session.connection().execute(sa.select(sa.func.count()).where(WAITING)).scalar_one())


@change("reply.matched", *ACTIONS.values())
def match_reply(
    engine: sa.Engine,
    *,
    actor: Actor,
    reply_id: int,
    mrn: str,
    clinic: str | None = None,
    now: dt.datetime,
) -> int:
    """Say whose a waiting reply is; it then takes its effect for that patient. Returns the
    patient's id."""
    mrn = mrn.strip()
    if not mrn:
        raise InvalidInput([Problem("mrn", "name the patient who sent it (their MRN)")])
    with session_scope(engine) as session:
        reply = _waiting(session, reply_id)
        found = get_patient(session, mrn=mrn, clinic=clinic or None)
        patient = patient_by_mrn(session, actor=actor, mrn=mrn, clinic=found.clinic)
        assert patient.id is not None and reply.id is not None
        kind = Reply(reply.kind)
        latest = latest_text_to(session.connection(), [patient.id])
        target = Target(
            patient.id,
            latest.id if latest is not None and reply.channel == "sms" else None,
            latest.item_id if latest is not None and reply.channel == "sms" else None,
            patient.clinic,
        )
        reply.patient_id, reply.reminder_id, reply.item_id = (
            target.patient_id, target.reminder_id, target.item_id,
        )  # fmt: skip
        reply.needs_action = kind in NEEDS_A_NAVIGATOR  # as if the number had been known
        reply.sender = None
        session.add(reply)
        session.flush()
        audit(
            session, actor=actor, action="reply.matched", patient_id=patient.id,
            subject=f"reply:{reply.id}", after={"kind": kind.value, "channel": reply.channel},
            detail=f"{kind.value} by {reply.channel} from an unknown number, matched",
        )  # fmt: skip
        apply_effect(session, reply.id, reply.channel, kind, target, now, actor=actor)
        return patient.id


@change("reply.dismissed")
def dismiss_reply(
    engine: sa.Engine, *, actor: Actor, reply_id: int, note: str, now: dt.datetime
) -> None:
    """A waiting reply nobody needs to act on (a wrong number, spam), with the reason."""
    note = note.strip()
    if not note or len(note) > NOTE_KEPT:
        raise InvalidInput([Problem("note", f"say why it is dismissed (1–{NOTE_KEPT} characters)")])
    with session_scope(engine) as session:
        reply = _waiting(session, reply_id)
        reply.needs_action, reply.sender = False, None
        reply.handled_at, reply.handled_by, reply.handled_note = now, actor.username, note
        session.add(reply)
        audit(
            session, actor=actor, action="reply.dismissed", subject=f"reply:{reply_id}",
            after={"note": note}, detail=f"{reply.kind} by {reply.channel} from an unknown number",
        )  # fmt: skip


def _waiting(session: Session, reply_id: int) -> m.InboundReply:
    reply = session.get(m.InboundReply, reply_id, with_for_update=True)
    if reply is None or reply.patient_id is not None:
        raise NotFound(f"no reply {reply_id} from an unknown number")
    if reply.handled_at is not None or not reply.needs_action:
        raise InvalidInput([Problem("reply", "this reply was already dealt with")])
    return reply
