"""The message store: a message is kept before its ACK, applied once, and its state recorded.

``receive`` commits the raw message (or finds the one already stored under the same sender and
MSH-10) before the listener answers. ``apply_message`` then claims it with a conditional UPDATE
(``state = 'received'`` → processing) in the transaction that applies it: on PostgreSQL the row
lock makes a second listener wait and then find the message no longer ``received``; on SQLite
the write lock does the same. So a message is applied once however many listeners, resends or
restarts there are. A message that cannot be applied is rolled back whole and queued, with its
reason, in a transaction of its own. ``apply_pending`` applies what a killed listener stored but
did not apply (it runs when a listener starts).

The listener takes the short way, :func:`receive_and_apply`: the message is stored and applied
in ONE transaction (half the commits, one parse), so what it ACKs is stored and applied
together; a message that cannot be applied is stored as queued instead, and one whose
application failed on surveil's side (a bug, the database) is stored as ``received`` for the
next start to apply, as with ``receive``.
"""

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.config import Settings
from surveil.db.base import utcnow
from surveil.db.hl7 import Hl7Message
from surveil.db.session import session_scope
from surveil.errors import SurveilError
from surveil.services.actor import Actor
from surveil.services.audit import audit, audit_at_once
from surveil.services.entry import change
from surveil.services.hl7 import appliers
from surveil.services.hl7.context import Context, Unapplicable
from surveil.services.hl7.parse import Header, Unreadable, decode, read
from surveil.services.planning import care

log = logging.getLogger(__name__)

ACK_CODES = {"applied": "AA", "dismissed": "AA", "queued": "AE", "rejected": "AR"}


@dataclass(frozen=True)
class Receipt:
    """What the listener needs to answer: the stored message, its state and the reason."""

    message_id: int
    state: str
    reason: str
    header: Header | None
    duplicate: bool
    sha256: str

    @property
    def ack_code(self) -> str:
        return ACK_CODES.get(self.state, "AE")


@change("hl7.received")
def receive(engine: sa.Engine, *, actor: Actor, raw: bytes) -> Receipt:
    """Store one message as it came (committed before the ACK). A message that cannot be read is
    stored as ``rejected`` under its hash, so nothing is dropped; a resend finds the first."""
    digest = hashlib.sha256(raw).hexdigest()
    header: Header | None = None
    state, reason = "received", ""
    try:
        text = decode(raw)
        _, header = read(text)
    except Unreadable as error:
        text = raw.decode("utf-8", errors="replace")
        state, reason, header = "rejected", str(error), error.header
    sender = header.sender if header else "(unreadable)"
    control = header.control_id if header else f"sha256:{digest}"
    # Insert first: a new message (the common case) costs one transaction; a resend hits the
    # unique constraint and is then looked up.
    try:
        with session_scope(engine) as session:
            row = Hl7Message(
                sender=sender,
                control_id=control,
                kind=header.kind if header else "",
                raw=text,
                sha256=digest,
                state=state,
                reason=reason,
                processed_at=utcnow() if state == "rejected" else None,
            )
            session.add(row)
            session.flush()
            audit(
                session,
                actor=actor,
                action="hl7.received",
                subject=f"hl7:{row.id}",
                after={"kind": row.kind, "state": state},
                detail=f"HL7 message {row.id} {row.kind or '(unreadable)'} stored",
            )
            return _receipt(row, header, duplicate=False)
    except sa.exc.IntegrityError:
        # Sent before (a resend), or stored a moment ago by another listener.
        known = _stored(engine, sender, control)
        if known is None:
            raise
        return _receipt(known, header, duplicate=True)


class _Resent(Exception):
    """The message is already stored (same sender and MSH-10): its first copy answers."""


APPLY_ACTIONS = (
    "hl7.applied",
    "hl7.queued",
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


@change("hl7.received", *APPLY_ACTIONS)
def receive_and_apply(
    engine: sa.Engine,
    *,
    actor: Actor,
    raw: bytes,
    settings: Settings,
    today: dt.date,
    defer_refresh: bool = False,
) -> Receipt:
    """``receive`` and ``apply_message`` in one transaction (the listener's way): stored and
    applied are committed together, or the message is stored as queued (cannot be applied) or
    as received (surveil failed: the exception propagates; the next start applies it)."""
    try:
        message, header = read(decode(raw))
    except Unreadable:
        return receive(engine, actor=actor, raw=raw)  # stored as rejected, under its hash
    try:
        with session_scope(engine) as session:
            # On PostgreSQL the row is inserted first: a resend (or another listener's copy)
            # stops there, before the application takes any lock (inserted last, two
            # listeners' copies deadlocked, each holding what the other's application wanted).
            # SQLite has one writer at a time (BEGIN IMMEDIATE), so the row is inserted last,
            # whole: one INSERT instead of an INSERT and an UPDATE; a resend then rolls back.
            first = engine.dialect.name != "sqlite"
            row = _new_row(header, raw, state="received")
            if first:
                _add(session, row)
            context = Context(
                session, actor, settings, today, message, row, defer_refresh=defer_refresh
            )
            words = appliers.apply(context)
            row.state, row.reason, row.processed_at = "applied", words[:1000], utcnow()
            if first:
                _update_outcome(session, row)
            else:
                _add(session, row)
            session.flush()  # an ADT's or SIU's ORM changes first: their audit events lead
            audit_at_once(
                session.connection(),
                actor=actor,
                action="hl7.applied",
                patient_id=row.patient_id,
                subject=f"hl7:{row.id}",
                after={"kind": row.kind, "state": "applied"},
                detail=f"HL7 message {row.id} {row.kind} stored and applied: {words}"[:1000],
            )
            return _receipt(row, header, duplicate=False)
    except _Resent:
        known = _stored(engine, header.sender, header.control_id)
        if known is None:  # gone between the two reads: cannot happen, rows are never deleted
            raise
        if known.state == "received" and known.id is not None:  # a listener died before applying
            return apply_message(
                engine,
                actor=actor,
                message_id=known.id,
                settings=settings,
                today=today,
                defer_refresh=defer_refresh,
            )
        return _receipt(known, header, duplicate=True)
    except (Unapplicable, SurveilError) as error:
        return _store_queued(engine, actor, raw, header, _why(error), error)
    except Exception:
        receive(engine, actor=actor, raw=raw)  # kept, so nothing ACKed AE is lost either
        raise


def _new_row(header: Header, raw: bytes, *, state: str) -> Hl7Message:
    return Hl7Message(
        sender=header.sender,
        control_id=header.control_id,
        kind=header.kind,
        raw=decode(raw),
        sha256=hashlib.sha256(raw).hexdigest(),
        state=state,
    )


_TABLE: sa.Table = Hl7Message.__table__  # type: ignore[attr-defined]
_STORED = [c.name for c in _TABLE.c if c.name != "id"]
_INSERT = sa.insert(_TABLE).returning(_TABLE.c.id)
_OUTCOME = ("state", "reason", "processed_at", "patient_id", "refresh_due")
_UPDATE_OUTCOME = (
    sa.update(_TABLE)
    .where(_TABLE.c.id == sa.bindparam("message_id"))
    .values({name: sa.bindparam(name) for name in _OUTCOME})
)


def _add(session: Session, row: Hl7Message) -> None:
    """Insert the message (a Core INSERT of the row's values, its compiled form cached: the
    listener's hot path; ``row`` stays outside the session, its id set). The unique (sender,
    MSH-10) says it was stored before (a resend, or another listener a moment ago: PostgreSQL
    makes this insert wait for that one's commit)."""
    values = {name: getattr(row, name) for name in _STORED}
    try:
        row.id = session.connection().execute(_INSERT, values).scalar_one()
    except sa.exc.IntegrityError:
        raise _Resent from None


def _update_outcome(session: Session, row: Hl7Message) -> None:
    """Write what applying a message inserted first (by :func:`_add`) settled about it."""
    values = {name: getattr(row, name) for name in _OUTCOME}
    session.connection().execute(_UPDATE_OUTCOME, {"message_id": row.id, **values})


def _store_queued(
    engine: sa.Engine, actor: Actor, raw: bytes, header: Header, reason: str, error: Exception
) -> Receipt:
    """The application was rolled back whole: store the message queued, with why."""
    try:
        with session_scope(engine) as session:
            row = _new_row(header, raw, state="queued")
            row.reason, row.processed_at = reason[:1000], utcnow()
            row.patient_id = getattr(error, "patient_id", None)
            _add(session, row)
            audit(
                session,
                actor=actor,
                action="hl7.queued",
                patient_id=row.patient_id,
                subject=f"hl7:{row.id}",
                after={"kind": row.kind, "state": "queued"},
                detail=f"HL7 message {row.id} {row.kind} stored and queued for a navigator",
            )
            return _receipt(row, header, duplicate=False)
    except _Resent:  # another listener stored it a moment ago
        known = _stored(engine, header.sender, header.control_id)
        assert known is not None
        return _receipt(known, header, duplicate=True)


def _stored(engine: sa.Engine, sender: str, control: str) -> Hl7Message | None:
    with session_scope(engine) as session:
        return session.exec(
            select(Hl7Message).where(Hl7Message.sender == sender, Hl7Message.control_id == control)
        ).first()


def _receipt(row: Hl7Message, header: Header | None, *, duplicate: bool) -> Receipt:
    assert row.id is not None
    return Receipt(row.id, row.state, row.reason, header, duplicate, row.sha256)


@change(*APPLY_ACTIONS)
def apply_message(
    engine: sa.Engine,
    *,
    actor: Actor,
    message_id: int,
    settings: Settings,
    today: dt.date,
    defer_refresh: bool = False,
) -> Receipt:
    """Apply a stored ``received`` message once (or return its state if it is no longer
    ``received``); what cannot be applied is queued for a navigator with the reason. With
    ``defer_refresh`` a result's triggers and replan are left marked for ``refresh.refresh_due``
    (the listener's coalesced refresh) instead of run here."""
    try:
        with session_scope(engine) as session:
            row = _claim(session, message_id)
            if row is None:
                return _current(engine, message_id)
            message, header = read(row.raw or "")
            context = Context(
                session, actor, settings, today, message, row, defer_refresh=defer_refresh
            )
            words = appliers.apply(context)
            row.state, row.reason, row.processed_at = "applied", words, utcnow()
            audit(
                session,
                actor=actor,
                action="hl7.applied",
                patient_id=row.patient_id,
                subject=f"hl7:{row.id}",
                after={"state": "applied"},
                detail=f"HL7 message {row.id} {row.kind} applied: {words}"[:1000],
            )
            return _receipt(row, header, duplicate=False)
    except (Unapplicable, SurveilError, Unreadable) as error:
        return _queue(engine, actor, message_id, _why(error), getattr(error, "patient_id", None))


def _why(error: Exception) -> str:
    return str(error).strip() or type(error).__name__


def _claim(session: Session, message_id: int) -> Hl7Message | None:
    """Take the message if it is still ``received``: the UPDATE locks the row (PostgreSQL) or the
    database (SQLite) until this transaction ends, so no other listener applies it too."""
    claimed = session.execute(
        sa.update(Hl7Message)
        .where(col(Hl7Message.id) == message_id, col(Hl7Message.state) == "received")
        .values(processed_at=utcnow())
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return session.get(Hl7Message, message_id)


def _current(engine: sa.Engine, message_id: int) -> Receipt:
    with session_scope(engine) as session:
        row = session.get(Hl7Message, message_id)
        assert row is not None
        header = _header_of(row)
        return _receipt(row, header, duplicate=True)


def _header_of(row: Hl7Message) -> Header | None:
    try:
        return read(row.raw or "")[1]
    except Unreadable as error:
        return error.header


def _queue(
    engine: sa.Engine, actor: Actor, message_id: int, reason: str, patient_id: int | None
) -> Receipt:
    """The application was rolled back whole: keep the message for a navigator, with why."""
    with session_scope(engine) as session:
        claimed = session.execute(
            sa.update(Hl7Message)
            .where(col(Hl7Message.id) == message_id, col(Hl7Message.state) == "received")
            .values(
                state="queued", reason=reason[:1000], processed_at=utcnow(), patient_id=patient_id
            )
        )
        row = session.get(Hl7Message, message_id)
        assert row is not None
        if claimed.rowcount == 1:  # type: ignore[attr-defined]
            audit(
                session,
                actor=actor,
                action="hl7.queued",
                patient_id=patient_id,
                subject=f"hl7:{row.id}",
                after={"state": "queued"},
                detail=f"HL7 message {row.id} {row.kind} queued for a navigator",
            )
        return _receipt(row, _header_of(row), duplicate=claimed.rowcount != 1)  # type: ignore[attr-defined]


def pending_ids(engine: sa.Engine, *, limit: int = 1000) -> list[int]:
    """Messages stored but not applied (a listener was killed between its commit and the
    apply): the listener applies them when it starts."""
    with session_scope(engine) as session:
        rows = session.exec(
            select(Hl7Message.id)
            .where(Hl7Message.state == "received")
            .order_by(col(Hl7Message.id))
            .limit(limit)
        ).all()
        return [i for i in rows if i is not None]


@change("hl7.purged")
def purge_raw(engine: sa.Engine, *, actor: Actor, days: int, now: dt.datetime) -> int:
    """Clear the raw text of messages handled more than ``days`` ago (the retention time); the
    row, its hash and its state stay. Messages still waiting for a navigator are kept whole."""
    cutoff = now - dt.timedelta(days=days)
    with session_scope(engine) as session:
        cleared = session.execute(
            sa.update(Hl7Message)
            .where(
                col(Hl7Message.received_at) < cutoff,
                col(Hl7Message.raw).is_not(None),
                col(Hl7Message.state).in_(("applied", "rejected", "dismissed")),
            )
            .values(raw=None)
        ).rowcount  # type: ignore[attr-defined]
        if cleared:
            audit(
                session,
                actor=actor,
                action="hl7.purged",
                detail=f"raw text of {cleared} HL7 message(s) older than {days} days cleared",
            )
        return int(cleared)
