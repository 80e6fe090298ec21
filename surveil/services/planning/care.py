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
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from surveil.config import Settings
from surveil.core.facts import Facts
from surveil.core.horizon import holds_until
from surveil.core.triggers import ssa_alert_on
from surveil.core.vocab import Channel
from surveil.db import models as m
from surveil.db.queries import PlannedPatient, facts_for_patients, read_fact_rows
from surveil.services.actor import Actor
from surveil.services.planning import memo, stop
from surveil.services.planning.plans import ReplanResult, replan_patients
from surveil.services.planning.stored_items import reconciled_items
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
    skip_unchanged: bool = True,
) -> Refresh:
    """Triggers, then plans, for a batch of patients (a chunk of ``replan --all``); the facts
    are read once for the batch and again only for patients a new trigger moved.
    ``skip_unchanged``: a patient whose inputs are those a previous run found stable is not
    planned again (``memo``)."""
    pack, profile = protocol = protocol_in_force(session, settings, today)
    found = (
        memo.check(
            session,
            patients,
            pack=pack,
            profile=profile,
            schedules=settings.paths.schedules,
            today=today,
        )
        if skip_unchanged
        else memo.Memo()
    )
    todo = [p for p in patients if p.id not in found.skipped]
    ids = [p.id or 0 for p in todo]
    facts = read_fact_rows(session, ids).facts(todo)
    open_rows = reconciled_items(session, ids)
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
        facts.update(facts_for_patients(session, [p for p in patients if p.id in moved]))
        for pid in moved:  # their items as they are now (a stop cancelled them all)
            open_rows.pop(pid, None)
        open_rows.update(reconciled_items(session, sorted(moved)))
        todo += [p for p in patients if p.id in found.skipped and p.id in moved]
    skipped = [p for p in patients if p.id in found.skipped and p.id not in moved]
    unchanged: dict[int, tuple[int, dt.date | None]] = {}
    result = replan_patients(
        session,
        patients=todo,
        settings=settings,
        today=today,
        facts=facts,
        open_rows=open_rows,
        stamp=skipped,
        unchanged=unchanged,
        protocol=protocol,
    )
    for patient in skipped:
        result.add(ReplanResult(patients=1, kept=found.skipped[patient.id or 0], skipped=1))
    stable = [pid for pid in unchanged if pid not in moved and pid in found.digests]
    thresholds = profile.thresholds
    memo.record(
        session,
        found,
        unchanged=stable,
        holds_until={
            pid: holds_until(
                facts[pid], today, unchanged[pid][1], ssa_alert_on(facts[pid], thresholds, today)
            )
            for pid in stable
        },
        kept={pid: unchanged[pid][0] for pid in stable},
        today=today,
    )
    return Refresh(new_triggers=created, plan=result)


def _refresh(
    session: Session,
    patients: Sequence[PlannedPatient],
    settings: Settings,
    today: dt.date,
    channel: Channel,
    *,
    regrade: bool,
) -> Refresh:
    facts = facts_for_patients(session, patients)
    if regrade:
        _regrade(session, patients, facts)
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
