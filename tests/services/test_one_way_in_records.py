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
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select

from surveil.config import Settings
from surveil.core.vocab import Channel
from surveil.db import models as m
from surveil.errors import SurveilError
from surveil.services.actor import Actor
from surveil.services.entry import ENTRY_POINTS
from surveil.services.planning import care, overrides, replan
from surveil.services.registry import patients as registry
from surveil.services.registry.patients import PatientInput, TumourInput
from tests.services.one_way_in_records_cases import (
    CASES,
    CLINIC,
    NINA_CLI,
    READS,
    TODAY,
    Case,
    Row,
    World,
    by,
    measure,
    newest,
    patient_input,
    system,
)
from tests.services.test_merge import COVERED as MERGES
from tests.services.test_merge_purge import COVERED as MERGE_PURGE
from tests.services.test_trigger_decisions import COVERED as DECISIONS


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


_RECORD_PACKAGES = (
    "surveil.services.registry.",
    "surveil.services.records.",
    "surveil.services.planning.",
    "surveil.services.triggers.",
)


def test_every_entry_point_of_the_clinical_record_is_a_case() -> None:
    # Entry points of records.* that other area modules walk (issue 14's item life, issue 13's
    # record-keeping forms). Which modules ENTRY_POINTS holds depends on what was imported, so
    # every service module is imported first (tests/test_one_way_in.py does the same).
    from tests.api.test_api_routes import COVERED as API_READS
    from tests.services.test_keeping import COVERED as KEEPING
    from tests.services.test_one_way_in_item_life import COVERED as ITEM_LIFE
    from tests.test_one_way_in import _import_all_services

    _import_all_services()
    mine = {name for name in ENTRY_POINTS if name.startswith(_RECORD_PACKAGES)}
    # Trigger decisions beyond resolving (confirm, re-open) and merges have their own modules.
    others = ITEM_LIFE | KEEPING | DECISIONS | MERGES | MERGE_PURGE | API_READS
    mine -= others
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
    """12 mm on 2025-03-02 and 18 mm on 2025-11-20: 8.3 mm/year. The growth trigger is
    surveil's, on nina's channel; the move to 'advanced' (on_trigger.growth_rate.set_state) is
    only proposed until a clinician confirms it (tests/services/test_trigger_decisions.py)."""
    for mm, day in (("12", "2025-03-02"), ("18", "2025-11-20")):
        measure(mm, date=day)(engine, world, NINA_CLI, settings)
    events = audit_rows(engine)
    with Session(engine) as session:
        trigger = session.exec(select(m.Trigger).where(m.Trigger.kind == "growth_rate")).one()
        states = session.exec(
            select(m.DiseaseState.kind).where(m.DiseaseState.patient_id == world.patient)
        ).all()
        measurements = sorted(session.exec(select(m.Measurement.id)).all())
    assert as_rows(events) == [
        by(NINA_CLI, "measurement.recorded", world.patient, f"measurement:{measurements[0]}"),
        by(NINA_CLI, "measurement.recorded", world.patient, f"measurement:{measurements[1]}"),
        system(NINA_CLI, "trigger.fired", world.patient, f"trigger:{trigger.id}"),
    ]
    assert f"#{trigger.id}" in events[2].detail
    assert "advanced" not in states


@pytest.mark.usefixtures("world")
def test_replan_all_audits_the_run_and_each_patient_whose_plan_changed(
    engine: sa.Engine, settings: Settings
) -> None:
    """A patient enrolled without a plan gets one (a change: one row); the seeded patient's plan
    is unchanged (no row); the run gets one row with its counts. A navigator of another clinic
    replans only their clinic: here, nobody."""
    with Session(engine) as session:
        registry.enrol_patient(
            session, clinic=CLINIC, data=patient_input("P2"),
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
