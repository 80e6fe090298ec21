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
from sqlmodel import col, select

from surveil.config import Settings
from surveil.db import models as m
from surveil.db.session import read_scope, session_scope
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
    """Insert the reminder rows due at ``now`` that are not there yet; how many were new.

    One transaction per ``PATIENTS_PER_TRANSACTION`` patients (issue 19): the first round on a
    big registry queues tens of thousands of rows, and one transaction holding SQLite's write
    lock for all of them made the daemon's own jobs and the web app fail with "database is
    locked". Each chunk re-checks the lease and audits what it queued; a round cut short by a
    lost lease keeps what it committed (the next leader's round inserts only what is missing).
    """
    added = 0
    for patients in _patient_ranges(engine):
        with session_scope(engine) as session:
            if not still_leading(session, fence, now):
                return added
            queued = plan_reminders(session, settings, now, patients)
            if queued:
                detail = f"{queued} reminder(s) queued"
                audit(session, actor=actor, action="reminders.planned", detail=detail)
        added += queued
    return added


# Under ~0.3 s holding SQLite's write lock on a loaded machine (~300 rows on the demo registry).
PATIENTS_PER_TRANSACTION = 500
LAST_ID = 2**31 - 1  # the largest id an INTEGER column holds (PostgreSQL's int4)


def _patient_ranges(engine: sa.Engine) -> list[tuple[int, int]]:
    """Inclusive (first, last) patient-id ranges of ``PATIENTS_PER_TRANSACTION`` patients; one
    open-ended range catches patients enrolled while the round runs."""
    with read_scope(engine) as session:
        ids = list(session.exec(select(m.Patient.id).order_by(col(m.Patient.id))))
    step = PATIENTS_PER_TRANSACTION
    cuts = [ids[i] or 0 for i in range(step - 1, len(ids) - 1, step)]  # last id of each chunk
    return list(zip([0, *(cut + 1 for cut in cuts)], [*cuts, LAST_ID], strict=True))


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
