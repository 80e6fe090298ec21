"""What people do with the outbox: list it, put a failed reminder back in the queue, and see
what a send would do without sending (``--dry-run``).

Listing (it names patients by MRN) and retrying are entry points: each opens its own
transaction, holds a navigator or clinician to their own clinic's reminders, and records its
audit event in that transaction. The dry run reads and renders, shows subjects only (no name,
no address) and changes nothing, so it is not audited."""

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from surveil.config import Settings
from surveil.db import claims
from surveil.db import models as m
from surveil.db.session import session_scope
from surveil.errors import Conflict, InvalidInput, NotFound, Problem
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.entry import audited_read, change
from surveil.services.reminders.planning import effective_policy
from surveil.services.reminders.sending import Deferred, environment, load, prepare
from surveil.services.users.accounts import may_see
from surveil.transports import LogTransport, OutgoingMessage

R = claims.R
P: sa.Table = m.Patient.__table__  # type: ignore[attr-defined]
U: sa.Table = m.User.__table__  # type: ignore[attr-defined]
STATES = tuple(s.value for s in m.ReminderState)
RETRYABLE = (m.ReminderState.FAILED, m.ReminderState.UNKNOWN, m.ReminderState.SUPPRESSED)


@dataclass(frozen=True)
class ReminderView:
    id: int
    state: str
    channel: str
    stage: str
    template: str
    to: str  # "MRN 1234" or "navigator jsmith": never an address
    send_after: dt.datetime
    attempts: int
    next_attempt_at: dt.datetime | None
    sent_at: dt.datetime | None
    last_error: str
    suppressed_reason: str | None
    resent_after_unknown: bool
    urgent: bool


@dataclass(frozen=True)
class PreviewLine:
    id: int
    channel: str
    template: str
    outcome: str  # "send" | "suppress" | "fail" | "wait"
    detail: str  # the subject line, or why not; never the address or the body


def list_reminders(
    engine: sa.Engine, status: str | None = None, *, limit: int = 200
) -> list[ReminderView]:
    """Outbox rows, oldest send time first, optionally in one state (every clinic's: for the
    daemon's tests and tools; people list through ``list_outbox``)."""
    with engine.connect() as connection:
        return [_view(row) for row in connection.execute(_listing(status, limit, None))]


@audited_read("reminders.listed")
def list_outbox(
    engine: sa.Engine, *, actor: Actor, status: str | None = None, limit: int = 200
) -> list[ReminderView]:
    """The reminders ``actor`` may see (an admin every clinic's, others their own clinic's),
    oldest send time first. They name patients by MRN, so the look is audited."""
    query = _listing(status, limit, actor)
    with session_scope(engine) as session:
        rows = [_view(row) for row in session.connection().execute(query)]
        shown = f" in state {status}" if status else ""
        audit(session, actor=actor, action="reminders.listed", detail=f"{len(rows)} rows{shown}")
        return rows


def _listing(status: str | None, limit: int, actor: Actor | None) -> sa.Select[Any]:
    if status is not None and status not in STATES:
        raise InvalidInput(Problem("--status", f"{status!r} is not one of {', '.join(STATES)}"))
    query = (
        sa.select(R, P.c.mrn, U.c.username)
        .select_from(R.outerjoin(P, P.c.id == R.c.patient_id).outerjoin(U, U.c.id == R.c.user_id))
        .order_by(R.c.send_after, R.c.id)
        .limit(limit)
    )
    if status is not None:
        query = query.where(R.c.state == status)
    if actor is not None and not actor.is_admin:
        # A patient's reminders belong to the patient's clinic, a digest to its navigator's.
        query = query.where(sa.func.coalesce(P.c.clinic, U.c.clinic) == actor.clinic)
    return query


@change("reminder.retry")
def retry_reminder(
    engine: sa.Engine, *, actor: Actor, reminder_id: int, now: dt.datetime
) -> ReminderView:
    """Queue a failed, unknown or suppressed reminder again, with a fresh attempt budget.

    It is checked again at send time, so a reminder suppressed for a missing address goes out
    once the address is there, and one for a finished item stays suppressed.
    """
    with session_scope(engine) as session:
        row = session.get(m.Reminder, reminder_id, with_for_update=True)
        if row is None or not _may_touch(session, actor, row):
            raise NotFound(f"no reminder with id {reminder_id} (see: surveil reminders list)")
        if row.state == m.ReminderState.SENT:
            raise Conflict(
                f"reminder {reminder_id} was already sent at {row.sent_at:%Y-%m-%d %H:%M} UTC; "
                "queueing it again would send it twice"
            )
        if row.state not in RETRYABLE:
            raise Conflict(f"reminder {reminder_id} is {row.state}: it is already in the queue")
        previous = row.state
        row.state = m.ReminderState.PENDING
        row.attempts = 0
        row.next_attempt_at = row.lease_owner = row.lease_until = row.suppressed_reason = None
        row.last_error = ""
        row.updated_at = now
        audit(
            session,
            actor=actor,
            action="reminder.retry",
            patient_id=row.patient_id,
            subject=f"reminder:{reminder_id}",
            before={"state": previous},
            after={"state": m.ReminderState.PENDING.value},
            detail=f"reminder {reminder_id} ({row.channel}, {row.stage}) was {previous}",
        )
        session.flush()
        return _view(session.connection().execute(_one(reminder_id)).one())


def _may_touch(session: Session, actor: Actor, row: m.Reminder) -> bool:
    """A patient's reminder is for whoever may see the patient; a navigator's digest for an
    admin or someone of that navigator's clinic."""
    if actor.is_admin:
        return True
    owner = session.get(m.Patient, row.patient_id) if row.patient_id is not None else None
    if owner is not None:
        return may_see(actor, owner)
    user = session.get(m.User, row.user_id) if row.user_id is not None else None
    return user is not None and user.clinic == actor.clinic


def _one(reminder_id: int) -> sa.Select[Any]:
    return (
        sa.select(R, P.c.mrn, U.c.username)
        .select_from(R.outerjoin(P, P.c.id == R.c.patient_id).outerjoin(U, U.c.id == R.c.user_id))
        .where(R.c.id == reminder_id)
    )


def preview_due(
    engine: sa.Engine, settings: Settings, now: dt.datetime, *, limit: int = 100
) -> list[PreviewLine]:
    """What a send round would do now, through the log transport, changing nothing."""
    policy = effective_policy(settings)
    env = environment(settings.paths.templates)
    log = LogTransport()
    lines: list[PreviewLine] = []
    with Session(engine) as session:
        ids = session.scalars(
            sa.select(R.c.id).where(claims.due(now)).order_by(R.c.send_after, R.c.id).limit(limit)
        ).all()
        for reminder_id in ids:
            loaded = load(session, reminder_id)
            if loaded is None:
                continue
            row = loaded.reminder
            try:
                prepared = prepare(session, loaded, settings, policy, env, now)
            except Exception as error:  # noqa: BLE001  (shown as "fail", as a send would record it)
                lines.append(
                    PreviewLine(row.id or 0, row.channel, row.template, "fail", repr(error))
                )
                continue
            if isinstance(prepared, str):
                lines.append(
                    PreviewLine(row.id or 0, row.channel, row.template, "suppress", prepared)
                )
                continue
            if isinstance(prepared, Deferred):
                until = f"the patient's hours: {prepared.until:%Y-%m-%d %H:%M} UTC"
                lines.append(PreviewLine(row.id or 0, row.channel, row.template, "wait", until))
                continue
            address, message = prepared
            log.send(
                OutgoingMessage(
                    row.idempotency_key, address, message.subject, message.text, message.html,
                    message.sms,
                )
            )  # fmt: skip
            lines.append(
                PreviewLine(row.id or 0, row.channel, row.template, "send", message.subject)
            )
        session.rollback()
    return lines


def _view(row: sa.Row[tuple[object, ...]]) -> ReminderView:
    r = row._mapping
    to = f"MRN {r['mrn']}" if r["mrn"] is not None else f"navigator {r['username']}"
    return ReminderView(
        id=r["id"],
        state=r["state"],
        channel=r["channel"],
        stage=r["stage"],
        template=r["template"],
        to=to,
        send_after=r["send_after"].replace(tzinfo=dt.UTC),
        attempts=r["attempts"],
        next_attempt_at=_utc(r["next_attempt_at"]),
        sent_at=_utc(r["sent_at"]),
        last_error=r["last_error"],
        suppressed_reason=r["suppressed_reason"],
        resent_after_unknown=bool(r["resent_after_unknown"]),
        urgent=bool(r["urgent"]),
    )


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    """Rows come back naive (the columns have no zone); every stored instant is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)
