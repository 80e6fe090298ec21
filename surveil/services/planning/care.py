"""What happens whenever a patient's facts change: re-grade, re-evaluate triggers, re-plan.

This is the one place that runs "triggers, then plans", for one patient (:func:`refresh_patient`)
or a batch (:func:`refresh_patients`, a chunk of ``replan --all``, driven by
``services.planning.replan``). All of it runs inside the caller's transaction, so a recorded
result and its consequences are committed together or not at all. Triggers come first, because
their consequences (a shorter scan interval, leaving the surveillance pathway) shape the plan.
``channel`` is the channel of the change that caused the refresh: the automatic consequences are
audited as surveil itself on that channel (``services.triggers.escalation``).
"""

import datetime as dt
from dataclasses import dataclass

from sqlmodel import Session, select

from surveil.config import Settings
from surveil.core.vocab import Channel
from surveil.db import models as m
from surveil.db.queries import facts_for_patient, facts_for_patients
from surveil.services.actor import Actor
from surveil.services.planning import stop
from surveil.services.planning.plans import ReplanResult, replan_patients
from surveil.services.triggers.escalation import evaluate_and_escalate

# What a refresh may add to the audit, as surveil itself (``triggers.escalation``, ``stop``):
# entry points that refresh declare these beside their own action.
CONSEQUENCES = ("trigger.fired", "state.set", stop.STOPPED)


@dataclass
class Refresh:
    new_triggers: list[m.Trigger]
    plan: ReplanResult


def refresh_patient(
    session: Session, *, patient: m.Patient, settings: Settings, today: dt.date, channel: Channel
) -> Refresh:
    session.flush()
    _regrade(session, patient)
    triggers = evaluate_and_escalate(
        session, patients=[patient], settings=settings, today=today, channel=channel
    )
    ended = stop.why_care_ended(session, patient)
    if ended is not None:  # death, discharge, merge: nothing stays open (``planning.stop``)
        system = Actor.system(channel=channel, clinic=patient.clinic)
        stop.stop_everything(session, patient=patient, reason=ended, actor=system)
    result = replan_patients(session, patients=[patient], settings=settings, today=today)
    return Refresh(new_triggers=triggers, plan=result)


def refresh_patients(
    session: Session,
    *,
    patients: list[m.Patient],
    settings: Settings,
    today: dt.date,
    channel: Channel,
) -> Refresh:
    """Triggers, then plans, for a batch of patients (a chunk of ``replan --all``); the facts
    are read once for the batch and again only for patients a new trigger moved."""
    facts = facts_for_patients(session, patients)
    created = evaluate_and_escalate(
        session, patients=patients, settings=settings, today=today, facts=facts, channel=channel
    )
    # Stopped patients' facts are read again too: their items were cancelled just now.
    moved = {t.patient_id for t in created} | _stop_where_care_ended(session, patients, channel)
    if moved:
        facts.update(facts_for_patients(session, [p for p in patients if p.id in moved]))
    result = replan_patients(
        session, patients=patients, settings=settings, today=today, facts=facts
    )
    return Refresh(new_triggers=created, plan=result)


def _stop_where_care_ended(
    session: Session, patients: list[m.Patient], channel: Channel
) -> set[int]:
    """Stop everything for the batch's dead and discharged patients, as ``refresh_patient``
    does one at a time, so ``replan --all`` also clears what an older run left open."""
    stopped: set[int] = set()
    ended = stop.why_care_ended_for(session, patients)
    still_open = stop.with_anything_open(session, [p.id or 0 for p, _ in ended])
    for patient, reason in ended:
        if patient.id not in still_open:
            continue  # stopped by an earlier run: nothing left to cancel or audit
        system = Actor.system(channel=channel, clinic=patient.clinic)
        items, reminders = stop.stop_everything(
            session, patient=patient, reason=reason, actor=system
        )
        if items or reminders:
            stopped.add(patient.id or 0)
    return stopped


def _regrade(session: Session, patient: m.Patient) -> None:
    # The highest grade ever recorded stands: facts.grade never goes down.
    facts = facts_for_patient(session, patient)
    tumour = session.exec(select(m.Tumour).where(m.Tumour.patient_id == patient.id)).first()
    if tumour is not None and tumour.grade != facts.grade:
        tumour.grade = facts.grade
        session.add(tumour)
        session.flush()
