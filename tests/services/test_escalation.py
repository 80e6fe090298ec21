"""Escalation: a finding becomes one stored trigger, an escalation item and the pack's
consequence; re-evaluation never duplicates; results re-evaluate in the same transaction."""

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.config import Settings
from surveil.core.vocab import Channel
from surveil.db import models as m
from surveil.errors import Conflict, InvalidInput
from surveil.resources import resource_dir
from surveil.services.actor import Actor
from surveil.services.planning.care import refresh_patient
from surveil.services.records import trigger_review as decisions
from surveil.services.registry import patients as registry
from surveil.services.triggers import escalation as service
from surveil.services.triggers import review
from tests.services.conftest import TODAY


def _grow(session: Session, patient: m.Patient, settings: Settings) -> None:
    for day, mm in (("2025-03-02", "12"), ("2025-11-20", "18")):
        registry.add_measurement(
            session,
            patient=patient,
            lesion="L1",
            date=day,
            diameter_mm=mm,
            modality="mri",
            today=TODAY,
        )
        refresh_patient(
            session, patient=patient, settings=settings, today=TODAY, channel=Channel.CLI
        )
    session.commit()


def _triggers(session: Session, patient: m.Patient) -> list[m.Trigger]:
    return list(session.exec(select(m.Trigger).where(m.Trigger.patient_id == patient.id)))


def test_growth_escalates_once(session: Session, small_pnet: m.Patient, settings: Settings) -> None:
    _grow(session, small_pnet, settings)
    (trigger,) = _triggers(session, small_pnet)
    assert trigger.kind == "growth_rate" and trigger.state == "open"
    assert "12 → 18 mm" in trigger.explanation and "8.33 mm/year" in trigger.explanation
    board = session.get(m.FollowUpItem, trigger.item_id)
    assert board is not None and board.kind == "tumour_board"
    assert board.latest <= TODAY + dt.timedelta(days=14)
    states = session.exec(
        select(m.DiseaseState)
        .where(m.DiseaseState.patient_id == small_pnet.id)
        .order_by(col(m.DiseaseState.id))
    ).all()
    # Leaving surveillance waits for a clinician (apply: set_state on_confirm): proposed only.
    assert [s.kind for s in states] == ["active_surveillance"]
    consequences = session.exec(
        select(m.TriggerConsequence).where(m.TriggerConsequence.trigger_id == trigger.id)
    ).all()
    assert {(c.kind, c.status, c.to_state) for c in consequences} == {
        ("set_state", "proposed", "advanced"),
        ("imaging", "applied", None),
    }
    # Imaging is shortened to 3–6 months at once (on_open) while the trigger is unresolved.
    scans = [
        i
        for i in session.exec(
            select(m.FollowUpItem).where(
                m.FollowUpItem.patient_id == small_pnet.id, m.FollowUpItem.state == "planned"
            )
        )
        if i.kind in ("mri", "ct", "ct_or_mri")
    ]
    assert scans and all("trigger #" in s.reason for s in scans)
    # Re-evaluating, on this day or later, opens nothing new.
    refresh_patient(
        session, patient=small_pnet, settings=settings, today=TODAY, channel=Channel.CLI
    )
    refresh_patient(
        session,
        patient=small_pnet,
        settings=settings,
        today=TODAY + dt.timedelta(days=30),
        channel=Channel.CLI,
    )
    assert len(_triggers(session, small_pnet)) == 1


def _state_on_open(settings: Settings, folder: Path) -> Settings:
    """The shipped pack, but leaving surveillance applied as soon as a trigger fires."""
    pack = (resource_dir("schedules", None) / "net-default.toml").read_text(encoding="utf-8")
    confirm = 'apply = { set_state = "on_confirm", imaging = "on_open" }'
    assert pack.count(confirm) == 2
    (folder / "net-default.toml").write_text(pack.replace(confirm, 'apply = "on_open"'), "utf-8")
    return replace(settings, paths=replace(settings.paths, schedules=folder))


def test_two_findings_at_once_move_the_patient_out_of_surveillance_once(
    session: Session, small_pnet: m.Patient, settings: Settings, tmp_path: Path
) -> None:
    """Growth and size fire on the same scan; each consequence says "leave surveillance" (on
    open, in this pack), and the patient leaves it once (one new episode, not one per finding)."""
    settings = _state_on_open(settings, tmp_path)
    for day, mm in (("2025-03-02", "12"), ("2025-11-20", "23")):
        registry.add_measurement(
            session,
            patient=small_pnet,
            lesion="L1",
            date=day,
            diameter_mm=mm,
            modality="mri",
            today=TODAY,
        )
    refresh_patient(
        session, patient=small_pnet, settings=settings, today=TODAY, channel=Channel.WEB
    )
    session.commit()
    assert {t.kind for t in _triggers(session, small_pnet)} == {"growth_rate", "size"}
    states = session.exec(
        select(m.DiseaseState)
        .where(m.DiseaseState.patient_id == small_pnet.id)
        .order_by(col(m.DiseaseState.id))
    ).all()
    assert [(s.kind, s.end_date) for s in states] == [
        ("active_surveillance", TODAY),
        ("advanced", None),
    ]


def test_lifecycle_ack_then_resolve(
    engine: sa.Engine, session: Session, small_pnet: m.Patient, settings: Settings
) -> None:
    _grow(session, small_pnet, settings)
    (trigger,) = _triggers(session, small_pnet)
    session.commit()  # the entry points open their own transactions
    tid = trigger.id or 0
    nurse = Actor("nurse", "navigator", small_pnet.clinic)
    doctor = Actor("dr", "clinician", small_pnet.clinic)
    now = dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC)
    review.acknowledge_trigger(engine, trigger_id=tid, actor=nurse, now=now)
    with pytest.raises(Conflict):
        review.acknowledge_trigger(engine, trigger_id=tid, actor=nurse, now=now)
    with Session(engine) as fresh:
        open_now = service.list_triggers(fresh, open_only=True)
        assert [t.id for t, _ in open_now] == [tid]  # acknowledged stays visible
    decide = {"settings": settings, "today": TODAY, "now": now}
    with pytest.raises(InvalidInput, match="outcome"):
        decisions.resolve_trigger(engine, trigger_id=tid, actor=doctor, outcome=" ", **decide)
    outcome = "tumour board: continue surveillance"
    decisions.resolve_trigger(engine, trigger_id=tid, actor=doctor, outcome=outcome, **decide)
    session.refresh(trigger)
    assert service.list_triggers(session, open_only=True) == []
    assert (trigger.acknowledged_by, trigger.resolved_by, trigger.outcome) == (
        "nurse",
        "dr",
        outcome,
    )
    # The same finding never reopens once resolved.
    refresh_patient(
        session, patient=small_pnet, settings=settings, today=TODAY, channel=Channel.CLI
    )
    assert len(_triggers(session, small_pnet)) == 1


def test_confounded_marker_asks_for_repeat_only(
    session: Session, small_pnet: m.Patient, settings: Settings
) -> None:
    registry.add_marker(
        session,
        patient=small_pnet,
        name="cga",
        value="100",
        uln="100",
        date="2026-01-10",
        on_ppi=True,
        today=TODAY,
    )
    registry.add_marker(
        session,
        patient=small_pnet,
        name="cga",
        value="300",
        uln="100",
        date="2026-04-10",
        on_ppi=True,
        today=TODAY,
    )
    refresh_patient(
        session, patient=small_pnet, settings=settings, today=TODAY, channel=Channel.CLI
    )
    (trigger,) = _triggers(session, small_pnet)
    assert trigger.kind == "marker_rise" and trigger.confounded
    assert "PPI" in trigger.action or "proton" in trigger.action.lower()
    assert trigger.item_id is None  # no escalation on a confounded rise


def test_failed_recording_leaves_no_trace(
    engine: object, small_pnet: m.Patient, settings: Settings
) -> None:
    from surveil.db.session import session_scope

    with pytest.raises(InvalidInput), session_scope(engine) as session:  # type: ignore[arg-type]
        patient = session.get(m.Patient, small_pnet.id)
        assert patient is not None
        registry.add_measurement(
            session,
            patient=patient,
            lesion="L1",
            date="2025-03-02",
            diameter_mm="12",
            modality="mri",
            today=TODAY,
        )
        refresh_patient(
            session, patient=patient, settings=settings, today=TODAY, channel=Channel.CLI
        )
        registry.add_measurement(
            session,
            patient=patient,
            lesion="L1",
            date="2999-01-01",
            diameter_mm="30",
            modality="mri",
            today=TODAY,
        )
    with session_scope(engine) as session:  # type: ignore[arg-type]
        assert session.exec(select(m.Measurement)).all() == []
        assert session.exec(select(m.FollowUpItem)).all() == []


def test_the_action_text_names_the_profiles_own_board_deadline(
    session: Session, small_pnet: m.Patient, settings: Settings, tmp_path: Path
) -> None:
    """A profile may ask for the board sooner than its thresholds' default (14 days): the
    nurse's action text and the escalation item then both say the same, 7 days."""
    pack = (resource_dir("schedules", None) / "net-default.toml").read_text(encoding="utf-8")
    growth = '[profiles.default.on_trigger.growth_rate]\nrefer = "tumour_board"\n'
    assert pack.count(growth + "refer_within_days = 14\n") == 1
    (tmp_path / "net-default.toml").write_text(
        pack.replace(growth + "refer_within_days = 14\n", growth + "refer_within_days = 7\n"),
        encoding="utf-8",
    )
    sooner = replace(settings, paths=replace(settings.paths, schedules=tmp_path))
    _grow(session, small_pnet, sooner)
    (trigger,) = _triggers(session, small_pnet)
    assert "tumour board review within 7 days" in trigger.action
    board = session.get(m.FollowUpItem, trigger.item_id)
    assert board is not None and board.latest == TODAY + dt.timedelta(days=7)
