"""Triggers that a struck-out result no longer supports. When a mistyped measurement or marker is
struck out (or corrected), the result triggers (growth, size, RECIST, marker rise) are evaluated
again on the facts that remain; an open trigger that no longer fires is closed by surveil with the
reason, and its escalation item, if nobody has acted on it yet, is no longer needed."""

import datetime as dt

from sqlmodel import Session, col, select

from surveil.config import Settings
from surveil.core.findings import TriggerKind
from surveil.core.triggers import evaluate_triggers
from surveil.db import models as m
from surveil.db.base import utcnow
from surveil.db.queries import facts_for_patient
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.protocols import active_profile

# The kinds that rest on a measurement or a marker value (the others on grade, symptoms, doses).
RESULT_KINDS = frozenset(
    {TriggerKind.GROWTH_RATE, TriggerKind.SIZE, TriggerKind.RECIST, TriggerKind.MARKER_RISE}
)


def withdraw_unsupported(
    session: Session,
    *,
    patient: m.Patient,
    settings: Settings,
    today: dt.date,
    reason: str,
    actor: Actor,
) -> list[m.Trigger]:
    """Close the patient's open result triggers that the remaining results no longer raise."""
    session.flush()
    pack, profile = active_profile(settings)
    findings = evaluate_triggers(
        facts_for_patient(session, patient),
        profile.thresholds,
        today,
        rule_ref=f"{pack.id} v{pack.version}",
    )
    still = {f.key for f in findings}
    stale = session.exec(
        select(m.Trigger).where(
            m.Trigger.patient_id == patient.id,
            m.Trigger.state != m.TriggerState.RESOLVED,
            col(m.Trigger.kind).in_([k.value for k in RESULT_KINDS]),
        )
    ).all()
    system = Actor.system(channel=actor.channel, clinic=patient.clinic)
    withdrawn = [t for t in stale if t.subject_key not in still]
    for trigger in withdrawn:
        _withdraw(session, trigger, system, f"withdrawn: {reason}"[:300])
    if withdrawn:
        _restore_state(session, patient, withdrawn, system, today)
    return withdrawn


def _restore_state(
    session: Session,
    patient: m.Patient,
    withdrawn: list[m.Trigger],
    system: Actor,
    today: dt.date,
) -> None:
    """A withdrawn trigger that moved the patient out of their pathway (``set_state``) moves them
    back: the episode it opened is closed and the one before it resumes, as a new episode (the
    history keeps both, with why)."""
    current = session.exec(
        select(m.DiseaseState).where(
            m.DiseaseState.patient_id == patient.id, col(m.DiseaseState.end_date).is_(None)
        )
    ).first()
    cause = next(
        (t for t in withdrawn if current and current.reason.startswith(f"trigger #{t.id} (")),
        None,
    )
    if current is None or cause is None:
        return
    before = session.exec(
        select(m.DiseaseState)
        .where(
            m.DiseaseState.patient_id == patient.id,
            col(m.DiseaseState.id) != current.id,
            col(m.DiseaseState.start_date) <= current.start_date,
        )
        .order_by(col(m.DiseaseState.start_date).desc(), col(m.DiseaseState.id).desc())
    ).first()
    if before is None:
        return
    start = max(today, current.start_date)
    current.end_date = start
    session.add(current)
    resumed = m.DiseaseState(
        patient_id=patient.id or 0,
        kind=before.kind,
        start_date=start,
        resection=before.resection,
        reason=f"restored: trigger #{cause.id} was withdrawn ({cause.outcome})"[:500],
    )
    session.add(resumed)
    session.flush()
    audit(
        session,
        actor=system,
        action="state.set",
        patient_id=patient.id,
        subject=f"state:{resumed.id}",
        before={"kind": current.kind, "since": current.start_date},
        after={"kind": resumed.kind, "since": start},
        detail=f"back to {resumed.kind.replace('_', ' ')}: trigger #{cause.id} was withdrawn",
    )


def _withdraw(session: Session, trigger: m.Trigger, system: Actor, outcome: str) -> None:
    before = trigger.state
    now = utcnow()
    trigger.state = m.TriggerState.RESOLVED
    trigger.resolved_by, trigger.resolved_at, trigger.outcome = system.username, now, outcome
    session.add(trigger)
    audit(
        session,
        actor=system,
        action="trigger.withdrawn",
        patient_id=trigger.patient_id,
        subject=f"trigger:{trigger.id}",
        before={"state": before},
        after={"state": trigger.state, "outcome": outcome},
        detail=outcome,
    )
    item = session.get(m.FollowUpItem, trigger.item_id) if trigger.item_id else None
    if item is not None and item.state == m.ItemState.PLANNED:
        item.state = m.ItemState.NOT_NEEDED
        item.outcome_note = outcome[:500]
        session.add(item)
    session.flush()
