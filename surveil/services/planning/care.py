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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from surveil.config import Settings
from surveil.core.facts import Facts
from surveil.core.protocol import Pack, Profile
from surveil.core.vocab import Channel
from surveil.db import models as m
from surveil.db.queries import PlannedPatient, facts_for_patients
from surveil.services.actor import Actor
from surveil.services.planning import memo, stop
from surveil.services.planning.plans import ReplanResult, replan_patients
from surveil.services.protocols import protocol_in_force
from surveil.services.triggers.consequences import NewTrigger
from surveil.services.triggers.escalation import evaluate_and_escalate

# What a refresh may add to the audit, as surveil itself (``triggers.escalation``, ``stop``):
# entry points that refresh declare these beside their own action.
CONSEQUENCES = ("trigger.fired", "state.set", stop.STOPPED)


@dataclass
class Refresh:
    new_triggers: list[NewTrigger]
    plan: ReplanResult


def refresh_patient(
    session: Session, *, patient: m.Patient, settings: Settings, today: dt.date, channel: Channel
) -> Refresh:
    """Re-grade, triggers, then the plan, after a change to one patient's facts. The facts are
    read once and shared by the three steps (three reads were half of the time an HL7 result
    or a form's change took), and again only if a new trigger or a stop changed them."""
    session.flush()
    return _refresh(session, [patient], settings, today, channel, regrade=True)


def refresh_after_changes(
    session: Session,
    *,
    patients: list[m.Patient],
    settings: Settings,
    today: dt.date,
    channel: Channel,
) -> Refresh:
    """:func:`refresh_patient` for several patients at once: the HL7 listener's coalesced
    refresh of the patients a burst of results touched (re-grade included)."""
    session.flush()
    return _refresh(session, patients, settings, today, channel, regrade=True)


def refresh_patients(
    session: Session,
    *,
    patients: Sequence[PlannedPatient],
    settings: Settings,
    today: dt.date,
    channel: Channel,
    changed: set[int] | None = None,
    skip_unchanged: bool = True,
) -> Refresh:
    """Triggers, then plans, for a batch of patients (a chunk of ``replan --all``, or an
    import's); the facts are read once for the batch and again only for patients a new trigger
    moved. ``changed``: the patients whose marks ``memo.take_changes`` took before their rows
    were read (``replan --all``); given, a patient with none and a memo that holds today is not
    planned again (unless not ``skip_unchanged``), and one this run finds stable is
    remembered."""
    protocol = protocol_in_force(session, settings, today)
    if changed is None:
        return _refresh(session, patients, settings, today, channel, protocol=protocol)
    pack, profile = protocol
    found = memo.check(
        session,
        patients,
        changed=changed,
        pack=pack,
        profile=profile,
        schedules=settings.paths.schedules,
        today=today,
        skip=skip_unchanged,
    )
    unchanged: dict[int, tuple[int, dt.date | None]] = {}
    refresh = _refresh(
        session,
        patients,
        settings,
        today,
        channel,
        protocol=protocol,
        skip=found.skipped,
        unchanged=unchanged,
    )
    memo.record(session, found, unchanged=unchanged, today=today)
    return refresh


def _refresh(
    session: Session,
    patients: Sequence[PlannedPatient],
    settings: Settings,
    today: dt.date,
    channel: Channel,
    *,
    regrade: bool = False,
    protocol: tuple[Pack, Profile] | None = None,
    skip: Mapping[int, int] | None = None,
    unchanged: dict[int, tuple[int, dt.date | None]] | None = None,
) -> Refresh:
    """``skip``: patients not to plan (``memo``), each with the items it keeps. ``unchanged``,
    if given, is told of each patient for whom nothing was written at all, how many items it
    kept and until when its plan holds (``plans.replan_patients``)."""
    protocol = protocol or protocol_in_force(session, settings, today)
    skip = skip or {}
    todo = [p for p in patients if p.id not in skip]
    facts = facts_for_patients(session, todo)
    if regrade:
        _regrade(session, todo, facts)
    created = evaluate_and_escalate(
        session,
        patients=todo,
        settings=settings,
        today=today,
        facts=facts,
        channel=channel,
        protocol=protocol,
    )
    # Stopped patients' facts are read again too: their items were cancelled just now. A
    # skipped patient whom a stop moved is planned after all.
    moved = {t.patient_id for t in created} | _stop_where_care_ended(session, patients, channel)
    if moved:
        again = [p for p in patients if p.id in moved]
        facts.update(facts_for_patients(session, again))
        todo += [p for p in again if p.id in skip]
    kept = [p for p in patients if p.id in skip and p.id not in moved]
    result = replan_patients(
        session,
        patients=todo,
        settings=settings,
        today=today,
        facts=facts,
        unchanged=unchanged,
        protocol=protocol,
    )
    for patient in kept:
        result.add(ReplanResult(patients=1, kept=skip[patient.id or 0], skipped=1))
    if unchanged is not None:
        for pid in moved:
            unchanged.pop(pid, None)  # a new trigger or a stop was written for them
    return Refresh(new_triggers=created, plan=result)


def _stop_where_care_ended(
    session: Session, patients: Sequence[PlannedPatient], channel: Channel
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


def _regrade(session: Session, patients: Sequence[PlannedPatient], facts: dict[int, Facts]) -> None:
    # The highest grade ever recorded stands: facts.grade never goes down.
    ids = [p.id for p in patients if p.id is not None]
    if not ids:
        return
    changed = False
    for tumour in session.exec(select(m.Tumour).where(col(m.Tumour.patient_id).in_(ids))):
        grade = facts[tumour.patient_id].grade
        if tumour.grade != grade:
            tumour.grade = grade
            session.add(tumour)
            changed = True
    if changed:
        session.flush()
