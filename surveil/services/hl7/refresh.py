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
"""

import datetime as dt

import sqlalchemy as sa
from sqlmodel import col, select

from surveil.config import Settings
from surveil.db import models as m
from surveil.db.hl7 import Hl7Message
from surveil.db.session import session_scope
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.entry import change
from surveil.services.planning import care

BATCH = 500


@change("hl7.refreshed", *care.CONSEQUENCES)
def refresh_due(
    engine: sa.Engine, *, actor: Actor, settings: Settings, today: dt.date, limit: int = BATCH
) -> int:
    """Run the triggers and replan of the patients whose results wait for it (at most
    ``limit`` messages); returns how many messages were refreshed (0: nothing was due)."""
    with session_scope(engine) as session:
        due = session.execute(
            sa.select(col(Hl7Message.id), col(Hl7Message.patient_id))
            .where(col(Hl7Message.refresh_due))
            .order_by(col(Hl7Message.id))
            .limit(limit)
            .with_for_update(skip_locked=True)  # compiled away on SQLite (BEGIN IMMEDIATE)
        ).all()
        if not due:
            return 0
        session.execute(
            sa.update(Hl7Message)
            .where(col(Hl7Message.id).in_([message_id for message_id, _ in due]))
            .values(refresh_due=False)
        )
        ids = sorted({patient_id for _, patient_id in due if patient_id is not None})
        patients = list(
            session.exec(
                select(m.Patient)
                .where(col(m.Patient.id).in_(ids))
                .order_by(col(m.Patient.id))
                .with_for_update(key_share=True)  # FOR NO KEY UPDATE: inserts citing it go on
            )
        )
        if patients:
            care.refresh_after_changes(
                session, patients=patients, settings=settings, today=today, channel=actor.channel
            )
        audit(
            session,
            actor=actor,
            action="hl7.refreshed",
            detail=f"triggers and plan re-run for {len(patients)} patient(s) "
            f"after {len(due)} HL7 result message(s)",
        )
        return len(due)


def refresh_all_due(engine: sa.Engine, *, actor: Actor, settings: Settings, today: dt.date) -> int:
    """:func:`refresh_due` until nothing is due; returns how many messages were refreshed."""
    total = 0
    while done := refresh_due(engine, actor=actor, settings=settings, today=today):
        total += done
    return total
