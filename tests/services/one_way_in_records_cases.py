"""The cases of ``test_one_way_in_records``: for every entry point of the clinical record, a
valid call, a call with bad input, and the audit rows the valid call must leave."""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, select

from surveil.config import Settings
from surveil.core.vocab import Channel
from surveil.db import models as m
from surveil.schedules import get_profile, load_packs
from surveil.services.actor import Actor
from surveil.services.planning import overrides, patient_plan, replan
from surveil.services.records import actions, enrolment, results, trigger_review
from surveil.services.records.actions import DoneInput
from surveil.services.registry import record, summaries
from surveil.services.registry.patients import PatientInput, TumourInput
from surveil.services.triggers import review

TODAY = dt.date(2026, 11, 23)
NOW = dt.datetime(2026, 11, 23, 10, 30, tzinfo=dt.UTC)
CLINIC = "north"
NINA_CLI = Actor("nina", "navigator", CLINIC, channel=Channel.CLI, os_user="ops")
NINA_WEB = Actor("nina", "navigator", CLINIC, ip="10.0.0.7", channel=Channel.WEB)
DORA_CLI = Actor("dora", "clinician", CLINIC, channel=Channel.CLI, os_user="ops")

Row = tuple[str, str, str, int | None, str | None]  # action, actor, channel, patient, subject


@dataclass(frozen=True)
class World:
    """What the cases act on (ids only: rows belong to the session that made them)."""

    patient: int
    tumour: int
    mri: int  # a planned item
    cga: int  # a planned marker item
    trigger: int  # an open trigger
    override: int  # an active override


# --------------------------------------------------------------------------- the cases

Call = Callable[[sa.Engine, World, Actor, Settings], object]
Expect = Callable[[Session, World], list[Row]]


@dataclass(frozen=True)
class Case:
    entry_point: str  # module.function, as in ENTRY_POINTS
    actor: Actor
    call: Call  # a valid call, made as ``actor`` (and as another clinic's user: refused)
    bad: Call  # the same entry point with bad input
    expect: Expect  # the audit rows the valid call leaves


def newest(session: Session, model: type[SQLModel]) -> int:
    """The id of the newest row of ``model`` (the one the call made)."""
    found = session.exec(select(sa.func.max(model.id))).one()  # type: ignore[attr-defined]
    assert found is not None
    return int(found)


def by(actor: Actor, action: str, patient: int | None, subject: str | None) -> Row:
    return (action, actor.username, str(actor.channel), patient, subject)


def system(actor: Actor, action: str, patient: int, subject: str) -> Row:
    return (action, "system", str(actor.channel), patient, subject)


def patient_input(mrn: str = "P2") -> PatientInput:
    return PatientInput(mrn=mrn, given_name="Grace", family_name="Hopper", birth_date="1956-12-09")


def _enrol(mrn: str, **state: str | None) -> Call:
    return lambda engine, w, actor, settings: enrolment.enrol_patient(
        engine,
        actor=actor,
        clinic=CLINIC,
        data=patient_input(mrn),
        tumour=TumourInput(site="small_bowel", ki67="1", diagnosed_on="2025-05-01"),
        state_kind=state.get("kind", "resected"),
        since=state.get("since", "2025-05-01"),
        resection="R0",
        settings=settings,
        today=TODAY,
    )


def measure(mm: str, date: str = "2026-11-01") -> Call:
    return lambda engine, w, actor, settings: results.record_measurement(
        engine,
        actor=actor,
        mrn="P1",
        clinic=CLINIC,
        lesion="L1",
        date=date,
        diameter_mm=mm,
        modality="mri",
        settings=settings,
        today=TODAY,
    )


def _plan_profile(settings: Settings) -> dict[str, Any]:
    pack, profile = get_profile(load_packs(settings.paths.schedules), "net-default:default")
    return {"pack": pack, "profile": profile}


CASES = [
    Case(
        "surveil.services.records.enrolment.enrol_patient",
        NINA_CLI,
        _enrol("P2"),
        _enrol("P2", kind="remission", since="2999-01-01"),
        lambda s, w: [by(NINA_CLI, "patient.enrolled", p := newest(s, m.Patient), f"patient:{p}")],
    ),
    Case(
        "surveil.services.records.enrolment.update_patient",
        NINA_CLI,
        lambda engine, w, actor, settings: enrolment.update_patient(
            engine,
            actor=actor,
            mrn="P1",
            clinic=CLINIC,
            data=PatientInput(email="ada@example.org"),
            tumour=TumourInput(size_mm="13"),
            settings=settings,
            today=TODAY,
        ),
        lambda engine, w, actor, settings: enrolment.update_patient(
            engine,
            actor=actor,
            mrn="P1",
            clinic=CLINIC,
            data=PatientInput(email="not an address"),
            tumour=None,
            settings=settings,
            today=TODAY,
        ),
        lambda s, w: [
            by(NINA_CLI, "patient.updated", w.patient, f"patient:{w.patient}"),
            by(NINA_CLI, "tumour.updated", w.patient, f"tumour:{w.tumour}"),
        ],
    ),
    Case(
        "surveil.services.records.enrolment.set_disease_state",
        NINA_CLI,
        lambda engine, w, actor, settings: enrolment.set_disease_state(
            engine,
            actor=actor,
            mrn="P1",
            clinic=CLINIC,
            kind="resected",
            since="2026-10-01",
            resection="R0",
            reason="Whipple",
            settings=settings,
            today=TODAY,
        ),
        lambda engine, w, actor, settings: enrolment.set_disease_state(
            engine,
            actor=actor,
            mrn="P1",
            clinic=CLINIC,
            kind="resected",
            since="2020-01-01",  # before the current episode began
            resection="R9",
            reason="",
            settings=settings,
            today=TODAY,
        ),
        lambda s, w: [
            by(NINA_CLI, "state.set", w.patient, f"state:{newest(s, m.DiseaseState)}"),
        ],
    ),
    Case(
        "surveil.services.records.results.record_measurement",
        NINA_CLI,
        measure("12"),
        measure("0", date="2999-01-01"),
        lambda s, w: [
            by(
                NINA_CLI,
                "measurement.recorded",
                w.patient,
                f"measurement:{newest(s, m.Measurement)}",
            )
        ],
    ),
    Case(
        "surveil.services.records.results.record_marker",
        NINA_CLI,
        lambda engine, w, actor, settings: results.record_marker(
            engine,
            actor=actor,
            mrn="P1",
            clinic=CLINIC,
            name="cga",
            value="50",
            date="2026-11-01",
            unit="ng/mL",
            uln="100",
            settings=settings,
            today=TODAY,
        ),
        lambda engine, w, actor, settings: results.record_marker(
            engine,
            actor=actor,
            mrn="P1",
            clinic=CLINIC,
            name="mri",
            value="-1",
            date="2026-11-01",
            settings=settings,
            today=TODAY,
        ),
        lambda s, w: [
            by(NINA_CLI, "marker.recorded", w.patient, f"marker:{newest(s, m.MarkerResult)}")
        ],
    ),
    Case(
        "surveil.services.records.results.record_pathology",
        NINA_CLI,
        lambda engine, w, actor, settings: results.record_pathology(
            engine,
            actor=actor,
            mrn="P1",
            clinic=CLINIC,
            date="2026-11-01",
            ki67="2",
            mitoses=None,
            settings=settings,
            today=TODAY,
        ),
        lambda engine, w, actor, settings: results.record_pathology(
            engine,
            actor=actor,
            mrn="P1",
            clinic=CLINIC,
            date="2026-11-01",
            ki67=None,
            mitoses=None,
            settings=settings,
            today=TODAY,
        ),
        lambda s, w: [
            by(
                NINA_CLI,
                "pathology.recorded",
                w.patient,
                f"pathology:{newest(s, m.PathologyResult)}",
            )
        ],
    ),
    Case(
        "surveil.services.records.results.record_therapy",
        NINA_CLI,
        lambda engine, w, actor, settings: results.record_therapy(
            engine,
            actor=actor,
            mrn="P1",
            clinic=CLINIC,
            kind="surgery",
            started_on="2026-11-02",
            agent="distal pancreatectomy",
            settings=settings,
            today=TODAY,
        ),
        lambda engine, w, actor, settings: results.record_therapy(
            engine,
            actor=actor,
            mrn="P1",
            clinic=CLINIC,
            kind="homeopathy",
            started_on="2026-11-02",
            cycles_given="1.5",
            settings=settings,
            today=TODAY,
        ),
        lambda s, w: [
            by(NINA_CLI, "therapy.recorded", w.patient, f"therapy:{newest(s, m.Therapy)}")
        ],
    ),
    Case(
        "surveil.services.records.results.record_symptom",
        NINA_CLI,
        lambda engine, w, actor, settings: results.record_symptom(
            engine,
            actor=actor,
            mrn="P1",
            clinic=CLINIC,
            date="2026-11-20",
            description="abdominal pain",
            settings=settings,
            today=TODAY,
        ),
        lambda engine, w, actor, settings: results.record_symptom(
            engine,
            actor=actor,
            mrn="P1",
            clinic=CLINIC,
            date="2999-01-01",
            description=" ",
            settings=settings,
            today=TODAY,
        ),
        # A new symptom on surveillance opens a trigger: surveil's own consequence.
        lambda s, w: [
            by(NINA_CLI, "symptom.recorded", w.patient, f"symptom:{newest(s, m.Symptom)}"),
            system(NINA_CLI, "trigger.fired", w.patient, f"trigger:{newest(s, m.Trigger)}"),
        ],
    ),
    Case(
        "surveil.services.registry.summaries.show_patient",
        NINA_CLI,
        lambda engine, w, actor, settings: summaries.show_patient(
            engine, actor=actor, mrn="P1", clinic=CLINIC
        ),
        lambda engine, w, actor, settings: summaries.show_patient(
            engine, actor=actor, mrn="nobody", clinic=CLINIC
        ),
        lambda s, w: [by(NINA_CLI, "patient.viewed", w.patient, f"patient:{w.patient}")],
    ),
    Case(
        "surveil.services.registry.summaries.find_patients",
        NINA_CLI,
        lambda engine, w, actor, settings: summaries.find_patients(
            engine, actor=actor, clinic=CLINIC, search="love", limit=50
        ),
        lambda engine, w, actor, settings: summaries.find_patients(
            engine, actor=actor, clinic="south", search=None, limit=50
        ),
        lambda s, w: [by(NINA_CLI, "patients.viewed", None, f"clinic:{CLINIC}")],
    ),
    Case(
        "surveil.services.registry.record.open_record",
        NINA_WEB,
        lambda engine, w, actor, settings: record.open_record(
            engine, actor=actor, patient_id=w.patient
        ),
        lambda engine, w, actor, settings: record.open_record(
            engine, actor=actor, patient_id=w.patient + 1000
        ),
        lambda s, w: [by(NINA_WEB, "patient.viewed", w.patient, f"patient:{w.patient}")],
    ),
    Case(
        "surveil.services.records.actions.mark_ordered",
        NINA_WEB,
        lambda engine, w, actor, settings: actions.mark_ordered(
            engine, item_id=w.mri, actor=actor, note="requested"
        ),
        lambda engine, w, actor, settings: actions.mark_ordered(
            engine, item_id=w.mri + 1000, actor=actor
        ),
        lambda s, w: [by(NINA_WEB, "item.ordered", w.patient, f"item:{w.mri}")],
    ),
    Case(
        "surveil.services.records.actions.mark_booked",
        NINA_WEB,
        lambda engine, w, actor, settings: actions.mark_booked(
            engine,
            item_id=w.mri,
            actor=actor,
            date="2026-12-01",
            time="09:30",
            today=TODAY,
            reason_code="no_slot",  # the MRI is overdue: any booking falls after its window
        ),
        lambda engine, w, actor, settings: actions.mark_booked(
            engine, item_id=w.mri, actor=actor, date="2026-11-01", time="9h", today=TODAY
        ),
        lambda s, w: [by(NINA_WEB, "item.booked", w.patient, f"item:{w.mri}")],
    ),
    Case(
        "surveil.services.records.actions.mark_done",
        NINA_WEB,
        lambda engine, w, actor, settings: actions.mark_done(
            engine,
            item_id=w.cga,
            actor=actor,
            data=DoneInput(completed_on="2026-11-20", marker_value="40", marker_uln="100"),
            settings=settings,
            today=TODAY,
        ),
        lambda engine, w, actor, settings: actions.mark_done(
            engine,
            item_id=w.cga,
            actor=actor,
            data=DoneInput(completed_on="2999-01-01"),
            settings=settings,
            today=TODAY,
        ),
        lambda s, w: [
            by(NINA_WEB, "marker.recorded", w.patient, f"marker:{newest(s, m.MarkerResult)}"),
            by(NINA_WEB, "item.done", w.patient, f"item:{w.cga}"),
        ],
    ),
    Case(
        "surveil.services.records.actions.mark_declined",
        NINA_WEB,
        lambda engine, w, actor, settings: actions.mark_declined(
            engine, item_id=w.mri, actor=actor, reason="moving abroad"
        ),
        lambda engine, w, actor, settings: actions.mark_declined(
            engine, item_id=w.mri, actor=actor, reason=" "
        ),
        lambda s, w: [by(NINA_WEB, "item.declined", w.patient, f"item:{w.mri}")],
    ),
    Case(
        "surveil.services.records.actions.mark_not_needed",
        NINA_WEB,
        lambda engine, w, actor, settings: actions.mark_not_needed(
            engine, item_id=w.mri, actor=actor, reason="done elsewhere"
        ),
        lambda engine, w, actor, settings: actions.mark_not_needed(
            engine, item_id=w.mri, actor=actor, reason=None
        ),
        lambda s, w: [by(NINA_WEB, "item.not_needed", w.patient, f"item:{w.mri}")],
    ),
    Case(
        "surveil.services.records.actions.snooze",
        NINA_WEB,
        lambda engine, w, actor, settings: actions.snooze(
            engine,
            item_id=w.mri,
            actor=actor,
            until="2026-11-30",
            reason="on holiday",
            settings=settings,
            today=TODAY,
        ),
        lambda engine, w, actor, settings: actions.snooze(
            engine,
            item_id=w.mri,
            actor=actor,
            until="2026-11-23",
            reason="",
            settings=settings,
            today=TODAY,
        ),
        lambda s, w: [by(NINA_WEB, "item.snoozed", w.patient, f"item:{w.mri}")],
    ),
    Case(
        "surveil.services.planning.overrides.add_override",
        NINA_CLI,
        lambda engine, w, actor, settings: overrides.add_override(
            engine,
            actor=actor,
            mrn="P1",
            clinic=CLINIC,
            kind="mri",
            every="3-4",
            unit=None,
            modality=None,
            paused_until=None,
            reason="patient anxious",
            author="dr.okafor",
            settings=settings,
            today=TODAY,
        ),
        lambda engine, w, actor, settings: overrides.add_override(
            engine,
            actor=actor,
            mrn="P1",
            clinic=CLINIC,
            kind="xray",
            every="6-3",
            unit="fortnights",
            modality=None,
            paused_until=None,
            reason=" ",
            author="dr.okafor",
            settings=settings,
            today=TODAY,
        ),
        lambda s, w: [
            by(NINA_CLI, "override.added", w.patient, f"override:{newest(s, m.PlanOverride)}")
        ],
    ),
    Case(
        "surveil.services.planning.overrides.show_overrides",
        NINA_CLI,
        lambda engine, w, actor, settings: overrides.show_overrides(
            engine, actor=actor, mrn="P1", clinic=CLINIC
        ),
        lambda engine, w, actor, settings: overrides.show_overrides(
            engine, actor=actor, mrn="P1", clinic="south"
        ),
        lambda s, w: [by(NINA_CLI, "overrides.viewed", w.patient, f"patient:{w.patient}")],
    ),
    Case(
        "surveil.services.planning.overrides.end_override",
        NINA_CLI,
        lambda engine, w, actor, settings: overrides.end_override(
            engine,
            actor=actor,
            mrn="P1",
            clinic=CLINIC,
            override_id=w.override,
            settings=settings,
            today=TODAY,
        ),
        lambda engine, w, actor, settings: overrides.end_override(
            engine,
            actor=actor,
            mrn="P1",
            clinic=CLINIC,
            override_id=w.override + 1000,
            settings=settings,
            today=TODAY,
        ),
        lambda s, w: [by(NINA_CLI, "override.ended", w.patient, f"override:{w.override}")],
    ),
    Case(
        "surveil.services.planning.replan.replan_patient",
        NINA_CLI,
        lambda engine, w, actor, settings: replan.replan_patient(
            engine, actor=actor, mrn="P1", clinic=CLINIC, settings=settings, today=TODAY
        ),
        lambda engine, w, actor, settings: replan.replan_patient(
            engine, actor=actor, mrn="P9", clinic=CLINIC, settings=settings, today=TODAY
        ),
        lambda s, w: [by(NINA_CLI, "plan.replanned", w.patient, f"plan:{w.patient}")],
    ),
    Case(
        "surveil.services.planning.replan.replan_every_patient",
        NINA_CLI,
        lambda engine, w, actor, settings: replan.replan_every_patient(
            engine, actor=actor, settings=settings, today=TODAY
        ),
        lambda engine, w, actor, settings: replan.replan_every_patient(
            engine, actor=actor, settings=settings, today=TODAY, chunk=0
        ),
        # The seed's plan is today's plan: nothing per patient, one row for the run.
        lambda s, w: [by(NINA_CLI, "plan.replanned_all", None, f"plan:clinic:{CLINIC}")],
    ),
    Case(
        "surveil.services.planning.patient_plan.show_plan",
        NINA_CLI,
        lambda engine, w, actor, settings: patient_plan.show_plan(
            engine, actor=actor, mrn="P1", clinic=CLINIC, today=TODAY, **_plan_profile(settings)
        ),
        lambda engine, w, actor, settings: patient_plan.show_plan(
            engine, actor=actor, mrn="", clinic=CLINIC, today=TODAY, **_plan_profile(settings)
        ),
        lambda s, w: [by(NINA_CLI, "plan.viewed", w.patient, f"plan:{w.patient}")],
    ),
    Case(
        "surveil.services.triggers.review.acknowledge_trigger",
        NINA_WEB,
        lambda engine, w, actor, settings: review.acknowledge_trigger(
            engine, trigger_id=w.trigger, actor=actor, now=NOW
        ),
        lambda engine, w, actor, settings: review.acknowledge_trigger(
            engine, trigger_id=w.trigger + 1000, actor=actor, now=NOW
        ),
        lambda s, w: [by(NINA_WEB, "trigger.acknowledged", w.patient, f"trigger:{w.trigger}")],
    ),
    Case(
        "surveil.services.records.trigger_review.resolve_trigger",
        DORA_CLI,  # a clinical finding: a clinician resolves it (services.triggers.roles)
        lambda engine, w, actor, settings: trigger_review.resolve_trigger(
            engine,
            trigger_id=w.trigger,
            actor=actor,
            outcome="reviewed: benign",
            settings=settings,
            today=TODAY,
            now=NOW,
        ),
        lambda engine, w, actor, settings: trigger_review.resolve_trigger(
            engine,
            trigger_id=w.trigger,
            actor=actor,
            outcome="  ",
            settings=settings,
            today=TODAY,
            now=NOW,
        ),
        lambda s, w: [by(DORA_CLI, "trigger.resolved", w.patient, f"trigger:{w.trigger}")],
    ),
    Case(
        "surveil.services.triggers.review.show_triggers",
        NINA_CLI,
        lambda engine, w, actor, settings: review.show_triggers(
            engine, actor=actor, clinic=CLINIC, open_only=True, mrn="P1"
        ),
        lambda engine, w, actor, settings: review.show_triggers(
            engine, actor=actor, clinic=CLINIC, open_only=True, mrn="nobody"
        ),
        lambda s, w: [by(NINA_CLI, "triggers.viewed", w.patient, f"patient:{w.patient}")],
    ),
]

# The entry points that only read a patient's record (audited as "<what>.viewed").
READS = {
    "surveil.services.registry.summaries.show_patient",
    "surveil.services.registry.summaries.find_patients",
    "surveil.services.registry.record.open_record",
    "surveil.services.planning.overrides.show_overrides",
    "surveil.services.planning.patient_plan.show_plan",
    "surveil.services.triggers.review.show_triggers",
}
