"""Undo and late work (issue 14, points 2 and 3), on SQLite and PostgreSQL: a clinician reopens
a done, declined, not-needed or snoozed item with a coded reason and the plan is re-derived (a
navigator is refused); an item done on a past date elsewhere or on paper anchors the next window
on that date; a declined item can still get its result."""

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from surveil.config import Settings
from surveil.db import models as m
from surveil.errors import Conflict, InvalidInput, PermissionDenied
from surveil.services.actor import Actor
from surveil.services.records import actions, late, reopen
from surveil.services.records.actions import DoneInput
from tests.services.item_life import (
    DR,
    NINA,
    TODAY,
    Seed,
    item,
    open_items,
    seed_patient,
    where_is,
)
from tests.services.test_one_way_in_records import refused_leaves_nothing


@pytest.fixture
def seed(engine: sa.Engine, settings: Settings) -> Seed:
    return seed_patient(engine, settings)


def done(engine: sa.Engine, settings: Settings, item_id: int, day: str) -> None:
    actions.mark_done(
        engine,
        item_id=item_id,
        actor=NINA,
        data=DoneInput(completed_on=day),
        settings=settings,
        today=TODAY,
    )


def reopen_as(engine: sa.Engine, settings: Settings, item_id: int, **kw: object) -> object:
    args: dict[str, object] = {"actor": DR, "reason_code": "recorded_in_error", "reason": "typo"}
    args.update(kw)
    return reopen.reopen_item(engine, item_id=item_id, settings=settings, today=TODAY, **args)  # type: ignore[arg-type]


def open_mri(engine: sa.Engine, patient_id: int) -> m.FollowUpItem:
    with Session(engine) as session:
        (row,) = [i for i in open_items(session, patient_id) if i.kind == "mri"]
        return row


def test_a_navigator_may_not_reopen_and_is_told_why(
    engine: sa.Engine, settings: Settings, seed: Seed
) -> None:
    done(engine, settings, seed.mri, "2026-11-20")
    with pytest.raises(PermissionDenied, match="only a clinician may reopen an item"):
        reopen_as(engine, settings, seed.mri, actor=NINA)
    refused_leaves_nothing(engine, lambda: reopen_as(engine, settings, seed.mri, actor=NINA))
    elsewhere = Actor("dr.berg", "clinician", "south")  # a clinician, of another clinic
    refused_leaves_nothing(engine, lambda: reopen_as(engine, settings, seed.mri, actor=elsewhere))


def test_reopening_a_done_item_rederives_the_plan_from_the_original_anchor(
    engine: sa.Engine, settings: Settings, seed: Seed
) -> None:
    first = open_mri(engine, seed.patient)
    done(engine, settings, seed.mri, "2026-11-20")
    after_done = open_mri(engine, seed.patient)
    assert after_done.anchor_date == dt.date(2026, 11, 20)
    assert after_done.earliest > first.earliest

    reopen_as(engine, settings, seed.mri)

    row = item(engine, seed.mri)
    assert row.completed_on is None and row.outcome_note == "reopened: typo"
    again = open_mri(engine, seed.patient)  # the plan re-derived without the completion
    assert (again.earliest, again.latest) == (first.earliest, first.latest)
    assert where_is(engine, settings, TODAY, again.id or 0) == ["due"]
    with Session(engine) as session:
        reopened = session.exec(
            select(m.AuditEvent).where(m.AuditEvent.action == "item.reopened")
        ).one()
        assert reopened.actor == "dr.okafor" and reopened.subject == f"item:{seed.mri}"
        assert '"done"' in (reopened.before or "") and '"planned"' in (reopened.after or "")
        assert '"2026-11-20"' in (reopened.before or "")
        done_event = session.exec(
            select(m.AuditEvent).where(m.AuditEvent.action == "item.done")
        ).one()  # history is not edited: the "done" event is still there
        assert done_event.actor == "nina"
        reason = session.exec(select(m.CodedReason)).one()
        assert (reason.action, reason.code, reason.note) == (
            "item.reopened",
            "recorded_in_error",
            "typo",
        )


@pytest.mark.parametrize("close", ["declined", "not_needed"])
def test_a_declined_or_not_needed_item_is_reopened_to_planned(
    engine: sa.Engine, settings: Settings, seed: Seed, close: str
) -> None:
    mark = actions.mark_declined if close == "declined" else actions.mark_not_needed
    mark(engine, item_id=seed.cga, actor=NINA, reason="phoned", reason_code="other")
    assert where_is(engine, settings, TODAY, seed.cga) == []
    reopen_as(engine, settings, seed.cga, reason_code="patient_changed_mind", reason="now wants it")
    with Session(engine) as session:
        cga = [i for i in open_items(session, seed.patient) if i.kind == "cga"]
        codes = session.exec(select(m.CodedReason.action, m.CodedReason.code)).all()
    assert len(cga) == 1
    assert where_is(engine, settings, TODAY, cga[0].id or 0) == ["due"]
    assert sorted(codes) == sorted(
        [(f"item.{close}", "other"), ("item.reopened", "patient_changed_mind")]
    )


def test_a_snoozed_item_is_woken_and_other_open_items_are_not_reopened(
    engine: sa.Engine, settings: Settings, seed: Seed
) -> None:
    with pytest.raises(Conflict, match="only a done, declined, not-needed or snoozed item"):
        reopen_as(engine, settings, seed.mri)
    actions.snooze(
        engine,
        item_id=seed.mri,
        actor=NINA,
        until="2026-12-10",
        reason="on holiday",
        reason_code="patient_away",
        settings=settings,
        today=TODAY,
    )
    assert where_is(engine, settings, TODAY, seed.mri) == []
    reopen_as(engine, settings, seed.mri, reason_code="other", reason="back early")
    row = item(engine, seed.mri)
    assert (row.snoozed_until, row.snooze_reason, row.state) == (None, "", "planned")
    assert where_is(engine, settings, TODAY, seed.mri) == ["due"]


def test_a_reopening_needs_a_known_code_and_a_reason(
    engine: sa.Engine, settings: Settings, seed: Seed
) -> None:
    done(engine, settings, seed.mri, "2026-11-20")
    with pytest.raises(InvalidInput) as refused:
        reopen_as(engine, settings, seed.mri, reason_code="oops", reason=" ")
    assert sorted(p.field for p in refused.value.problems) == ["reason", "reason_code"]


def late_result(engine: sa.Engine, settings: Settings, item_id: int, **kw: object) -> object:
    args: dict[str, object] = {
        "actor": NINA,
        "data": DoneInput(completed_on="2026-11-05"),
        "where": "St Mary's",
        "on_paper": False,
    }
    args.update(kw)
    return late.record_late_result(
        engine,
        item_id=item_id,
        settings=settings,
        today=TODAY,
        **args,  # type: ignore[arg-type]
    )


def test_done_elsewhere_on_a_past_date_anchors_the_next_window_on_that_date(
    engine: sa.Engine, settings: Settings, seed: Seed
) -> None:
    result = late_result(engine, settings, seed.mri)
    assert "done elsewhere (St Mary's) on 2026-11-05, recorded 2026-11-23" in str(result)
    row = item(engine, seed.mri)
    assert (row.state, row.completed_on) == ("done", dt.date(2026, 11, 5))
    assert row.outcome_note == "done elsewhere (St Mary's)"
    assert open_mri(engine, seed.patient).anchor_date == dt.date(2026, 11, 5)


def test_done_on_paper_and_a_result_for_a_declined_item(
    engine: sa.Engine, settings: Settings, seed: Seed
) -> None:
    actions.mark_declined(engine, item_id=seed.mri, actor=NINA, reason="refused")
    late_result(engine, settings, seed.mri, where=None, on_paper=True)
    row = item(engine, seed.mri)
    assert (row.state, row.outcome_note) == ("done", "done on paper")
    with pytest.raises(Conflict):  # done already: reopen first
        late_result(engine, settings, seed.mri)


def test_late_work_says_every_problem_at_once_and_writes_nothing(
    engine: sa.Engine, settings: Settings, seed: Seed
) -> None:
    def bad() -> object:
        return late_result(
            engine,
            settings,
            seed.cga,
            data=DoneInput(completed_on="2026-12-30"),
            where=None,
            on_paper=False,
        )

    refused_leaves_nothing(engine, bad)
    with pytest.raises(InvalidInput) as refused:
        bad()
    assert sorted(p.field for p in refused.value.problems) == [
        "completed_on",
        "marker_value",
        "where",
    ]
