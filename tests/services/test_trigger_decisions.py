"""Issue 14 (4, 5, undo of 3): a trigger's consequences are proposals applied as the pack says,
a false alarm reverts all of them, only clinicians make clinical decisions, and a resolution can
be re-opened. On a real registry, SQLite and PostgreSQL, through the entry points."""

import copy
import datetime as dt
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.config import Settings
from surveil.core.protocol import Apply
from surveil.core.protocol_pack import parse_pack
from surveil.core.vocab import Channel
from surveil.db import models as m
from surveil.errors import Conflict, InvalidInput, PermissionDenied, RuleError
from surveil.resources import resource_dir
from surveil.services.actor import Actor
from surveil.services.planning.care import refresh_patient
from surveil.services.planning.plans import paused_patients
from surveil.services.records import trigger_review as decisions
from surveil.services.registry import patients as registry
from surveil.services.triggers import review, roles
from tests.services.conftest import TODAY

COVERED: frozenset[str] = frozenset(
    {
        "surveil.services.records.trigger_review.confirm_consequences",
        "surveil.services.records.trigger_review.reopen_trigger",
        "surveil.services.triggers.review.note_trigger",
    }
)
CLINIC = "Neuroendocrine Tumour Clinic"
NURSE = Actor("nina", "navigator", CLINIC, channel=Channel.CLI, os_user="ops")
DOCTOR = Actor("dora", "clinician", CLINIC, channel=Channel.WEB, ip="10.0.0.9")
ADMIN = Actor("root", "admin", CLINIC, channel=Channel.CLI)
NOW = dt.datetime(2026, 11, 23, 10, 30, tzinfo=dt.UTC)
SHIPPED_APPLY = 'apply = { set_state = "on_confirm", imaging = "on_open" }'


def _decide() -> dict[str, Any]:
    return {"today": TODAY, "now": NOW}


def _pack(settings: Settings, folder: Path, old: str, new: str) -> Settings:
    pack = (resource_dir("schedules", None) / "net-default.toml").read_text(encoding="utf-8")
    assert old in pack
    (folder / "net-default.toml").write_text(pack.replace(old, new), encoding="utf-8")
    return replace(settings, paths=replace(settings.paths, schedules=folder))


def _grow(session: Session, patient: m.Patient, settings: Settings) -> m.Trigger:
    """12 mm, then 18 mm 8.6 months later: 8.3 mm/year, a growth trigger."""
    for day, mm in (("2025-03-02", "12"), ("2025-11-20", "18")):
        registry.add_measurement(
            session, patient=patient, lesion="L1", date=day, diameter_mm=mm, modality="mri",
            today=TODAY,
        )  # fmt: skip
        refresh_patient(
            session, patient=patient, settings=settings, today=TODAY, channel=Channel.CLI
        )
    trigger = session.exec(select(m.Trigger).where(m.Trigger.patient_id == patient.id)).one()
    _settle(session)
    return trigger


def _settle(session: Session) -> None:
    """Commit, keeping the rows readable without a new transaction: on SQLite every transaction
    takes the write lock (db.engine), and the entry points open their own."""
    session.expire_on_commit = False
    session.commit()


def _states(engine: sa.Engine, patient_id: int | None) -> list[tuple[int | None, str, Any]]:
    with Session(engine) as s:
        rows = s.exec(
            select(m.DiseaseState)
            .where(m.DiseaseState.patient_id == patient_id)
            .order_by(col(m.DiseaseState.id))
        ).all()
        return [(r.id, r.kind, r.end_date) for r in rows]


def _consequences(engine: sa.Engine, trigger_id: int | None) -> dict[str, str]:
    with Session(engine) as s:
        rows = s.exec(
            select(m.TriggerConsequence).where(m.TriggerConsequence.trigger_id == trigger_id)
        ).all()
        return {r.kind: r.status for r in rows}


def _scan_reasons(engine: sa.Engine, patient_id: int | None) -> list[str]:
    """The reasons of the planned scans: a shortened interval names its trigger."""
    with Session(engine) as s:
        rows = s.exec(
            select(m.FollowUpItem).where(
                m.FollowUpItem.patient_id == patient_id,
                m.FollowUpItem.state == m.ItemState.PLANNED,
                col(m.FollowUpItem.kind).in_(("mri", "ct", "ct_or_mri")),
            )
        ).all()
        return [r.reason for r in rows]


def _audit(engine: sa.Engine, after_id: int = 0) -> list[tuple[str, str, str | None]]:
    with Session(engine) as s:
        rows = s.exec(
            select(m.AuditEvent).where(m.AuditEvent.id > after_id).order_by(col(m.AuditEvent.id))
        ).all()
        return [(r.action, r.actor, r.subject) for r in rows]


def _last_audit_id(engine: sa.Engine) -> int:
    with Session(engine) as s:
        return int(s.exec(select(sa.func.coalesce(sa.func.max(m.AuditEvent.id), 0))).one())


def _snapshot(engine: sa.Engine) -> tuple[object, ...]:
    with Session(engine) as s:
        return (
            [(t.id, t.state, t.outcome) for t in s.exec(select(m.Trigger))],
            [(c.id, c.status) for c in s.exec(select(m.TriggerConsequence))],
            [(d.id, d.kind, d.end_date) for d in s.exec(select(m.DiseaseState))],
            [(i.id, i.state) for i in s.exec(select(m.FollowUpItem))],
            s.exec(select(sa.func.count()).select_from(m.AuditEvent)).one(),
        )


# --------------------------------------------------------------------------- the pack's word


def _raw_pack() -> dict[str, Any]:
    text = (resource_dir("schedules", None) / "net-default.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def test_the_shipped_pack_proposes_state_changes_and_shortens_imaging_at_once() -> None:
    growth = parse_pack(_raw_pack(), where="net").profile().on_trigger["growth_rate"]
    assert growth.when("set_state") is Apply.ON_CONFIRM
    assert growth.when("imaging") is Apply.ON_OPEN
    assert growth.pause_plan is False


@pytest.mark.parametrize(
    ("apply", "set_state", "imaging"),
    [
        ("on_open", Apply.ON_OPEN, Apply.ON_OPEN),
        ("on_confirm", Apply.ON_CONFIRM, Apply.ON_CONFIRM),
        ({"imaging": "on_confirm"}, Apply.ON_CONFIRM, Apply.ON_CONFIRM),
        ({"set_state": "on_open"}, Apply.ON_OPEN, Apply.ON_OPEN),
    ],
)
def test_apply_is_read_for_all_or_for_each_consequence(
    apply: object, set_state: Apply, imaging: Apply
) -> None:
    raw = _raw_pack()
    raw["profiles"]["default"]["on_trigger"]["growth_rate"]["apply"] = apply
    growth = parse_pack(raw, where="net").profile().on_trigger["growth_rate"]
    assert (growth.when("set_state"), growth.when("imaging")) == (set_state, imaging)


@pytest.mark.parametrize(
    ("apply", "message"),
    [
        ("at_once", "apply"),
        ({"set_sate": "on_open"}, "set_sate: unknown key"),
        ({"imaging": "later"}, "apply.imaging"),
        (3, "apply"),
    ],
)
def test_a_bad_apply_is_refused_with_its_place(apply: object, message: str) -> None:
    raw = copy.deepcopy(_raw_pack())
    raw["profiles"]["default"]["on_trigger"]["growth_rate"]["apply"] = apply
    with pytest.raises(RuleError, match=message):
        parse_pack(raw, where="net")


# --------------------------------------------------------------------------- proposals, roles


def test_growth_proposes_leaving_surveillance_and_a_clinician_confirms_it(
    engine: sa.Engine, session: Session, small_pnet: m.Patient, settings: Settings
) -> None:
    trigger = _grow(session, small_pnet, settings)
    first_state = _states(engine, small_pnet.id)
    assert [kind for _, kind, _ in first_state] == ["active_surveillance"]
    assert _consequences(engine, trigger.id) == {"set_state": "proposed", "imaging": "applied"}
    assert all("trigger #" in reason for reason in _scan_reasons(engine, small_pnet.id))

    # A navigator (or an administrator) may not confirm a clinical decision: nothing changes.
    for who in (NURSE, ADMIN):
        before = _snapshot(engine)
        with pytest.raises(PermissionDenied, match="clinician"):
            decisions.confirm_consequences(
                engine, trigger_id=trigger.id or 0, actor=who, settings=settings, **_decide()
            )
        assert _snapshot(engine) == before

    mark = _last_audit_id(engine)
    result = decisions.confirm_consequences(
        engine, trigger_id=trigger.id or 0, actor=DOCTOR, settings=settings, **_decide()
    )
    assert "leave active surveillance for advanced" in result.message
    states = _states(engine, small_pnet.id)
    assert [(kind, end) for _, kind, end in states] == [
        ("active_surveillance", TODAY),
        ("advanced", None),
    ]
    assert _audit(engine, mark) == [
        ("state.set", "dora", f"state:{states[1][0]}"),
        ("trigger.confirmed", "dora", f"trigger:{trigger.id}"),
    ]
    assert _consequences(engine, trigger.id) == {"set_state": "applied", "imaging": "applied"}
    with pytest.raises(Conflict, match="no proposed consequence"):
        decisions.confirm_consequences(
            engine, trigger_id=trigger.id or 0, actor=DOCTOR, settings=settings, **_decide()
        )


@pytest.mark.parametrize("kind", ["growth_rate", "size", "recist", "marker_rise", "grade_change"])
def test_clinical_findings_wait_for_a_clinician(kind: str) -> None:
    assert roles.is_clinical(kind)
    assert not roles.may_resolve(NURSE, kind) and not roles.may_resolve(ADMIN, kind)
    assert roles.may_resolve(DOCTOR, kind)


def test_a_navigator_acknowledges_a_growth_trigger_but_cannot_resolve_it(
    engine: sa.Engine, session: Session, small_pnet: m.Patient, settings: Settings
) -> None:
    trigger = _grow(session, small_pnet, settings)
    tid = trigger.id or 0
    review.acknowledge_trigger(engine, trigger_id=tid, actor=NURSE, now=NOW)
    before = _snapshot(engine)
    with pytest.raises(PermissionDenied, match="only a clinician may resolve"):
        decisions.resolve_trigger(
            engine, trigger_id=tid, actor=NURSE, outcome="benign", settings=settings, **_decide()
        )
    assert _snapshot(engine) == before
    decisions.resolve_trigger(
        engine, trigger_id=tid, actor=DOCTOR, outcome="tumour board: surgery",
        settings=settings, **_decide(),
    )  # fmt: skip
    with Session(engine) as s:
        done = s.get(m.Trigger, tid)
        assert done is not None
        assert (done.state, done.acknowledged_by, done.resolved_by) == ("resolved", "nina", "dora")
    # Closed without confirming: the proposal is recorded as never applied.
    assert _consequences(engine, tid)["set_state"] == "declined"


def test_a_navigator_adds_a_note_kept_in_the_audit_and_a_bad_one_writes_nothing(
    engine: sa.Engine, session: Session, small_pnet: m.Patient, settings: Settings
) -> None:
    trigger = _grow(session, small_pnet, settings)
    tid = trigger.id or 0
    for bad in ("  ", "x" * 501):
        before = _snapshot(engine)
        with pytest.raises(InvalidInput, match="note"):
            review.note_trigger(engine, trigger_id=tid, actor=NURSE, note=bad, now=NOW)
        assert _snapshot(engine) == before
    mark = _last_audit_id(engine)
    review.note_trigger(
        engine, trigger_id=tid, actor=NURSE, note="patient called:\nMRI booked", now=NOW
    )
    assert _audit(engine, mark) == [("trigger.noted", "nina", f"trigger:{tid}")]
    with Session(engine) as s:
        event = s.exec(select(m.AuditEvent).where(m.AuditEvent.id > mark)).one()
        assert event.detail.endswith("patient called: MRI booked")


def test_a_navigator_closes_a_missed_injection(
    engine: sa.Engine, session: Session, small_pnet: m.Patient, settings: Settings
) -> None:
    trigger = m.Trigger(
        patient_id=small_pnet.id or 0, kind="ssa_overdue", subject_key="ssa_overdue:ssa",
        fingerprint="ssa_overdue:ssa:2026-11-01", detected_on=TODAY, explanation="dose missed",
    )  # fmt: skip
    session.add(trigger)
    session.flush()
    _settle(session)
    assert not roles.is_clinical("ssa_overdue")
    decisions.resolve_trigger(
        engine, trigger_id=trigger.id or 0, actor=NURSE, outcome="patient called: dose given",
        settings=settings, **_decide(),
    )  # fmt: skip
    assert _audit(engine)[-1] == ("trigger.resolved", "nina", f"trigger:{trigger.id}")


# --------------------------------------------------------------------------- false alarms


def test_a_false_alarm_reverts_the_state_and_the_imaging_but_keeps_the_board(
    engine: sa.Engine, session: Session, small_pnet: m.Patient, settings: Settings
) -> None:
    """The journey of issue 14: growth fires, a clinician confirms leaving surveillance, the
    board finds a measurement error. The patient is back on surveillance in the same episode,
    the imaging interval is the protocol's again, and the board item stays."""
    trigger = _grow(session, small_pnet, settings)
    tid = trigger.id or 0
    original = _states(engine, small_pnet.id)
    decisions.confirm_consequences(
        engine, trigger_id=tid, actor=DOCTOR, settings=settings, **_decide()
    )
    mark = _last_audit_id(engine)
    result = decisions.resolve_trigger(
        engine, trigger_id=tid, actor=DOCTOR, outcome="measurement error", false_alarm=True,
        settings=settings, **_decide(),
    )  # fmt: skip
    assert "undone" in result.message
    assert _states(engine, small_pnet.id) == [(original[0][0], "active_surveillance", None)]
    assert _consequences(engine, tid) == {"set_state": "reverted", "imaging": "reverted"}
    reasons = _scan_reasons(engine, small_pnet.id)
    assert reasons and not any("trigger #" in r for r in reasons)
    with Session(engine) as s:
        done = s.get(m.Trigger, tid)
        assert done is not None and done.outcome == "false alarm: measurement error"
        board = s.get(m.FollowUpItem, done.item_id)
        assert board is not None and board.state == m.ItemState.PLANNED
    assert [(a, who) for a, who, _ in _audit(engine, mark)] == [
        ("state.reverted", "dora"),
        ("trigger.resolved", "dora"),
    ]


def test_a_false_alarm_reverts_a_state_change_applied_on_open(
    engine: sa.Engine,
    session: Session,
    small_pnet: m.Patient,
    settings: Settings,
    tmp_path: Path,
) -> None:
    settings = _pack(settings, tmp_path, SHIPPED_APPLY, 'apply = "on_open"')
    trigger = _grow(session, small_pnet, settings)
    moved = _states(engine, small_pnet.id)
    assert [(kind, end) for _, kind, end in moved] == [
        ("active_surveillance", TODAY),
        ("advanced", None),
    ]
    decisions.resolve_trigger(
        engine, trigger_id=trigger.id or 0, actor=DOCTOR, outcome="repeat scan: stable",
        false_alarm=True, settings=settings, **_decide(),
    )  # fmt: skip
    assert _states(engine, small_pnet.id) == [(moved[0][0], "active_surveillance", None)]


def test_a_false_alarm_cancels_an_unbooked_order(
    engine: sa.Engine, session: Session, small_pnet: m.Patient, settings: Settings
) -> None:
    for day, value in (("2026-05-01", "100"), ("2026-11-01", "300")):
        registry.add_marker(
            session, patient=small_pnet, name="cga", value=value, uln="100", date=day, today=TODAY
        )
    refresh_patient(
        session, patient=small_pnet, settings=settings, today=TODAY, channel=Channel.CLI
    )
    trigger = session.exec(select(m.Trigger).where(m.Trigger.kind == "marker_rise")).one()
    _settle(session)
    assert _consequences(engine, trigger.id) == {"order": "applied"}
    decisions.resolve_trigger(
        engine, trigger_id=trigger.id or 0, actor=DOCTOR, outcome="lab error", false_alarm=True,
        settings=settings, **_decide(),
    )  # fmt: skip
    with Session(engine) as s:
        (row,) = s.exec(
            select(m.TriggerConsequence).where(m.TriggerConsequence.trigger_id == trigger.id)
        ).all()
        order = s.get(m.FollowUpItem, row.item_id)
        assert order is not None and order.kind == "sstr_pet"
        assert order.state == m.ItemState.CANCELLED and "false alarm" in order.outcome_note


# --------------------------------------------------------------------------- re-opening


def test_a_clinician_reopens_a_false_alarm_and_its_consequences_come_back(
    engine: sa.Engine, session: Session, small_pnet: m.Patient, settings: Settings
) -> None:
    trigger = _grow(session, small_pnet, settings)
    tid = trigger.id or 0
    decisions.resolve_trigger(
        engine, trigger_id=tid, actor=DOCTOR, outcome="measurement error", false_alarm=True,
        settings=settings, **_decide(),
    )  # fmt: skip
    assert not any("trigger #" in r for r in _scan_reasons(engine, small_pnet.id))
    for who in (NURSE, ADMIN):
        before = _snapshot(engine)
        with pytest.raises(PermissionDenied, match="clinician"):
            decisions.reopen_trigger(
                engine, trigger_id=tid, actor=who, reason="second look", settings=settings,
                **_decide(),
            )  # fmt: skip
        assert _snapshot(engine) == before
    with pytest.raises(InvalidInput, match="reason"):
        decisions.reopen_trigger(
            engine, trigger_id=tid, actor=DOCTOR, reason=" ", settings=settings, **_decide()
        )
    mark = _last_audit_id(engine)
    decisions.reopen_trigger(
        engine, trigger_id=tid, actor=DOCTOR, reason="radiology re-read: growth is real",
        settings=settings, **_decide(),
    )  # fmt: skip
    assert _audit(engine, mark) == [("trigger.reopened", "dora", f"trigger:{tid}")]
    with Session(engine) as s:
        again = s.get(m.Trigger, tid)
        assert again is not None
        assert (again.state, again.outcome, again.resolved_by) == ("acknowledged", None, None)
        event = s.exec(select(m.AuditEvent).where(m.AuditEvent.id > mark)).one()
        assert "measurement error" in (event.before or "")  # the old decision stays on record
    # The imaging (on open) is in force again; leaving surveillance is proposed again.
    assert _consequences(engine, tid) == {"set_state": "proposed", "imaging": "applied"}
    assert all("trigger #" in r for r in _scan_reasons(engine, small_pnet.id))
    with pytest.raises(Conflict, match="not resolved"):
        decisions.reopen_trigger(
            engine, trigger_id=tid, actor=DOCTOR, reason="again", settings=settings, **_decide()
        )


# --------------------------------------------------------------------------- pause_plan


def test_pause_plan_holds_the_protocol_items_until_the_trigger_is_resolved(
    engine: sa.Engine,
    session: Session,
    small_pnet: m.Patient,
    settings: Settings,
    tmp_path: Path,
) -> None:
    """A pack that pauses instead of shortening: while the pause is in force, replanning leaves
    the protocol's items as they are (no new, none superseded); resolving ends the pause."""
    settings = _pack(settings, tmp_path, SHIPPED_APPLY, 'pause_plan = true\napply = "on_open"')
    trigger = _grow(session, small_pnet, settings)
    assert _consequences(engine, trigger.id)["pause_plan"] == "applied"
    with Session(engine) as s:
        assert paused_patients(s, [small_pnet.id or 0]) == {small_pnet.id}
    # The shortened imaging is held too: the scans are still the protocol's.
    assert not any("trigger #" in r for r in _scan_reasons(engine, small_pnet.id))
    decisions.resolve_trigger(
        engine, trigger_id=trigger.id or 0, actor=DOCTOR, outcome="board: resect",
        settings=settings, **_decide(),
    )  # fmt: skip
    with Session(engine) as s:
        assert paused_patients(s, [small_pnet.id or 0]) == set()
