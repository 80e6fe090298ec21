"""Bookings against the due window (issue 14, point 1), on SQLite and PostgreSQL: a booking
outside the window needs a coded reason and stays in sight; a booking whose day passed without a
result moves to "booked, no result" after the grace; cancellation and no-show put the item back
to due and keep the attempt."""

import dataclasses
import datetime as dt

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.config import BookingSettings, Settings
from surveil.db import models as m
from surveil.errors import Conflict, InvalidInput
from surveil.services.records import actions, bookings
from surveil.services.records.actions import DoneInput
from tests.services.item_life import NINA, TODAY, Seed, item, seed_patient, where_is

DAY = dt.timedelta(days=1)


@pytest.fixture
def seed(engine: sa.Engine, settings: Settings) -> Seed:
    return seed_patient(engine, settings)


def book(engine: sa.Engine, item_id: int, date: str, **reason: str) -> None:
    actions.mark_booked(
        engine, item_id=item_id, actor=NINA, date=date, time="09:30", today=TODAY, **reason
    )


def attempts(engine: sa.Engine, item_id: int) -> list[tuple[str, str, str | None]]:
    with Session(engine) as session:
        rows = session.exec(
            select(m.BookingAttempt)
            .where(m.BookingAttempt.item_id == item_id)
            .order_by(col(m.BookingAttempt.id))
        )
        return [(a.placement, a.status, a.reason_code) for a in rows]


def reasons(engine: sa.Engine) -> list[tuple[str, str, str, str]]:
    with Session(engine) as session:
        rows = session.exec(select(m.CodedReason).order_by(col(m.CodedReason.id)))
        return [(r.action, r.rule_id, r.code, r.note) for r in rows]


def test_a_booking_inside_the_window_needs_no_reason_and_is_seen_until_its_day(
    engine: sa.Engine, settings: Settings, seed: Seed
) -> None:
    book(engine, seed.mri, "2026-12-10")
    assert attempts(engine, seed.mri) == [("inside", "active", None)]
    assert where_is(engine, settings, TODAY, seed.mri) == ["booked"]
    assert reasons(engine) == []


def test_a_late_booking_needs_a_coded_reason_and_stays_visible_until_done(
    engine: sa.Engine, settings: Settings, seed: Seed
) -> None:
    """The issue's case: window to 2027-05-01, booked for 2027-06-20 (after it)."""
    with pytest.raises(InvalidInput) as refused:
        book(engine, seed.mri, "2027-06-20")
    assert [p.field for p in refused.value.problems] == ["reason_code"]
    assert "after the due window (2026-11-01 – 2027-05-01)" in str(refused.value)
    with pytest.raises(InvalidInput) as other:
        book(engine, seed.mri, "2027-06-20", reason_code="other")
    assert [p.field for p in other.value.problems] == ["reason"]
    with pytest.raises(InvalidInput) as unknown:
        book(engine, seed.mri, "2027-06-20", reason_code="whim")
    assert "'whim' is not one of patient_choice, no_slot" in str(unknown.value)
    assert attempts(engine, seed.mri) == [] and item(engine, seed.mri).state == "planned"

    book(engine, seed.mri, "2027-06-20", reason_code="no_slot", reason="scanner down")
    assert attempts(engine, seed.mri) == [("after", "active", "no_slot")]
    assert reasons(engine) == [
        ("item.booked_outside", "pnet-small-surveillance", "no_slot", "scanner down")
    ]
    # Seen every day from now until it is done: before the appointment, after it, and long
    # after the window closed (where it is also lost to follow-up once the appointment passed).
    for day in (TODAY, dt.date(2027, 3, 1), dt.date(2027, 6, 20), dt.date(2027, 9, 1)):
        assert "booked_outside" in where_is(engine, settings, day, seed.mri), day
    actions.mark_done(
        engine,
        item_id=seed.mri,
        actor=NINA,
        data=DoneInput(completed_on="2026-11-23"),
        settings=settings,
        today=TODAY,
    )
    assert attempts(engine, seed.mri) == [("after", "done", "no_slot")]
    assert where_is(engine, settings, TODAY, seed.mri) == []


def test_an_early_booking_is_marked_before_the_window(
    engine: sa.Engine, settings: Settings, seed: Seed
) -> None:
    with Session(engine) as session:  # a window that opens in the new year
        row = session.get(m.FollowUpItem, seed.cga)
        assert row is not None
        row.earliest, row.target = dt.date(2027, 1, 10), dt.date(2027, 2, 1)
        session.add(row)
        session.commit()
    book(engine, seed.cga, "2026-12-01", reason_code="patient_choice")
    assert attempts(engine, seed.cga) == [("before", "active", "patient_choice")]
    assert where_is(engine, settings, TODAY, seed.cga) == ["booked_outside"]


def test_a_passed_appointment_moves_to_booked_no_result_after_the_grace(
    engine: sa.Engine, settings: Settings, seed: Seed
) -> None:
    book(engine, seed.mri, "2026-12-01")
    grace = settings.bookings.no_result_grace_days
    assert grace == 7
    appointment = dt.date(2026, 12, 1)
    assert "booked_no_result" not in where_is(engine, settings, appointment + grace * DAY, seed.mri)
    later = appointment + (grace + 1) * DAY
    assert "booked_no_result" in where_is(engine, settings, later, seed.mri)
    # The grace is the clinic's setting.
    strict = dataclasses.replace(settings, bookings=BookingSettings(no_result_grace_days=0))
    assert "booked_no_result" in where_is(engine, strict, appointment + DAY, seed.mri)
    assert "booked_no_result" not in where_is(engine, strict, appointment, seed.mri)


@pytest.mark.parametrize(
    ("unbook", "status"),
    [(bookings.cancel_booking, "cancelled"), (bookings.record_no_show, "no_show")],
)
def test_cancellation_and_no_show_put_the_item_back_to_due_keeping_the_attempt(
    engine: sa.Engine, settings: Settings, seed: Seed, unbook: object, status: str
) -> None:
    book(engine, seed.mri, "2026-12-01")
    assert callable(unbook)
    unbook(engine, item_id=seed.mri, actor=NINA, note="rang in", settings=settings, today=TODAY)
    row = item(engine, seed.mri)
    assert (row.state, row.booked_at) == ("planned", None)
    assert where_is(engine, settings, TODAY, seed.mri) == ["due"]
    book(engine, seed.mri, "2027-01-05")
    assert attempts(engine, seed.mri) == [("inside", status, None), ("inside", "active", None)]
    with Session(engine) as session:
        first = session.exec(select(m.BookingAttempt).order_by(col(m.BookingAttempt.id))).first()
        assert first is not None and (first.end_note, first.ended_by) == ("rang in", "nina")
    with pytest.raises(Conflict):  # only a booked item can be cancelled
        bookings.cancel_booking(
            engine, item_id=seed.cga, actor=NINA, note="", settings=settings, today=TODAY
        )


def test_rebooking_ends_the_previous_attempt_as_rebooked(
    engine: sa.Engine, settings: Settings, seed: Seed
) -> None:
    book(engine, seed.mri, "2026-12-01")
    book(engine, seed.mri, "2026-12-08")
    assert attempts(engine, seed.mri) == [
        ("inside", "cancelled", None),
        ("inside", "active", None),
    ]
    assert where_is(engine, settings, TODAY, seed.mri) == ["booked"]


def test_after_the_grace_a_missed_appointment_leaves_due_for_booked_no_result(
    engine: sa.Engine, settings: Settings, seed: Seed
) -> None:
    book(engine, seed.mri, "2026-12-01")
    appointment = dt.date(2026, 12, 1)
    assert where_is(engine, settings, appointment + DAY, seed.mri) == ["due"]
    assert where_is(engine, settings, appointment + 8 * DAY, seed.mri) == ["booked_no_result"]
