"""Patients' answers to reminders (issue 18 point 3): a text message through the provider's
inbound webhook, or a click on a link in a reminder e-mail. Each is applied once, with its audit
row, in one transaction:

* **confirm** records the patient's confirmation on the reply row, against the reminder and its
  item (the message history shows it);
* **call me** ("can't make it") and **unrecognised** texts go to the navigators' worklist
  (section ``replies``) until someone marks them handled with a note;
* **stop** opts the patient out of that channel at once (``channel_opt_out``: the send-time
  check and the ``sending`` mark both refuse while it exists), and tells the navigators;
* **start** (texts only) opts them back in.

Applied once: every reply row has a unique ``dedupe_key`` (the provider's message id, or the
hash of the link token) and is inserted with ON CONFLICT DO NOTHING before anything else, so a
provider's retry after a crash, a replayed webhook or a second click change nothing. A crash
before the commit leaves nothing, and the provider's retry applies it then.

The actor is ``system``, channel ``sms`` for a text and ``web`` for a link: the patient has no
account.
"""

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from surveil.core.digits import is_digits
from surveil.core.replies import Reply, classify
from surveil.core.vocab import Channel
from surveil.db import claims
from surveil.db import models as m
from surveil.db.reply_words import replies_to as replies_to  # the history reads it from here
from surveil.db.session import session_scope
from surveil.errors import InvalidInput, Problem
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.entry import change
from surveil.services.reminders.faults import failpoint
from surveil.services.users.accounts import visible_patient

R = claims.R
Q: sa.Table = m.InboundReply.__table__  # type: ignore[attr-defined]
OPT_OUT: sa.Table = m.ChannelOptOut.__table__  # type: ignore[attr-defined]
P: sa.Table = m.Patient.__table__  # type: ignore[attr-defined]
TEXT_KEPT = 480
NOTE_KEPT = 500
NEEDS_A_NAVIGATOR = frozenset({Reply.CALL_ME, Reply.UNRECOGNISED, Reply.STOP})
ACTIONS = {
    Reply.CONFIRM: "reply.confirmed",
    Reply.CALL_ME: "reply.call_me",
    Reply.STOP: "reply.stopped",
    Reply.START: "reply.started",
    Reply.UNRECOGNISED: "reply.unrecognised",
}
_PHONE_NOISE = re.compile(r"[\s().-]")


@dataclass(frozen=True)
class ReplyOutcome:
    """``applied``; ``duplicate`` (this message id or link was seen before: nothing changed);
    ``unmatched`` (no patient has this number: kept, but nobody to act for)."""

    status: str
    kind: Reply
    reply_id: int | None = None
    patient_id: int | None = None


@dataclass(frozen=True)
class Target:
    """Whom a reply is about: the patient, and the reminder and item it answers."""

    patient_id: int | None
    reminder_id: int | None
    item_id: int | None
    clinic: str = ""


def normalise_phone(raw: str) -> str:
    """ "+44 7700 900123", "0044-7700-900123" -> "+447700900123" (patients' numbers are stored in
    that form: ``registry.patients``)."""
    number = _PHONE_NOISE.sub("", raw.strip())
    if number.startswith("00"):
        number = "+" + number[2:]
    return number


@change(*ACTIONS.values(), "reply.unmatched")
def receive_sms(
    engine: sa.Engine, *, message_id: str, sender: str, text: str, now: dt.datetime
) -> ReplyOutcome:
    """Apply one inbound text (already verified as the provider's) once per ``message_id``."""
    problems = []
    if not message_id.strip() or len(message_id) > 190:
        problems.append(Problem("id", "the provider's message id is required (≤ 190 characters)"))
    if not is_digits(normalise_phone(sender).lstrip("+")):
        problems.append(Problem("from", "not a phone number"))
    if problems:
        raise InvalidInput(problems, what="inbound message")
    kind = classify(text)
    with session_scope(engine) as session:
        target = _sms_target(session, normalise_phone(sender))
        outcome = apply_reply(
            session, f"sms:{message_id.strip()}", "sms", kind, target, now, text=text,
            actor=Actor.system(Channel.SMS, clinic=target.clinic), sender=normalise_phone(sender),
        )  # fmt: skip
        failpoint("reply_before_commit")
    failpoint("reply_after_commit")
    return outcome


def _sms_target(session: Session, phone: str) -> Target:
    """The patient whose number it is; with several (a shared family phone), the one most
    recently texted. The reply answers the latest text sent to that number."""
    connection = session.connection()
    patients = {
        row.id: row.clinic
        for row in connection.execute(sa.select(P.c.id, P.c.clinic).where(P.c.phone == phone))
    }
    if not patients:
        return Target(None, None, None)
    latest = latest_text_to(connection, list(patients))
    if latest is not None:
        return Target(latest.patient_id, latest.id, latest.item_id, patients[latest.patient_id])
    if len(patients) == 1:  # never texted by us, but only one person has the number
        (pid, clinic), *_ = patients.items()
        return Target(pid, None, None, clinic)
    return Target(None, None, None)  # several people, none texted: nobody to act for


def latest_text_to(connection: sa.Connection, patient_ids: list[int]) -> Any:
    """The last reminder sent by text to any of these patients (id, patient_id, item_id)."""
    return connection.execute(
        sa.select(R.c.id, R.c.patient_id, R.c.item_id)
        .where(
            R.c.patient_id.in_(patient_ids),
            R.c.channel == "sms",
            R.c.state == m.ReminderState.SENT,
        )
        .order_by(R.c.sent_at.desc(), R.c.id.desc())
        .limit(1)
    ).first()


def apply_reply(
    session: Session,
    dedupe_key: str,
    channel: str,
    kind: Reply,
    target: Target,
    now: dt.datetime,
    *,
    actor: Actor,
    text: str = "",
    sender: str = "",
) -> ReplyOutcome:
    """Insert the reply (once per ``dedupe_key``) and make its effect, with its audit row. A
    reply nobody's number matched keeps ``sender`` and waits for a navigator
    (``unmatched_replies``): it may be a patient writing from a new phone."""
    connection = session.connection()
    unmatched = target.patient_id is None
    inserted = connection.execute(
        claims.insert_for(connection, Q)
        .values(
            dedupe_key=dedupe_key[:200], channel=channel, kind=kind.value,
            patient_id=target.patient_id, reminder_id=target.reminder_id,
            item_id=target.item_id, text=text.strip()[:TEXT_KEPT], received_at=now,
            needs_action=unmatched or kind in NEEDS_A_NAVIGATOR, handled_note="",
            sender=sender[:32] if unmatched and sender else None,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(Q.c.id)
    ).scalar()  # fmt: skip
    if inserted is None:
        return ReplyOutcome("duplicate", kind, None, target.patient_id)
    if unmatched:
        audit(session, actor=actor, action="reply.unmatched", subject=f"reply:{inserted}",
              detail=f"{kind.value} by {channel} from no known patient")  # fmt: skip
        return ReplyOutcome("unmatched", kind, inserted, None)
    apply_effect(session, inserted, channel, kind, target, now, actor=actor)
    return ReplyOutcome("applied", kind, inserted, target.patient_id)


def apply_effect(
    session: Session,
    reply_id: int,
    channel: str,
    kind: Reply,
    target: Target,
    now: dt.datetime,
    *,
    actor: Actor,
) -> None:
    """What a reply of ``kind`` does for the patient of ``target`` (a STOP stops that channel,
    a START resumes it), with its audit row: on arrival, or once a navigator matched it."""
    assert target.patient_id is not None
    connection = session.connection()
    if kind is Reply.STOP:
        connection.execute(
            claims.insert_for(connection, OPT_OUT)
            .values(patient_id=target.patient_id, channel=channel, since=now, reply_id=reply_id)
            .on_conflict_do_nothing(index_elements=["patient_id", "channel"])
        )
    elif kind is Reply.START:
        connection.execute(
            sa.delete(OPT_OUT).where(
                OPT_OUT.c.patient_id == target.patient_id, OPT_OUT.c.channel == channel
            )
        )
    about = f"reminder {target.reminder_id}" if target.reminder_id else "no reminder"
    audit(
        session, actor=actor, action=ACTIONS[kind], patient_id=target.patient_id,
        subject=f"reply:{reply_id}", after={"kind": kind.value, "channel": channel},
        detail=f"{kind.value} by {channel} ({about}, item {target.item_id})",
    )  # fmt: skip


@change("reply.handled")
def mark_reply_handled(engine: sa.Engine, *, actor: Actor, reply_id: int, note: str) -> None:
    """A navigator dealt with a reply on the worklist (called back, rebooked, noted the STOP)."""
    note = note.strip()
    if not note or len(note) > NOTE_KEPT:
        raise InvalidInput([Problem("note", f"say what was done (1–{NOTE_KEPT} characters)")])
    with session_scope(engine) as session:
        reply = session.get(m.InboundReply, reply_id)
        if reply is None or reply.patient_id is None:
            raise InvalidInput([Problem("reply", f"no reply {reply_id} to handle")])
        visible_patient(session, actor=actor, patient_id=reply.patient_id)
        if reply.handled_at is not None or not reply.needs_action:
            raise InvalidInput([Problem("reply", "this reply was already handled")])
        reply.handled_at = dt.datetime.now(dt.UTC)
        reply.handled_by = actor.username
        reply.handled_note = note
        session.add(reply)
        audit(
            session, actor=actor, action="reply.handled", patient_id=reply.patient_id,
            subject=f"reply:{reply_id}", after={"note": note}, channel=actor.channel,
        )  # fmt: skip
