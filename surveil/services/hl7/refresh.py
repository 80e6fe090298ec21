"""The listener's coalesced refresh: triggers and replan for the patients a burst of results
touched, in one transaction for the whole burst.

A result applied by the listener (``store.apply_message(..., defer_refresh=True)``) is stored,
closes its item and is marked ``refresh_due`` in the transaction that applies it; its ACK follows
that commit. :func:`refresh_due` then re-grades, evaluates the triggers and replans every patient
marked, reading their facts once for the batch (``care.refresh_after_changes``): about a
millisecond a patient, against fifteen for one patient alone. The mark is cleared in the same
transaction, so a listener killed in between leaves it for the next one (``Listener.recover``),
and two listeners on PostgreSQL never take the same marks (``SKIP LOCKED``); the patients' rows
are locked in id order so two refreshes of one patient run one after the other.

A patient whose refresh raises (facts the planner rejects, a bug, a constraint) must not hold
back the others of the burst, nor be retried forever. The batch runs in a savepoint; if it
fails, each half is tried again in its own savepoint, down to the patient that fails
(:func:`_isolate`), and the others are refreshed and committed as usual. The failing patient's
messages keep their mark, count the attempt and wait ``BACKOFF * 2**(attempts-1)`` before the
next; after ``MAX_ATTEMPTS`` they leave the refresh for the navigators' queue as
``refresh_failed``, the reason in words, audited. The result itself stays stored; a navigator
retries the refresh from the queue once the cause is fixed (``queue.apply_queued``). The
database failing as a whole (gone, a deadlock) is not the patient's fault: it propagates, and
the whole batch is retried later without counting an attempt.
"""

import datetime as dt
import logging
from collections.abc import Sequence

import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.config import Settings
from surveil.db import models as m
from surveil.db.base import utcnow
from surveil.db.hl7 import Hl7Message
from surveil.db.session import read_scope, session_scope
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.entry import change
from surveil.services.planning import care

log = logging.getLogger(__name__)

BATCH = 500
MAX_ATTEMPTS = 5
# The wait after the first failure, doubled after each: 10 s, 20 s, 40 s, 80 s, then queued,
# about two and a half minutes after the result came (a passing cause has cleared by then).
BACKOFF = dt.timedelta(seconds=10)
# Errors of the database as a whole, not of one patient's facts: never counted against it.
TRANSIENT = (sa.exc.OperationalError, sa.exc.InterfaceError)


@change("hl7.refreshed", "hl7.refresh_failed", *care.CONSEQUENCES)
def refresh_due(
    engine: sa.Engine,
    *,
    actor: Actor,
    settings: Settings,
    today: dt.date,
    limit: int = BATCH,
    now: dt.datetime | None = None,
) -> int:
    """Run the triggers and replan of the patients whose results wait for it (at most
    ``limit`` messages, those whose retry time has come); returns how many messages were
    refreshed (0: nothing was due, or only patients whose refresh failed again)."""
    now = now or utcnow()
    with session_scope(engine) as session:
        due = session.execute(
            sa.select(
                col(Hl7Message.id), col(Hl7Message.patient_id), col(Hl7Message.refresh_attempts)
            )
            .where(
                col(Hl7Message.refresh_due),
                sa.or_(
                    col(Hl7Message.refresh_retry_at).is_(None),
                    col(Hl7Message.refresh_retry_at) <= now,
                ),
            )
            .order_by(col(Hl7Message.id))
            .limit(limit)
            .with_for_update(skip_locked=True)  # compiled away on SQLite (BEGIN IMMEDIATE)
        ).all()
        if not due:
            return 0
        ids = sorted({patient_id for _, patient_id, _ in due if patient_id is not None})
        patients = list(
            session.exec(
                select(m.Patient)
                .where(col(m.Patient.id).in_(ids))
                .order_by(col(m.Patient.id))
                .with_for_update(key_share=True)  # FOR NO KEY UPDATE: inserts citing it go on
            )
        )
        failed = _isolate(session, patients, settings, today, actor) if patients else {}
        done = [message_id for message_id, patient_id, _ in due if patient_id not in failed]
        session.execute(
            sa.update(Hl7Message)
            .where(col(Hl7Message.id).in_(done))
            .values(refresh_due=False, refresh_retry_at=None)
        )
        for message_id, patient_id, attempts in due:
            if patient_id in failed:
                _failed(
                    session, actor, message_id, patient_id, attempts + 1, failed[patient_id], now
                )
        refreshed = len(patients) - len(failed)
        audit(
            session,
            actor=actor,
            action="hl7.refreshed",
            detail=f"triggers and plan re-run for {refreshed} patient(s) "
            f"after {len(done)} HL7 result message(s)"
            + (f"; {len(failed)} patient(s) failed, retried later" if failed else ""),
        )
        return len(done)


def _isolate(
    session: Session,
    patients: Sequence[m.Patient],
    settings: Settings,
    today: dt.date,
    actor: Actor,
) -> dict[int, Exception]:
    """Refresh ``patients`` in a savepoint; if that fails, each half in its own, down to the
    patients that fail alone. Returns those patients' ids and their errors (the savepoints
    of the others are kept). One poisoned patient in n costs about 2·log2(n) batch refreshes."""
    try:
        with session.begin_nested():
            care.refresh_after_changes(
                session,
                patients=list(patients),
                settings=settings,
                today=today,
                channel=actor.channel,
            )
        return {}
    except TRANSIENT:
        raise
    except Exception as error:  # noqa: BLE001  (any cause: isolated, counted, queued)
        if len(patients) == 1:
            return {patients[0].id or 0: error}
        half = len(patients) // 2
        return _isolate(session, patients[:half], settings, today, actor) | _isolate(
            session, patients[half:], settings, today, actor
        )


def _failed(
    session: Session,
    actor: Actor,
    message_id: int,
    patient_id: int,
    attempts: int,
    error: Exception,
    now: dt.datetime,
) -> None:
    """Count the failed attempt; wait before the next, or, after the last, queue the message."""
    # The error's type only: its words may quote the patient's facts (no PHI in logs).
    log.warning(
        "hl7 refresh after message %s failed (attempt %s of %s): %s",
        message_id,
        attempts,
        MAX_ATTEMPTS,
        type(error).__name__,
    )
    if attempts < MAX_ATTEMPTS:
        session.execute(
            sa.update(Hl7Message)
            .where(col(Hl7Message.id) == message_id)
            .values(refresh_attempts=attempts, refresh_retry_at=now + BACKOFF * 2 ** (attempts - 1))
        )
        return
    reason = (
        f"the result is stored, but the triggers and plan could not be re-run after it "
        f"({attempts} attempts; {type(error).__name__}: {str(error).strip()[:400]}). "
        "Fix the cause (the patient's record, an override), then apply it again to re-run them."
    )
    session.execute(
        sa.update(Hl7Message)
        .where(col(Hl7Message.id) == message_id)
        .values(
            state="refresh_failed",
            reason=reason[:1000],
            refresh_due=False,
            refresh_attempts=attempts,
            refresh_retry_at=None,
            processed_at=now,
        )
    )
    audit(
        session,
        actor=actor,
        action="hl7.refresh_failed",
        patient_id=patient_id,
        subject=f"hl7:{message_id}",
        after={"state": "refresh_failed", "attempts": attempts},
        detail=f"HL7 message {message_id}: triggers and plan failed {attempts} times "
        f"({type(error).__name__}); queued for a navigator",
    )


def next_retry(engine: sa.Engine) -> dt.datetime | None:
    """When the earliest refresh waiting after a failure may run again (None: none waits)."""
    with read_scope(engine) as session:
        earliest: dt.datetime | None = session.execute(
            sa.select(sa.func.min(col(Hl7Message.refresh_retry_at))).where(
                col(Hl7Message.refresh_due), col(Hl7Message.refresh_retry_at).is_not(None)
            )
        ).scalar_one()
        return earliest


def refresh_all_due(engine: sa.Engine, *, actor: Actor, settings: Settings, today: dt.date) -> int:
    """:func:`refresh_due` until nothing is due; returns how many messages were refreshed."""
    total = 0
    while done := refresh_due(engine, actor=actor, settings=settings, today=today):
        total += done
    return total
