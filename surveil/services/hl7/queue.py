"""The unmatched queue: every message that could not be applied, for a navigator.

Each entry says what the message means in words (who, what, why it waits). A navigator matches
it to a patient and applies it (the same appliers, in one transaction, audited), retries it after
fixing the record (an item added, a unit settled), or dismisses it with a reason. Nothing is
dropped: a dismissed message stays, with who dismissed it and why. A result whose triggers and
replan failed again and again (``refresh_failed``: the result itself is stored) is applied
again by re-running them, once the cause is fixed.
"""

import datetime as dt
from dataclasses import dataclass

import hl7
import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.config import Settings
from surveil.db import models as m
from surveil.db.base import utcnow
from surveil.db.hl7 import Hl7Message
from surveil.db.session import read_scope, session_scope
from surveil.errors import Conflict, InvalidInput, NotFound, Problem
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.entry import audited_read, change
from surveil.services.hl7.appliers import apply
from surveil.services.hl7.context import Context, Unapplicable
from surveil.services.hl7.parse import Unreadable, component, read, repetition_count, segments
from surveil.services.planning import care
from surveil.services.users.accounts import may_see, visible_patient

# refresh_failed: applied, but its patient's triggers and replan failed too often (refresh.py).
WAITING = ("queued", "rejected", "refresh_failed")
KIND_WORDS = {
    "ORU": "lab result",
    "SIU": "appointment",
    "ADT^A40": "merge of two patients",
    "ADT": "patient details",
}


@dataclass(frozen=True)
class QueuedMessage:
    id: int
    state: str
    kind: str
    meaning: str  # the message in words: what it is and about whom
    reason: str  # why it waits
    patient_id: int | None
    received_at: dt.datetime


@audited_read("hl7.queue.viewed")
def list_queue(
    engine: sa.Engine, *, actor: Actor, limit: int = 200, authority: str = ""
) -> list[QueuedMessage]:
    """The messages waiting for a navigator, oldest first; ``authority`` is
    ``[hl7] identifier_authority``, whose PID-3 identifier the words call the MRN."""
    with read_scope(engine) as session:
        entries = waiting(session, actor=actor, limit=limit, authority=authority)
    with session_scope(engine) as session:
        audit(
            session,
            actor=actor,
            action="hl7.queue.viewed",
            detail=f"unmatched HL7 queue viewed ({len(entries)} message(s))",
        )
    return entries


def waiting(
    session: Session, *, actor: Actor, limit: int, authority: str = ""
) -> list[QueuedMessage]:
    """The first ``limit`` messages waiting that ``actor`` may see, oldest first, inside the
    caller's unit of work (the queue page audits its read; the worklist's section, a view of
    the navigators' day like the rest of that page, does not)."""
    query = (
        select(Hl7Message)
        .outerjoin(m.Patient, col(m.Patient.id) == col(Hl7Message.patient_id))
        .where(*_visible(actor))
        .order_by(col(Hl7Message.id))
        .limit(limit)
    )
    return [_entry(row, authority) for row in session.exec(query).all()]


def waiting_count(session: Session, *, actor: Actor) -> int:
    """How many messages wait that ``actor`` may see (the worklist's count)."""
    query = (
        sa.select(sa.func.count())
        .select_from(Hl7Message)
        .outerjoin(m.Patient, col(m.Patient.id) == col(Hl7Message.patient_id))
        .where(*_visible(actor))
    )
    return int(session.execute(query).scalar_one())


def _visible(actor: Actor) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = [col(Hl7Message.state).in_(WAITING)]
    if not actor.is_admin:
        # Another clinic's patient's messages are not shown; unmatched ones (no patient
        # yet) are, to every navigator of the clinic the listener serves.
        conditions.append(
            sa.or_(col(Hl7Message.patient_id).is_(None), col(m.Patient.clinic) == actor.clinic)
        )
    return conditions


def _entry(row: Hl7Message, authority: str) -> QueuedMessage:
    assert row.id is not None
    words = meaning(row, authority)
    return QueuedMessage(
        row.id, row.state, row.kind, words, row.reason, row.patient_id, row.received_at
    )


def meaning(row: Hl7Message, authority: str = "") -> str:
    """'lab result (ORU^R01) for Ann SMITH, MRN 100234, born 1960-05-01: CgA 120 ug/L'."""
    what = KIND_WORDS.get(row.kind) or KIND_WORDS.get(row.kind.split("^")[0], "message")
    try:
        message, _ = read(row.raw or "")
    except Unreadable:
        return f"unreadable message ({len(row.raw or '')} characters)"
    words = f"{what} ({row.kind})"
    pids = segments(message, "PID")
    if pids:
        pid = pids[0]
        name = f"{component(pid, 5, 2)} {component(pid, 5, 1).upper()}".strip()
        words += f" for {name or 'no name'}, MRN {_mrn(pid, authority) or '?'}"
    results = [
        f"{component(o, 3, 2) or component(o, 3, 1)} {component(o, 5, 1)} {component(o, 6, 1)}"
        for o in segments(message, "OBX")
    ]
    if results:
        words += ": " + ", ".join(r.strip() for r in results)
    return words


def _mrn(pid: hl7.Segment, authority: str) -> str:
    """The PID-3 identifier of the configured assigning authority (as the matching reads it),
    else the first: a hospital sends the national number and its MRN side by side."""
    for repetition in range(1, repetition_count(pid, 3) + 1):
        if authority and component(pid, 3, 4, repetition) == authority:
            return component(pid, 3, 1, repetition)
    return component(pid, 3, 1)


@change("hl7.dismissed")
def dismiss(engine: sa.Engine, *, actor: Actor, message_id: int, reason: str | None) -> str:
    why = (reason or "").strip()
    if not why:
        raise InvalidInput(Problem("reason", "say why the message is dismissed"), what="dismissal")
    with session_scope(engine) as session:
        row = _waiting(session, message_id, actor)
        _closed_by_hand(
            session, row, actor, "dismissed", f"{why[:900]} (was: {row.reason})",
            action="hl7.dismissed", detail=f"HL7 message {row.id} dismissed: {why[:200]}",
            after={"state": "dismissed", "reason": why[:200]},
        )  # fmt: skip
        return f"message {message_id} dismissed"


@change(
    "hl7.applied",
    "hl7.refreshed",
    "marker.recorded",
    "marker.corrected",
    "item.done",
    "item.booked",
    "booking.cancelled",
    "booking.no_show",
    "patient.enrolled",
    "patient.updated",
    *care.CONSEQUENCES,
)
def apply_queued(
    engine: sa.Engine,
    *,
    actor: Actor,
    message_id: int,
    patient_id: int | None,
    settings: Settings,
    today: dt.date,
    item_id: int | None = None,
) -> str:
    """Apply a queued message, to the patient the navigator chose (or as matched by PID-3 when
    ``patient_id`` is None: after the record was fixed) and, for a booking, to the item she
    chose (``item_id``) when several could be meant. Refused with the reason if it still
    cannot be applied; nothing is written then."""
    with session_scope(engine) as session:
        row = _waiting(session, message_id, actor)
        if patient_id is not None:
            visible_patient(session, actor=actor, patient_id=patient_id)  # NotFound otherwise
        if row.state == "refresh_failed":
            return _refresh_again(session, actor, row, settings, today)
        if row.state != "queued":
            raise Conflict(f"message {message_id} is {row.state}: it cannot be applied")
        message, _ = read(row.raw or "")
        context = Context(session, actor, settings, today, message, row, patient_id, item_id)
        try:
            words = apply(context)
        except Unapplicable as error:
            raise InvalidInput(Problem("message", str(error)), what="HL7 message") from None
        _closed_by_hand(
            session, row, actor, "applied", words, action="hl7.applied",
            detail=f"HL7 message {row.id} {row.kind} applied by hand: {words}"[:1000],
        )  # fmt: skip
        return f"message {message_id} applied: {words}"


def _refresh_again(
    session: Session, actor: Actor, row: Hl7Message, settings: Settings, today: dt.date
) -> str:
    """Re-run the triggers and replan that failed after this (stored) result; refused with the
    error's words while they still fail, nothing written then."""
    patient = session.get(m.Patient, row.patient_id) if row.patient_id else None
    if patient is None:
        raise Conflict(f"message {row.id}'s patient is no longer in surveil")
    try:
        with session.begin_nested():
            care.refresh_patient(
                session, patient=patient, settings=settings, today=today, channel=actor.channel
            )
    except (sa.exc.OperationalError, sa.exc.InterfaceError):
        raise
    except Exception as error:  # noqa: BLE001  (any cause: its words go to the navigator)
        why = f"{type(error).__name__}: {str(error).strip()[:300]}"
        raise InvalidInput(
            Problem("message", f"the triggers and plan still cannot be re-run ({why})"),
            what="HL7 message",
        ) from None
    _closed_by_hand(
        session, row, actor, "applied",
        f"triggers and plan re-run by hand after {row.refresh_attempts} failures",
        action="hl7.refreshed", detail=f"HL7 message {row.id}: triggers and plan re-run by hand",
    )  # fmt: skip
    return f"message {row.id}: triggers and plan re-run"


def _closed_by_hand(
    session: Session,
    row: Hl7Message,
    actor: Actor,
    state: str,
    reason: str,
    *,
    action: str,
    detail: str,
    after: dict[str, str] | None = None,
) -> None:
    """A queued message leaves the queue by a navigator's hand, with its audit event."""
    row.state, row.reason = state, reason[:1000]
    row.resolved_by, row.processed_at = actor.username, utcnow()
    session.add(row)
    audit(
        session,
        actor=actor,
        action=action,
        patient_id=row.patient_id,
        subject=f"hl7:{row.id}",
        after=after or {"state": state},
        detail=detail,
    )


def _waiting(session: Session, message_id: int, actor: Actor) -> Hl7Message:
    row = session.get(Hl7Message, message_id)
    patient = session.get(m.Patient, row.patient_id) if row and row.patient_id else None
    if row is None or (patient is not None and not may_see(actor, patient)):
        raise NotFound(f"no HL7 message with id {message_id}")
    if row.state not in WAITING:
        raise Conflict(f"message {message_id} is {row.state}, not waiting in the queue")
    return row
