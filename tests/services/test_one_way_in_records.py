"""One way in, for the clinical record: every entry point of the registry, planning and trigger
services leaves exactly its audit rows, in its own transaction, and a refused call (bad input, or
a user of another clinic) leaves neither data nor an audit row.

Each case is called three ways on a small real registry (both backends): with bad input, as a
navigator of another clinic, then as it should be. The first two must leave every table exactly
as it was; the last must add exactly the expected audit rows (action, actor, channel, patient,
record), by the acting user on their channel, and by surveil itself for automatic consequences.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select

from surveil.config import Settings
from surveil.core.vocab import Channel
from surveil.db import models as m
from surveil.errors import SurveilError
from surveil.schedules import get_profile, load_packs
from surveil.services.actor import Actor
from surveil.services.entry import ENTRY_POINTS
from surveil.services.planning import actions, care, overrides, patient_plan, replan
from surveil.services.planning.actions import DoneInput
from surveil.services.registry import enrolment, record, results, summaries
from surveil.services.registry import patients as registry
from surveil.services.registry.patients import PatientInput, TumourInput
from surveil.services.triggers import review

TODAY = dt.date(2026, 11, 23)
NOW = dt.datetime(2026, 11, 23, 10, 30, tzinfo=dt.UTC)
CLINIC = "north"
NINA_CLI = Actor("nina", "navigator", CLINIC, channel=Channel.CLI, os_user="ops")
NINA_WEB = Actor("nina", "navigator", CLINIC, ip="10.0.0.7", channel=Channel.WEB)

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


@pytest.fixture
def world(engine: sa.Engine, settings: Settings) -> World:
    """A small G1 pancreatic NET on surveillance in clinic north, planned, with an open trigger
    and an active override, made with the services' building blocks (no audit rows)."""
    with Session(engine, expire_on_commit=False) as session:
        patient = registry.enrol_patient(
            session,
            clinic=CLINIC,
            data=PatientInput(
                mrn="P1", given_name="Ada", family_name="Lovelace", birth_date="1962-03-14"
            ),
            tumour=TumourInput(site="pancreas", ki67="2", size_mm="12", diagnosed_on="2025-03-02"),
            state_kind="active_surveillance",
            since="2025-03-02",
            resection=None,
            today=TODAY,
        )
        trigger = m.Trigger(
            patient_id=patient.id or 0,
            kind="marker_rise",
            subject_key="marker_rise:cga",
            fingerprint="marker_rise:cga:2026-11-01",
            detected_on=dt.date(2026, 11, 1),
            action="repeat CgA off PPI",
            explanation="CgA 300 ng/mL on a PPI",
            confounded=True,  # shapes no plan: the cases below see the plan the seed made
        )
        session.add(trigger)
        override = overrides._new_override(
            session,
            patient=patient,
            kind="cga",
            every="3",
            unit="months",
            modality=None,
            paused_until=None,
            reason="anxious",
            author="dr.okafor",
            today=TODAY,
        )
        care.refresh_patient(
            session, patient=patient, settings=settings, today=TODAY, channel=Channel.CLI
        )
        session.commit()
        items = {i.kind: i.id for i in _open_items(session, patient.id)}
        tumour = session.exec(select(m.Tumour)).one()
        return World(
            patient=patient.id or 0,
            tumour=tumour.id or 0,
            mri=items["mri"] or 0,
            cga=items["cga"] or 0,
            trigger=trigger.id or 0,
            override=override.id or 0,
        )


def _open_items(session: Session, patient_id: int | None) -> list[m.FollowUpItem]:
    return list(
        session.exec(
            select(m.FollowUpItem).where(
                m.FollowUpItem.patient_id == patient_id, m.FollowUpItem.state == "planned"
            )
        )
    )


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


def _patient(mrn: str = "P2") -> PatientInput:
    return PatientInput(mrn=mrn, given_name="Grace", family_name="Hopper", birth_date="1956-12-09")


def _enrol(mrn: str, **state: str | None) -> Call:
    return lambda engine, w, actor, settings: enrolment.enrol_patient(
        engine,
        actor=actor,
        clinic=CLINIC,
        data=_patient(mrn),
        tumour=TumourInput(site="small_bowel", ki67="1", diagnosed_on="2025-05-01"),
        state_kind=state.get("kind", "resected"),
        since=state.get("since", "2025-05-01"),
        resection="R0",
        settings=settings,
        today=TODAY,
    )


def _measure(mm: str, date: str = "2026-11-01") -> Call:
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
        "surveil.services.registry.enrolment.enrol_patient",
        NINA_CLI,
        _enrol("P2"),
        _enrol("P2", kind="remission", since="2999-01-01"),
        lambda s, w: [by(NINA_CLI, "patient.enrolled", p := newest(s, m.Patient), f"patient:{p}")],
    ),
    Case(
        "surveil.services.registry.enrolment.update_patient",
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
        "surveil.services.registry.enrolment.set_disease_state",
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
        "surveil.services.registry.results.record_measurement",
        NINA_CLI,
        _measure("12"),
        _measure("0", date="2999-01-01"),
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
        "surveil.services.registry.results.record_marker",
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
        "surveil.services.registry.results.record_pathology",
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
        "surveil.services.registry.results.record_therapy",
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
        "surveil.services.registry.results.record_symptom",
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
        "surveil.services.planning.actions.mark_ordered",
        NINA_WEB,
        lambda engine, w, actor, settings: actions.mark_ordered(
            engine, item_id=w.mri, actor=actor, note="requested", today=TODAY
        ),
        lambda engine, w, actor, settings: actions.mark_ordered(
            engine, item_id=w.mri + 1000, actor=actor, today=TODAY
        ),
        lambda s, w: [by(NINA_WEB, "item.ordered", w.patient, f"item:{w.mri}")],
    ),
    Case(
        "surveil.services.planning.actions.mark_booked",
        NINA_WEB,
        lambda engine, w, actor, settings: actions.mark_booked(
            engine, item_id=w.mri, actor=actor, date="2026-12-01", time="09:30", today=TODAY
        ),
        lambda engine, w, actor, settings: actions.mark_booked(
            engine, item_id=w.mri, actor=actor, date="2026-11-01", time="9h", today=TODAY
        ),
        lambda s, w: [by(NINA_WEB, "item.booked", w.patient, f"item:{w.mri}")],
    ),
    Case(
        "surveil.services.planning.actions.mark_done",
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
        "surveil.services.planning.actions.mark_declined",
        NINA_WEB,
        lambda engine, w, actor, settings: actions.mark_declined(
            engine, item_id=w.mri, actor=actor, reason="moving abroad", today=TODAY
        ),
        lambda engine, w, actor, settings: actions.mark_declined(
            engine, item_id=w.mri, actor=actor, reason=" ", today=TODAY
        ),
        lambda s, w: [by(NINA_WEB, "item.declined", w.patient, f"item:{w.mri}")],
    ),
    Case(
        "surveil.services.planning.actions.mark_not_needed",
        NINA_WEB,
        lambda engine, w, actor, settings: actions.mark_not_needed(
            engine, item_id=w.mri, actor=actor, reason="done elsewhere", today=TODAY
        ),
        lambda engine, w, actor, settings: actions.mark_not_needed(
            engine, item_id=w.mri, actor=actor, reason=None, today=TODAY
        ),
        lambda s, w: [by(NINA_WEB, "item.not_needed", w.patient, f"item:{w.mri}")],
    ),
    Case(
        "surveil.services.planning.actions.snooze",
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
        "surveil.services.triggers.review.resolve_trigger",
        NINA_CLI,
        lambda engine, w, actor, settings: review.resolve_trigger(
            engine, trigger_id=w.trigger, actor=actor, outcome="reviewed: benign", now=NOW
        ),
        lambda engine, w, actor, settings: review.resolve_trigger(
            engine, trigger_id=w.trigger, actor=actor, outcome="  ", now=NOW
        ),
        lambda s, w: [by(NINA_CLI, "trigger.resolved", w.patient, f"trigger:{w.trigger}")],
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

COVERED: frozenset[str] = frozenset(case.entry_point for case in CASES)


# --------------------------------------------------------------------------- what a call leaves


def snapshot(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in key order: equal snapshots mean nothing was written."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            keys = list(table.primary_key.columns) or list(table.columns)
            rows = connection.execute(sa.select(table).order_by(*keys)).all()
            out[table.name] = [tuple(row) for row in rows]
    return out


def audit_rows(engine: sa.Engine) -> list[m.AuditEvent]:
    with Session(engine) as session:
        return list(session.exec(select(m.AuditEvent).order_by(col(m.AuditEvent.id))).all())


def as_rows(events: list[m.AuditEvent]) -> list[Row]:
    return [(e.action, e.actor, e.channel, e.patient_id, e.subject) for e in events]


def refused_leaves_nothing(engine: sa.Engine, call: Callable[[], object]) -> None:
    before = snapshot(engine)
    with pytest.raises(SurveilError):
        call()
    assert snapshot(engine) == before


def another_clinic(actor: Actor) -> Actor:
    return Actor("sam", "navigator", "south", ip=actor.ip, channel=actor.channel, os_user="sam")


# --------------------------------------------------------------------------- the tests


READS = {
    "surveil.services.registry.summaries.show_patient",
    "surveil.services.registry.summaries.find_patients",
    "surveil.services.registry.record.open_record",
    "surveil.services.planning.overrides.show_overrides",
    "surveil.services.planning.patient_plan.show_plan",
    "surveil.services.triggers.review.show_triggers",
}


def test_every_entry_point_of_the_clinical_record_is_a_case() -> None:
    mine = {
        name
        for name in ENTRY_POINTS
        if name.startswith(
            (
                "surveil.services.registry.",
                "surveil.services.planning.",
                "surveil.services.triggers.",
            )
        )
    }
    assert mine == COVERED
    assert {name for name in mine if not ENTRY_POINTS[name].writes} == READS
    assert all(
        action.endswith(".viewed") for name in READS for action in ENTRY_POINTS[name].actions
    )


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.entry_point.rsplit(".", 2)[-1])
def test_an_entry_point_audits_its_change_and_a_refusal_leaves_nothing(
    case: Case, engine: sa.Engine, settings: Settings, world: World
) -> None:
    assert audit_rows(engine) == []  # the seed is made with building blocks only
    refused_leaves_nothing(engine, lambda: case.bad(engine, world, case.actor, settings))
    outsider = another_clinic(case.actor)
    # Another clinic's replan --all is not refused but a run of its own: see the last test.
    if not case.entry_point.endswith("replan_every_patient"):
        refused_leaves_nothing(engine, lambda: case.call(engine, world, outsider, settings))

    case.call(engine, world, case.actor, settings)

    events = audit_rows(engine)
    with Session(engine) as session:
        assert as_rows(events) == case.expect(session, world)
    actions = set(ENTRY_POINTS[case.entry_point].actions)
    assert {e.action for e in events} <= actions, "an action the entry point does not declare"
    for event in events:
        mine = event.actor == case.actor.username
        assert (event.ip, event.os_user) == (
            (case.actor.ip, case.actor.os_user) if mine else (None, None)
        )


def test_a_growth_trigger_and_its_state_change_are_audited_as_consequences(
    engine: sa.Engine, settings: Settings, world: World
) -> None:
    """12 mm on 2025-03-02 and 18 mm on 2025-11-20: 8.3 mm/year. The growth trigger and the
    move to 'advanced' (on_trigger.growth_rate.set_state) are surveil's, on nina's channel."""
    for mm, day in (("12", "2025-03-02"), ("18", "2025-11-20")):
        _measure(mm, date=day)(engine, world, NINA_CLI, settings)
    events = audit_rows(engine)
    with Session(engine) as session:
        trigger = session.exec(select(m.Trigger).where(m.Trigger.kind == "growth_rate")).one()
        state = newest(session, m.DiseaseState)
        measurements = sorted(session.exec(select(m.Measurement.id)).all())
    assert as_rows(events) == [
        by(NINA_CLI, "measurement.recorded", world.patient, f"measurement:{measurements[0]}"),
        by(NINA_CLI, "measurement.recorded", world.patient, f"measurement:{measurements[1]}"),
        system(NINA_CLI, "trigger.fired", world.patient, f"trigger:{trigger.id}"),
        system(NINA_CLI, "state.set", world.patient, f"state:{state}"),
    ]
    fired, moved = events[2], events[3]
    assert f"#{trigger.id}" in fired.detail
    assert f"trigger #{trigger.id}" in moved.detail
    assert "on_trigger.growth_rate.set_state" in moved.detail
    assert '"kind": "active_surveillance"' in (moved.before or "")
    assert '"kind": "advanced"' in (moved.after or "")


def test_replan_all_audits_the_run_and_each_patient_whose_plan_changed(
    engine: sa.Engine, settings: Settings, world: World
) -> None:
    """A patient enrolled without a plan gets one (a change: one row); the seeded patient's plan
    is unchanged (no row); the run gets one row with its counts. A navigator of another clinic
    replans only their clinic: here, nobody."""
    with Session(engine) as session:
        registry.enrol_patient(
            session, clinic=CLINIC, data=_patient("P2"),
            tumour=TumourInput(site="small_bowel", ki67="1", diagnosed_on="2025-05-01"),
            state_kind="resected", since="2025-05-01", resection="R0", today=TODAY,
        )  # fmt: skip
        session.commit()
        unplanned = newest(session, m.Patient)
    before = snapshot(engine)
    result = replan.replan_every_patient(
        engine, actor=another_clinic(NINA_CLI), settings=settings, today=TODAY
    )
    assert result.patients == 0
    after = snapshot(engine)
    assert {t: rows for t, rows in after.items() if t != "audit_event"} == {
        t: rows for t, rows in before.items() if t != "audit_event"
    }
    assert as_rows(audit_rows(engine)) == [
        ("plan.replanned_all", "sam", "cli", None, "plan:clinic:south")
    ]

    result = replan.replan_every_patient(
        engine, actor=NINA_CLI, settings=settings, today=TODAY, chunk=1
    )
    assert (result.patients, sorted(result.changed)) == (2, [unplanned])
    events = audit_rows(engine)[1:]
    assert as_rows(events) == [
        by(NINA_CLI, "plan.replanned", unplanned, f"plan:{unplanned}"),
        by(NINA_CLI, "plan.replanned_all", None, f"plan:clinic:{CLINIC}"),
    ]
    assert '"patients": 2' in (events[1].after or "") and '"changed": 1' in (events[1].after or "")
