"""The daemon leader's reminder jobs as entry points: plan the reminders that are due, and
queue the navigators' daily digest.

Each opens its own transaction, first checks that the caller still holds the leader lease
under its fence (a daemon that lost it while paused writes nothing), then inserts its outbox
rows and, when it added any, one audit event saying how many, in that same transaction. One
event per round rather than per row: the rows are message intents, not changes to a patient's
record, and every send, retry and suppression of each is kept in the delivery ledger.
"""

import datetime as dt

import sqlalchemy as sa

from surveil.config import Settings
from surveil.db.session import session_scope
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.entry import change
from surveil.services.leases import Fence, still_leading
from surveil.services.reminders.digest import send_digest
from surveil.services.reminders.planning import plan_reminders


@change("reminders.planned")
def plan_due_reminders(
    engine: sa.Engine, *, actor: Actor, fence: Fence, settings: Settings, now: dt.datetime
) -> int:
    """Insert the reminder rows due at ``now`` that are not there yet; how many were new."""
    with session_scope(engine) as session:
        if not still_leading(session, fence, now):
            return 0
        added = plan_reminders(session, settings, now)
        if added:
            detail = f"{added} reminder(s) queued"
            audit(session, actor=actor, action="reminders.planned", detail=detail)
        return added


@change("digest.queued")
def queue_digests(
    engine: sa.Engine, *, actor: Actor, fence: Fence, settings: Settings, now: dt.datetime
) -> int:
    """Queue today's digest for every navigator once the digest time has passed; rows added."""
    with session_scope(engine) as session:
        if not still_leading(session, fence, now):
            return 0
        added = send_digest(session, settings, now)
        if added:
            detail = f"{added} navigator digest(s) queued"
            audit(session, actor=actor, action="digest.queued", detail=detail)
        return added
