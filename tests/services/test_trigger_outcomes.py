"""Issue 14.6 for triggers (SQLite and PostgreSQL): resolving takes a coded outcome from the
clinic's ``[reasons] trigger_outcome`` plus words; false_alarm and measurement_error revert the
trigger's consequences, the others decline what it only proposed; a bad code or "other"
without words is refused naming the field and writes nothing; the reasons report counts the
codes by trigger kind (and a resolution from before codes by its words, once)."""

import dataclasses
import datetime as dt

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from surveil.config import ReasonSettings, Settings
from surveil.db import models as m
from surveil.errors import InvalidInput
from surveil.services.records import trigger_review as decisions
from surveil.services.reports.reasons import ReasonCount, count_reasons
from tests.services.conftest import TODAY
from tests.services.test_trigger_decisions import (
    DOCTOR,
    NOW,
    _consequences,
    _grow,
    _snapshot,
    _states,
)


def _resolve(engine: sa.Engine, settings: Settings, trigger: m.Trigger, **kw: object) -> str:
    return decisions.resolve_trigger(
        engine, trigger_id=trigger.id or 0, actor=DOCTOR, settings=settings, today=TODAY,
        now=NOW, **kw,  # type: ignore[arg-type]
    ).message  # fmt: skip


def _trigger(engine: sa.Engine, trigger_id: int | None) -> tuple[str, str | None]:
    with Session(engine) as s:
        row = s.get_one(m.Trigger, trigger_id)
        return row.state, row.outcome


def _coded(engine: sa.Engine) -> list[tuple[str, str, str, str]]:
    with Session(engine) as s:
        return [(r.action, r.rule_id, r.code, r.note) for r in s.exec(select(m.CodedReason)).all()]


@pytest.mark.parametrize("code", ["measurement_error", "false_alarm"])
def test_a_false_alarm_code_reverts_the_consequences(
    engine: sa.Engine, session: Session, small_pnet: m.Patient, settings: Settings, code: str
) -> None:
    trigger = _grow(session, small_pnet, settings)
    assert _consequences(engine, trigger.id) == {"set_state": "proposed", "imaging": "applied"}
    message = _resolve(engine, settings, trigger, outcome_code=code, outcome="re-measured: 12 mm")
    label = code.replace("_", " ")
    assert f"resolved: {label}: re-measured: 12 mm" in message
    assert _trigger(engine, trigger.id) == ("resolved", f"{label}: re-measured: 12 mm")
    assert _consequences(engine, trigger.id) == {"set_state": "declined", "imaging": "reverted"}
    assert _coded(engine) == [("trigger.resolved", "growth_rate", code, "re-measured: 12 mm")]


def test_a_real_finding_keeps_what_was_applied_and_declines_the_proposals(
    engine: sa.Engine, session: Session, small_pnet: m.Patient, settings: Settings
) -> None:
    trigger = _grow(session, small_pnet, settings)
    _resolve(engine, settings, trigger, outcome_code="clinically_insignificant", outcome="")
    assert _trigger(engine, trigger.id) == ("resolved", "clinically insignificant")
    assert _consequences(engine, trigger.id) == {"set_state": "declined", "imaging": "applied"}
    assert [k for _, k, _ in _states(engine, small_pnet.id)] == ["active_surveillance"]


def test_a_bad_outcome_is_refused_naming_the_field_and_writes_nothing(
    engine: sa.Engine, session: Session, small_pnet: m.Patient, settings: Settings
) -> None:
    trigger = _grow(session, small_pnet, settings)
    before = _snapshot(engine)
    for kw, field in (
        ({"outcome_code": "looked_fine", "outcome": "x"}, "outcome_code"),
        ({"outcome_code": "other", "outcome": " "}, "outcome"),
        ({"outcome": ""}, "outcome"),  # no code: "other", which needs words
        ({"outcome_code": "confirmed_progression", "outcome": "x", "false_alarm": True},
         "outcome_code"),
    ):  # fmt: skip
        with pytest.raises(InvalidInput) as refused:
            _resolve(engine, settings, trigger, **kw)
        assert [p.field for p in refused.value.problems] == [field], kw
        assert _snapshot(engine) == before
        assert _coded(engine) == []


def test_the_clinic_list_is_the_one_offered_and_the_report_counts_the_codes(
    engine: sa.Engine, session: Session, small_pnet: m.Patient, settings: Settings
) -> None:
    trigger = _grow(session, small_pnet, settings)
    clinic = dataclasses.replace(
        settings, reasons=ReasonSettings(trigger_outcome="benign_on_review, other")
    )
    with pytest.raises(InvalidInput, match="not one of benign_on_review, other"):
        _resolve(engine, clinic, trigger, outcome_code="false_alarm", outcome="x")
    _resolve(engine, clinic, trigger, outcome_code="benign_on_review", outcome="MDT")
    with Session(engine) as s:  # resolved before outcomes were coded: counted by its words
        s.add(
            m.Trigger(
                patient_id=small_pnet.id or 0, kind="marker_rise", subject_key="marker_rise:cga",
                fingerprint="marker_rise:cga:2026-11-01", detected_on=dt.date(2026, 11, 1),
                explanation="CgA up", state="resolved", outcome="repeat off PPI",
                resolved_by="dora", resolved_at=dt.datetime(2026, 11, 2, tzinfo=dt.UTC),
            )
        )  # fmt: skip
        s.commit()
    found = [c for c in count_reasons(engine, actor=DOCTOR) if c.decision == "trigger resolved"]
    assert sorted(found, key=lambda c: c.rule) == [
        ReasonCount("trigger resolved", "growth_rate", "benign_on_review", 1),
        ReasonCount("trigger resolved", "marker_rise", "repeat off PPI", 1),
    ]
