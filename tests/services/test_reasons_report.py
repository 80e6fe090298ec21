"""Coded reasons (issue 14, point 6), on SQLite and PostgreSQL: declines, not-needed, snoozes,
outside-window bookings, overrides and reopenings keep a code from the clinic's list plus free
text, and the report counts them by rule and reason with resolved triggers' outcomes, for the
actor's own clinic only."""

import dataclasses
import datetime as dt

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from surveil.config import ReasonSettings, Settings
from surveil.db import models as m
from surveil.errors import InvalidInput
from surveil.services.actor import Actor
from surveil.services.planning import overrides
from surveil.services.records import actions
from surveil.services.reports.reasons import ReasonCount, count_reasons
from tests.services.item_life import CLINIC, DR, NINA, TODAY, seed_patient

RULE = "pnet-small-surveillance"


def add_override(engine: sa.Engine, settings: Settings, **kw: str | None) -> int:
    args: dict[str, str | None] = {"reason": "anxious", "reason_code": "patient_choice"}
    args.update(kw)
    return overrides.add_override(
        engine, actor=DR, mrn="P1", clinic=CLINIC, kind="mri", every="3", unit="months",
        modality=None, paused_until=None, author="dr.okafor", settings=settings, today=TODAY,
        **args,  # type: ignore[arg-type]
    )  # fmt: skip


def test_every_decision_is_counted_by_rule_and_reason(
    engine: sa.Engine, settings: Settings
) -> None:
    seed = seed_patient(engine, settings)
    seed_patient(engine, settings, mrn="S1", clinic="south")
    actions.mark_declined(
        engine, item_id=seed.cga, actor=NINA, reason="moving", reason_code="cannot_travel"
    )
    actions.snooze(
        engine, item_id=seed.mri, actor=NINA, until="2026-12-01", reason="away",
        reason_code="patient_away", settings=settings, today=TODAY,
    )  # fmt: skip
    add_override(engine, settings)
    with Session(engine) as session:  # a trigger resolved by a clinician
        session.add(
            m.Trigger(
                patient_id=seed.patient, kind="marker_rise", subject_key="marker_rise:cga",
                fingerprint="marker_rise:cga:2026-11-01", detected_on=dt.date(2026, 11, 1),
                explanation="CgA up", state="resolved", outcome="measurement error",
                resolved_by="dr.okafor", resolved_at=dt.datetime(2026, 11, 2, tzinfo=dt.UTC),
            )
        )  # fmt: skip
        session.commit()
    found = count_reasons(engine, actor=NINA)
    assert sorted(found, key=lambda c: c.decision) == [
        ReasonCount("declined", RULE, "cannot_travel", 1),
        ReasonCount("override", "override:mri", "patient_choice", 1),
        ReasonCount("snoozed", RULE, "patient_away", 1),
        ReasonCount("trigger resolved", "marker_rise", "measurement error", 1),
    ]
    south = Actor("sam", "navigator", "south")
    assert count_reasons(engine, actor=south) == []  # another clinic's decisions are not theirs
    assert count_reasons(engine, actor=NINA, since=dt.date(2999, 1, 1)) == []


def test_a_code_not_on_the_list_is_refused_with_every_other_problem(
    engine: sa.Engine, settings: Settings
) -> None:
    seed = seed_patient(engine, settings)
    with pytest.raises(InvalidInput) as refused:
        add_override(engine, settings, reason_code="hunch", reason=" ")
    assert sorted(p.field for p in refused.value.problems) == ["reason", "reason_code"]
    with pytest.raises(InvalidInput, match="'hunch' is not one of patient_choice"):
        actions.mark_declined(engine, item_id=seed.cga, actor=NINA, reason="x", reason_code="hunch")
    assert count_reasons(engine, actor=NINA) == []


def test_the_lists_are_the_clinics_own(engine: sa.Engine, settings: Settings) -> None:
    seed = seed_patient(engine, settings)
    own = dataclasses.replace(settings, reasons=ReasonSettings(declined="needle_phobia"))
    actions.mark_declined(
        engine, item_id=seed.cga, actor=NINA, reason="fear", reason_code="needle_phobia",
        reasons=own.reasons,
    )  # fmt: skip
    assert count_reasons(engine, actor=NINA) == [ReasonCount("declined", RULE, "needle_phobia", 1)]
