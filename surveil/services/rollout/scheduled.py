"""The daemon leader's job for protocol changes dated later: on ``effective_on`` (in the clinic's
zone), claim the pending activation or rollback, audit it as applied, and replan the clinic with the
reason "protocol 2027.1 activated" (or "... restored"), as the command does for a change in force
the day it is made.

Exactly once, however many daemons share the database: the claim is a conditional update
(``SET applied_at ... WHERE applied_at IS NULL``) in a transaction that first re-checks the leader
lease under the caller's fence. On PostgreSQL a second writer blocks on the row until the first
commits, then finds it applied and updates nothing; SQLite has one writer at a time. The replan
then runs in chunks (each its own transaction, per ``replan_every_patient``); it is idempotent.
A replan that fails (the database went away) hands the claim back, so the next tick starts it
again; a daemon killed part-way leaves it claimed, and ``surveil replan --all`` or each patient's
next refresh finishes it (both plan under the protocol in force).
"""

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.config import Settings
from surveil.core.zones import today_in
from surveil.db.protocol_models import ACTIVATE, ProtocolActivation
from surveil.db.session import session_scope
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.entry import change
from surveil.services.leases import Fence, still_leading
from surveil.services.planning import care
from surveil.services.planning.replan import replan_every_patient


def reason(row: ProtocolActivation) -> str:
    """What each replanned patient's audit event says, as the command's own wording."""
    if row.action == ACTIVATE:
        return f"protocol {row.version} activated"
    return f"protocol {row.version} restored (rollback of {row.previous_version})"


@change("protocol.applied", "plan.replanned_all", "plan.replanned", *care.CONSEQUENCES)
def apply_due_activations(
    engine: sa.Engine, *, actor: Actor, fence: Fence, settings: Settings, now: dt.datetime
) -> int:
    """Apply the clinic's pending protocol changes whose date has come; how many patients changed.

    Several pending rows due at once (the daemon was down across two dates) are all claimed and
    audited, and the clinic is replanned once, under the latest: the protocol in force today."""
    today = today_in(settings.clinic.timezone, now)
    with session_scope(engine) as session:
        if not still_leading(session, fence, now):
            return 0
        claimed = _claim_due(session, settings, today, now, worker=fence.worker)
        for row in claimed:
            audit(
                session,
                actor=actor,
                action="protocol.applied",
                subject=f"protocol_activation:{row.id}",
                before={"version": row.previous_version, "profile": row.previous_profile},
                after={"version": row.version, "profile": row.profile, "applied_on": str(today)},
                detail=f"{row.pack_id} {row.version} {row.profile} in force from "
                f"{row.effective_on}: {reason(row)}; replanning the clinic",
            )
        why = reason(claimed[-1]) if claimed else ""
        ids = [row.id for row in claimed]
    if not claimed:
        return 0
    try:
        result = replan_every_patient(
            engine,
            actor=actor,
            settings=settings,
            today=today,
            why=why,
            clinic=settings.clinic.name,
        )
    except Exception:
        # A database outage part-way: hand the claim back so the next tick replans again
        # (replanning is idempotent); the applied events stay, each says what was started.
        _release(engine, ids, worker=fence.worker)
        raise
    return len(result.changed)


def _release(engine: sa.Engine, ids: list[int | None], *, worker: str) -> None:
    table = ProtocolActivation.__table__  # type: ignore[attr-defined]
    with session_scope(engine) as session:
        session.connection().execute(
            sa.update(table)
            .where(table.c.id.in_(ids), table.c.applied_by == worker)
            .values(applied_at=None, applied_by=None)
        )


def _claim_due(
    session: Session, settings: Settings, today: dt.date, now: dt.datetime, *, worker: str
) -> list[ProtocolActivation]:
    """The pending rows in effect by ``today`` that this transaction claimed, oldest first."""
    due = session.exec(
        select(ProtocolActivation)
        .where(
            ProtocolActivation.clinic == settings.clinic.name,
            ProtocolActivation.pack_id == settings.clinic.pack,
            col(ProtocolActivation.effective_on) <= today,
            col(ProtocolActivation.applied_at).is_(None),
        )
        .order_by(col(ProtocolActivation.effective_on), col(ProtocolActivation.id))
    ).all()
    claimed: list[ProtocolActivation] = []
    table = ProtocolActivation.__table__  # type: ignore[attr-defined]
    for row in due:
        # Conditional: another daemon that claimed it first leaves this update matching nothing.
        done = session.connection().execute(
            sa.update(table)
            .where(table.c.id == row.id, table.c.applied_at.is_(None))
            .values(applied_at=now, applied_by=worker)
        )
        if done.rowcount == 1:
            claimed.append(row)
    return claimed
