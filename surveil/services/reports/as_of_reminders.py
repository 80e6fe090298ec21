"""The worklist's "Reminders that failed" as it was at a past moment (issue 20, point 4).

Each reminder is replayed from its delivery ledger and the audited retries
(``core.reminder_as_of``). Only reminders with a ``failed`` or ``unknown`` attempt closed by
the moment can have stood on the list then, so only those are read and replayed: the many
reminders that went out first time are never loaded.
"""

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, Protocol

import sqlalchemy as sa

from surveil.core.reminder_as_of import (
    ON_THE_WORKLIST,
    LedgerRow,
    ReminderThen,
    Retry,
    reminder_then,
)
from surveil.db import claims
from surveil.db import models as m
from surveil.services.worklist.rows import WorkRow, reminder_row

R, L = m.Reminder.__table__.c, m.DeliveryAttempt.__table__.c  # type: ignore[attr-defined]
A = m.AuditEvent.__table__.c  # type: ignore[attr-defined]
ITEM: sa.Table = m.FollowUpItem.__table__  # type: ignore[attr-defined]
SWEPT = {claims.SWEPT_RESPONSE: claims.SWEPT_ERROR}
_CHUNK = 500  # ids in one IN list


class PatientThen(Protocol):
    """The patient columns a reminder row shows (``as_of._Patient`` has them)."""

    @property
    def patient_id(self) -> int: ...
    @property
    def mrn(self) -> str: ...
    @property
    def family_name(self) -> str: ...
    @property
    def given_name(self) -> str: ...
    @property
    def timezone(self) -> str: ...


class _Shown(NamedTuple):
    patient_id: int
    mrn: str
    family_name: str
    given_name: str
    reminder_id: int
    stage: str
    channel: str
    state: str
    last_error: str
    send_after: dt.datetime
    attempts: int
    kind: str | None
    timezone: str


def reminders_then(
    db: sa.Connection,
    at: dt.datetime,
    patients: Callable[[list[int]], Mapping[int, PatientThen]],
    kind: str | None,
) -> list[tuple[tuple[Any, ...], WorkRow]]:
    """The rows of "Reminders that failed" at ``at`` (and of one item kind) for the patients
    that ``patients`` finds among the ids it is given (those the worklist showed then), each with
    its sort key (the live section's: send time, then id)."""
    ended_badly = (
        sa.select(L.reminder_id)
        .where(L.status.in_(ON_THE_WORKLIST), L.finished_at <= at)
        .distinct()
        .subquery()
    )
    stmt = (
        sa.select(R.id, R.patient_id, R.stage, R.channel, R.state, R.send_after, ITEM.c.kind)
        .join(ended_badly, ended_badly.c.reminder_id == R.id)
        .outerjoin(ITEM, ITEM.c.id == R.item_id)
        .where(R.patient_id.is_not(None), R.created_at <= at)
    )
    candidates = [r for r in db.execute(stmt).all() if kind is None or r.kind == kind]
    shown = patients([r.patient_id for r in candidates]) if candidates else {}
    found = [r for r in candidates if r.patient_id in shown]
    ids = [r.id for r in found]
    ledgers, retries = _ledgers(db, ids), _retries(db, ids)
    out = []
    for r in found:
        then = reminder_then(
            ledgers.get(r.id, []), retries.get(r.id, []), moment=at, state_now=r.state, swept=SWEPT
        )
        if then.state in ON_THE_WORKLIST:
            row = _shown(r, shown[r.patient_id], then)
            out.append(((_utc(r.send_after), r.id), reminder_row(row)))
    return out


def _shown(r: Any, p: PatientThen, then: ReminderThen) -> _Shown:
    return _Shown(
        patient_id=p.patient_id,
        mrn=p.mrn,
        family_name=p.family_name,
        given_name=p.given_name,
        reminder_id=r.id,
        stage=r.stage,
        channel=r.channel,
        state=then.state,
        last_error=then.last_error,
        send_after=r.send_after,
        attempts=then.attempts,
        kind=r.kind,
        timezone=p.timezone,
    )


def _ledgers(db: sa.Connection, ids: list[int]) -> dict[int, list[LedgerRow]]:
    out: dict[int, list[LedgerRow]] = defaultdict(list)
    columns = (L.reminder_id, L.id, L.started_at, L.finished_at, L.status, L.provider_response)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        rows = db.execute(sa.select(*columns).where(L.reminder_id.in_(chunk)).order_by(L.id))
        for rid, aid, started, finished, status, response in rows:
            row = LedgerRow(aid, _utc(started), _utc(finished), status, response or "")
            out[rid].append(row)
    return out


def _retries(db: sa.Connection, ids: list[int]) -> dict[int, list[Retry]]:
    """The audited retries of these reminders, by reminder id, oldest first. Read by action
    (retries are few) and matched to the reminders here."""
    wanted = set(ids)
    out: dict[int, list[Retry]] = defaultdict(list)
    if not wanted:
        return out
    stmt = (
        sa.select(A.subject, A.at, A.before)
        .where(A.action == "reminder.retry", A.subject.like("reminder:%"))
        .order_by(A.at, A.id)
    )
    for subject, at, before in db.execute(stmt):
        rid = int(subject.split(":", 1)[1])
        if rid in wanted:
            found = str(json.loads(before or "{}").get("state", ""))
            out[rid].append(Retry(_utc(at), found))
    return out


def _utc(value: Any) -> Any:
    """A stored timestamp as an aware UTC instant (SQLite's come back naive)."""
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
