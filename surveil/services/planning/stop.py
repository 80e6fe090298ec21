"""Stop everything at once when a patient's follow-up here ends: death, discharge (a transfer to
another centre is recorded as a discharge with that reason) or a merge into another record.

Replanning alone would supersede the *planned* items and leave ordered and booked ones (a person
acting on them) and the trigger's escalation items open: a dead patient's MRI would stay booked
and reminded. Here every open item is cancelled with the reason, every queued reminder of the
patient is suppressed with it, and calendar feeds wind down as they always do (each cancelled
item is shown as cancelled until ``feeds.tokens.retire_feeds`` ends the link).

Run by ``care.refresh_patient`` after every change of a patient's facts, so it holds on every
entry point (a death recorded by ``patient update``, a discharge by ``state set``, a merge);
idempotent: once nothing is open, it does nothing and audits nothing.
"""

from collections.abc import Sequence

from sqlmodel import Session, col, select

from surveil.core.vocab import StateKind
from surveil.db import models as m
from surveil.db.base import utcnow
from surveil.db.bulk_rows import among
from surveil.db.queries import PlannedPatient
from surveil.services.actor import Actor
from surveil.services.audit import audit

STOPPED = "plan.stopped"  # audited as surveil's own consequence of the change that ended care
OPEN_STATES = tuple(s.value for s in m.OPEN_ITEM_STATES)


def why_care_ended(session: Session, patient: m.Patient) -> str | None:
    """Why this patient has no follow-up here any more, or None while they have."""
    if patient.deceased_on is not None:
        return f"the patient died on {patient.deceased_on}"
    state = session.exec(
        select(m.DiseaseState).where(
            m.DiseaseState.patient_id == patient.id,
            col(m.DiseaseState.end_date).is_(None),
            m.DiseaseState.kind == StateKind.DISCHARGED.value,
        )
    ).first()
    if state is not None:
        return _discharge_reason(state)
    return None


def why_care_ended_for(
    session: Session, patients: Sequence[PlannedPatient]
) -> list[tuple[PlannedPatient, str]]:
    """:func:`why_care_ended` for a batch (``replan --all``), in one query for the discharges."""
    ids = [p.id for p in patients]
    discharged: dict[int, m.DiseaseState] = {}
    for start in range(0, len(ids), 500):
        for state in session.exec(
            select(m.DiseaseState).where(
                among(session, m.DiseaseState.patient_id, ids[start : start + 500]),
                col(m.DiseaseState.end_date).is_(None),
                m.DiseaseState.kind == StateKind.DISCHARGED.value,
            )
        ).all():
            discharged.setdefault(state.patient_id, state)
    ended: list[tuple[PlannedPatient, str]] = []
    for patient in patients:
        episode = discharged.get(patient.id or 0)
        if patient.deceased_on is not None:
            ended.append((patient, f"the patient died on {patient.deceased_on}"))
        elif episode is not None:
            ended.append((patient, _discharge_reason(episode)))
    return ended


def with_anything_open(session: Session, patient_ids: list[int]) -> set[int]:
    """Which of ``patient_ids`` still have an open item or a queued reminder: a batch stops only
    those (two queries), instead of looking for each ended patient's open rows one by one."""
    found: set[int] = set()
    for start in range(0, len(patient_ids), 500):
        part = patient_ids[start : start + 500]
        found.update(
            session.exec(
                select(m.FollowUpItem.patient_id).where(
                    among(session, m.FollowUpItem.patient_id, part),
                    col(m.FollowUpItem.state).in_(OPEN_STATES),
                )
            ).all()
        )
        reminded = session.exec(
            select(m.Reminder.patient_id).where(
                among(session, m.Reminder.patient_id, part),
                m.Reminder.state == m.ReminderState.PENDING,
            )
        ).all()
        found.update(pid for pid in reminded if pid is not None)
    return found


def _discharge_reason(state: m.DiseaseState) -> str:
    return f"discharged on {state.start_date}" + (f": {state.reason}" if state.reason else "")


def stop_everything(
    session: Session, *, patient: PlannedPatient, reason: str, actor: Actor
) -> tuple[int, int]:
    """Cancel every open item and suppress every queued reminder of ``patient``, with
    ``reason``; audited once (when anything stopped). Returns (items, reminders)."""
    items = session.exec(
        select(m.FollowUpItem).where(
            m.FollowUpItem.patient_id == patient.id, col(m.FollowUpItem.state).in_(OPEN_STATES)
        )
    ).all()
    now = utcnow()
    for item in items:
        item.state = m.ItemState.CANCELLED
        item.outcome_note = f"cancelled: {reason}"[:500]
        item.sequence += 1  # calendar clients see the cancellation
        item.updated_at = now
        session.add(item)
    reminders = session.exec(
        select(m.Reminder).where(
            m.Reminder.patient_id == patient.id, m.Reminder.state == m.ReminderState.PENDING
        )
    ).all()
    for reminder in reminders:
        reminder.state = m.ReminderState.SUPPRESSED
        reminder.suppressed_reason = reason[:64]
        reminder.updated_at = now
        session.add(reminder)
    if items or reminders:
        audit(
            session,
            actor=actor,
            action=STOPPED,
            patient_id=patient.id,
            subject=f"patient:{patient.id}",
            after={
                "cancelled_items": [i.id for i in items][:50],
                "suppressed_reminders": len(reminders),
            },
            detail=f"follow-up stopped ({reason}): {len(items)} open item(s) cancelled, "
            f"{len(reminders)} queued reminder(s) suppressed"[:1000],
        )
        session.flush()
    return len(items), len(reminders)
