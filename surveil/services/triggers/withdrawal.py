"""Triggers that a struck-out result no longer supports. When a mistyped measurement or marker is
struck out (or corrected), the result triggers (growth, size, RECIST, marker rise) are evaluated
again on the facts that remain; an open trigger that no longer fires is closed by surveil with the
reason, its escalation item, if nobody has acted on it yet, is no longer needed, and what it
did or proposed (``consequences``) is reverted as after a false alarm."""

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
from surveil.services.protocols import protocol_in_force
from surveil.services.triggers import consequences

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
    pack, profile = protocol_in_force(session, settings, today)
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
        outcome = f"withdrawn: {reason}"[:300]
        _withdraw(session, trigger, system, outcome)
        # What the trigger did or proposed goes with it, exactly as for a false alarm: a confirmed
        # move out of surveillance is undone, proposals are declined (the escalation item itself
        # is closed by ``_withdraw``: the finding it was for never existed).
        consequences.revert_consequences(
            session, record=trigger, actor=system, now=utcnow(), why=outcome
        )
    return withdrawn


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
