"""Persisted plans: reconciliation keeps ids, supersedes with reasons, never touches history."""

import datetime as dt

from sqlmodel import Session, col, select

from surveil.config import Settings
from surveil.core.vocab import Channel
from surveil.db import models as m
from surveil.services.planning import overrides
from surveil.services.planning.care import refresh_patient
from surveil.services.planning.plans import replan_patients
from surveil.services.registry import patients as registry
from tests.services.conftest import TODAY


def _items(session: Session, patient: m.Patient) -> list[m.FollowUpItem]:
    return list(
        session.exec(
            select(m.FollowUpItem)
            .where(m.FollowUpItem.patient_id == patient.id)
            .order_by(col(m.FollowUpItem.id))
        ).all()
    )


def _open(session: Session, patient: m.Patient) -> dict[str, m.FollowUpItem]:
    return {i.kind: i for i in _items(session, patient) if i.state == m.ItemState.PLANNED}


def test_first_plan_records_why(
    session: Session, small_pnet: m.Patient, settings: Settings
) -> None:
    replan_patients(session, patients=[small_pnet], settings=settings, today=TODAY)
    session.commit()
    items = _open(session, small_pnet)
    assert {"mri", "cga"} <= set(items)
    mri = items["mri"]
    assert mri.earliest <= mri.target <= mri.latest
    assert mri.rule_id and mri.pack_id == "net-default" and mri.pack_version
    assert mri.profile == "default" and mri.source and mri.anchor_date == dt.date(2025, 3, 2)
    assert mri.reason
    # Markers come on the imaging day, so the patient travels once.
    assert items["cga"].target == mri.target
    assert small_pnet.planned_at is not None and small_pnet.no_follow_up_rule is None


def test_replanning_twice_changes_nothing(
    session: Session, small_pnet: m.Patient, settings: Settings
) -> None:
    replan_patients(session, patients=[small_pnet], settings=settings, today=TODAY)
    before = [(i.id, i.state, i.target) for i in _items(session, small_pnet)]
    again = replan_patients(session, patients=[small_pnet], settings=settings, today=TODAY)
    assert again.created == 0 and again.superseded == 0
    assert [(i.id, i.state, i.target) for i in _items(session, small_pnet)] == before


def test_replanning_twice_changes_nothing_when_the_reason_outgrows_its_column(
    session: Session, small_pnet: m.Patient, settings: Settings
) -> None:
    """Two overrides of the MRI, each with a long reason: the item's reason is longer than the
    500 characters stored. The second replan must still see the stored item as the same one
    (it once superseded it on every run, and so changed the plan of such patients forever)."""
    for every in ("3", "4"):
        overrides._new_override(
            session, patient=small_pnet, kind="mri", every=every, unit="months", modality=None,
            paused_until=None, reason=f"every {every} months: " + "anxious " * 35,
            author="dr.okafor", today=TODAY,
        )  # fmt: skip
    replan_patients(session, patients=[small_pnet], settings=settings, today=TODAY)
    (mri,) = [i for i in _items(session, small_pnet) if i.kind == "mri"]
    assert len(mri.reason) == 500  # cut to the column
    again = replan_patients(session, patients=[small_pnet], settings=settings, today=TODAY)
    assert (again.created, again.superseded, again.changed) == (0, 0, {})


def test_new_result_supersedes_with_reason_and_keeps_done(
    session: Session, small_pnet: m.Patient, settings: Settings
) -> None:
    replan_patients(session, patients=[small_pnet], settings=settings, today=TODAY)
    old_mri = _open(session, small_pnet)["mri"]
    old_mri.state = m.ItemState.DONE
    old_mri.completed_on = dt.date(2026, 1, 10)
    done_id = old_mri.id
    old_cga = _open(session, small_pnet)["cga"]
    session.add(old_mri)
    session.commit()
    refresh_patient(
        session, patient=small_pnet, settings=settings, today=TODAY, channel=Channel.CLI
    )
    session.commit()
    new = _open(session, small_pnet)
    assert new["mri"].anchor_date == dt.date(2026, 1, 10)  # anchored on the last done MRI
    done = session.get(m.FollowUpItem, done_id)
    assert done is not None and done.state == m.ItemState.DONE  # history untouched
    session.refresh(old_cga)
    assert old_cga.state == m.ItemState.SUPERSEDED
    assert old_cga.superseded_by_id == new["cga"].id
    assert old_cga.superseded_reason and old_cga.sequence == 1


def test_booked_items_are_left_alone(
    session: Session, small_pnet: m.Patient, settings: Settings
) -> None:
    replan_patients(session, patients=[small_pnet], settings=settings, today=TODAY)
    mri = _open(session, small_pnet)["mri"]
    mri.state = m.ItemState.BOOKED
    session.add(mri)
    registry.add_marker(
        session,
        patient=small_pnet,
        name="cga",
        value="50",
        uln="100",
        date="2026-02-01",
        today=TODAY,
    )
    refresh_patient(
        session, patient=small_pnet, settings=settings, today=TODAY, channel=Channel.CLI
    )
    session.refresh(mri)
    assert mri.state == m.ItemState.BOOKED
    assert not [
        i for i in _items(session, small_pnet) if i.kind == "mri" and i.state == m.ItemState.PLANNED
    ]


def test_override_wins_and_says_so(
    session: Session, small_pnet: m.Patient, settings: Settings
) -> None:
    session.add(
        m.PlanOverride(
            patient_id=small_pnet.id or 0,
            kind="mri",
            interval_min=3,
            interval_max=4,
            interval_unit="months",
            reason="anxious patient",
            author="dr.okafor",
        )
    )
    replan_patients(session, patients=[small_pnet], settings=settings, today=TODAY)
    mri = _open(session, small_pnet)["mri"]
    assert mri.target == dt.date(2025, 6, 2)  # 3 months after the anchor, not 6
    assert "override" in mri.rule_id and "dr.okafor" in mri.reason


def test_deceased_patient_has_nothing_planned(
    session: Session, small_pnet: m.Patient, settings: Settings
) -> None:
    replan_patients(session, patients=[small_pnet], settings=settings, today=TODAY)
    small_pnet.deceased_on = dt.date(2026, 6, 1)
    session.add(small_pnet)
    result = replan_patients(session, patients=[small_pnet], settings=settings, today=TODAY)
    assert result.superseded >= 2
    assert _open(session, small_pnet) == {}
    assert small_pnet.plan_note


def test_no_follow_up_verdict_is_stored(session: Session, settings: Settings) -> None:
    patient = registry.enrol_patient(
        session,
        clinic="C",
        data=registry.PatientInput(
            mrn="R1", given_name="Rex", family_name="Tum", birth_date="1980-01-01"
        ),
        tumour=registry.TumourInput(
            site="rectum", ki67="1", size_mm="6", diagnosed_on="2026-01-05"
        ),
        state_kind="resected",
        since="2026-01-05",
        resection="R0",
        today=TODAY,
    )
    replan_patients(session, patients=[patient], settings=settings, today=TODAY)
    assert patient.no_follow_up_rule
    assert _open(session, patient) == {}
