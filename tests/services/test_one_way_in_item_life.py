"""One way in, for issue 14's entry points (bookings that did not happen, reopening, late work,
the reasons report): each leaves exactly its audit rows, and a refused call (bad input, another
clinic's user, a navigator where a clinician must decide) leaves neither data nor an audit row.
"""

from collections.abc import Callable
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from surveil.config import Settings
from surveil.services.actor import Actor
from surveil.services.entry import ENTRY_POINTS
from surveil.services.records import actions, bookings, late, reopen
from surveil.services.records.actions import DoneInput
from tests.services.item_life import DR, NINA, TODAY, Seed, seed_patient
from tests.services.test_one_way_in_records import (
    another_clinic,
    as_rows,
    audit_rows,
    refused_leaves_nothing,
)

Row = tuple[str, str, str, int | None, str | None]
Call = Callable[[sa.Engine, Seed, Actor, Settings], object]


@dataclass(frozen=True)
class Case:
    entry_point: str
    actor: Actor
    prepare: Call  # what the world needs first (its audit rows are not the case's)
    call: Call
    bad: Call
    expect: Callable[[Seed], list[Row]]


def by(actor: Actor, action: str, patient: int | None, subject: str | None) -> Row:
    return (action, actor.username, str(actor.channel), patient, subject)


def _booked(engine: sa.Engine, s: Seed, _actor: Actor, _settings: Settings) -> object:
    return actions.mark_booked(
        engine, item_id=s.mri, actor=NINA, date="2026-12-01", time="09:30", today=TODAY
    )


def _unbook(function: Callable[..., object], note: str) -> Call:
    return lambda engine, s, actor, settings: function(
        engine, item_id=s.mri, actor=actor, note=note, settings=settings, today=TODAY
    )


def _done(engine: sa.Engine, s: Seed, _actor: Actor, settings: Settings) -> object:
    return actions.mark_done(
        engine,
        item_id=s.mri,
        actor=NINA,
        data=DoneInput(completed_on="2026-11-20"),
        settings=settings,
        today=TODAY,
    )


def _nothing(_engine: sa.Engine, _s: Seed, _actor: Actor, _settings: Settings) -> object:
    return None


def _reopen(code: str, reason: str) -> Call:
    return lambda engine, s, actor, settings: reopen.reopen_item(
        engine,
        item_id=s.mri,
        actor=actor,
        reason_code=code,
        reason=reason,
        settings=settings,
        today=TODAY,
    )


def _late(day: str, where: str | None) -> Call:
    return lambda engine, s, actor, settings: late.record_late_result(
        engine,
        item_id=s.mri,
        actor=actor,
        data=DoneInput(completed_on=day),
        where=where,
        on_paper=False,
        settings=settings,
        today=TODAY,
    )


CASES = [
    Case(
        "surveil.services.records.reopen.reopen_item",
        DR,
        _done,
        _reopen("recorded_in_error", "wrong patient's scan"),
        _reopen("recorded_in_error", ""),
        lambda s: [by(DR, "item.reopened", s.patient, f"item:{s.mri}")],
    ),
    Case(
        "surveil.services.records.late.record_late_result",
        NINA,
        _nothing,
        _late("2026-11-05", "St Mary's"),
        _late("2026-11-05", None),
        lambda s: [by(NINA, "item.done_late", s.patient, f"item:{s.mri}")],
    ),
    Case(
        "surveil.services.records.bookings.cancel_booking",
        NINA,
        _booked,
        _unbook(bookings.cancel_booking, "patient rang"),
        _unbook(bookings.cancel_booking, "bad\x00note"),
        lambda s: [by(NINA, "booking.cancelled", s.patient, f"item:{s.mri}")],
    ),
    Case(
        "surveil.services.records.bookings.record_no_show",
        NINA,
        _booked,
        _unbook(bookings.record_no_show, "did not come"),
        _unbook(bookings.record_no_show, "x" * 301),
        lambda s: [by(NINA, "booking.no_show", s.patient, f"item:{s.mri}")],
    ),
]
COVERED: frozenset[str] = frozenset(case.entry_point for case in CASES)


def test_each_case_names_an_entry_point() -> None:
    assert set(ENTRY_POINTS) >= COVERED


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.entry_point.rsplit(".", 1)[-1])
def test_an_entry_point_audits_its_change_and_a_refusal_leaves_nothing(
    case: Case, engine: sa.Engine, settings: Settings
) -> None:
    seed = seed_patient(engine, settings)
    case.prepare(engine, seed, case.actor, settings)
    already = len(audit_rows(engine))
    refused_leaves_nothing(engine, lambda: case.bad(engine, seed, case.actor, settings))
    outsider = another_clinic(case.actor)
    refused_leaves_nothing(engine, lambda: case.call(engine, seed, outsider, settings))

    case.call(engine, seed, case.actor, settings)

    events = audit_rows(engine)[already:]
    with Session(engine):
        assert as_rows(events) == case.expect(seed)
    declared = set(ENTRY_POINTS[case.entry_point].actions)
    assert {e.action for e in events} <= declared, "an action the entry point does not declare"
