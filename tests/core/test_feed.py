import datetime as dt
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from surveil.core.feed import (
    DEFAULT_RETENTION,
    EventStatus,
    FeedCalendar,
    FeedEvent,
    FeedItem,
    FeedItemStatus,
    Wording,
    appointment_instant,
    feed_uid,
    make_feed_event,
    select_feed_items,
    wording_for,
)
from surveil.core.vocab import ItemKind
from surveil.errors import InvalidInput

HOST = "surveil.example.org"
STAMP = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 3, 15)


def item(
    status: FeedItemStatus = FeedItemStatus.PLANNED,
    *,
    target: dt.date = dt.date(2026, 4, 30),
    booked_at: dt.datetime | None = None,
    cancelled_on: dt.date | None = None,
    id: int = 1,
) -> FeedItem:
    return FeedItem(
        id=id,
        kind=ItemKind.MRI,
        earliest=target - dt.timedelta(days=30),
        target=target,
        latest=target + dt.timedelta(days=30),
        status=status,
        sequence=0,
        updated_at=STAMP,
        booked_at=booked_at,
        cancelled_on=cancelled_on,
    )


def event_for(it: FeedItem) -> FeedEvent:
    return make_feed_event(it, host=HOST, summary="Follow-up scan due", description="d")


# --- wording ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(ItemKind))
def test_every_kind_has_a_generic_wording(kind: ItemKind) -> None:
    assert isinstance(wording_for(kind), Wording)


@pytest.mark.parametrize(
    ("kind", "wording"),
    [
        (ItemKind.MRI, Wording.SCAN),
        (ItemKind.SSTR_PET, Wording.SCAN),
        (ItemKind.CGA, Wording.BLOOD_TEST),
        (ItemKind.HIAA5, Wording.URINE_TEST),
        (ItemKind.SSA_INJECTION, Wording.INJECTION),
        (ItemKind.ENDOSCOPY, Wording.PROCEDURE),
        (ItemKind.EUS, Wording.PROCEDURE),
        (ItemKind.PRRT_CYCLE, Wording.TREATMENT),
        (ItemKind.CLINIC_VISIT, Wording.APPOINTMENT),
        (ItemKind.TUMOUR_BOARD, Wording.REVIEW),
    ],
)
def test_wording_categories(kind: ItemKind, wording: Wording) -> None:
    assert wording_for(kind) is wording


# --- which items are in the feed -------------------------------------------------------------


def test_planned_and_booked_items_always_show_even_long_overdue() -> None:
    old = dt.date(2020, 1, 1)
    booked_at = dt.datetime(2020, 1, 1, 9, tzinfo=dt.UTC)
    items = [item(target=old), item(FeedItemStatus.BOOKED, target=old, booked_at=booked_at, id=2)]
    assert select_feed_items(items, today=TODAY) == items


@pytest.mark.parametrize(
    "status", [FeedItemStatus.CANCELLED, FeedItemStatus.SUPERSEDED, FeedItemStatus.DONE]
)
def test_closed_items_stay_for_the_retention_period_after_their_date(
    status: FeedItemStatus,
) -> None:
    target = dt.date(2026, 1, 31)
    it = item(status, target=target)
    last_day = target + DEFAULT_RETENTION
    assert select_feed_items([it], today=last_day) == [it]
    assert select_feed_items([it], today=last_day + dt.timedelta(days=1)) == []


def test_retention_counts_from_a_later_cancellation() -> None:
    # Cancelled long after its date: clients must still get to see the cancellation once.
    it = item(FeedItemStatus.CANCELLED, target=dt.date(2025, 6, 1), cancelled_on=TODAY)
    assert select_feed_items([it], today=TODAY + dt.timedelta(days=29)) == [it]
    assert select_feed_items([it], today=TODAY + dt.timedelta(days=31)) == []


def test_retention_of_a_booked_item_uses_the_appointment_date() -> None:
    booked_at = dt.datetime(2026, 1, 10, 9, tzinfo=dt.UTC)
    it = item(FeedItemStatus.CANCELLED, target=dt.date(2026, 3, 1), booked_at=booked_at)
    assert select_feed_items([it], today=dt.date(2026, 2, 9)) == [it]
    assert select_feed_items([it], today=dt.date(2026, 2, 10)) == []


def test_custom_retention_and_input_order_kept() -> None:
    a = item(FeedItemStatus.DONE, target=dt.date(2026, 3, 10), id=5)
    b = item(target=dt.date(2026, 1, 1), id=3)
    assert select_feed_items([a, b], today=TODAY, retention=dt.timedelta(days=7)) == [a, b]
    assert select_feed_items([a, b], today=TODAY, retention=dt.timedelta(days=4)) == [b]
    with pytest.raises(ValueError, match="retention"):
        select_feed_items([a], today=TODAY, retention=dt.timedelta(days=-1))


# --- item -> event ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "end"),
    [
        (dt.date(2026, 1, 31), dt.date(2026, 2, 1)),  # month end
        (dt.date(2028, 2, 29), dt.date(2028, 3, 1)),  # leap day
        (dt.date(2027, 2, 28), dt.date(2027, 3, 1)),  # not a leap year
        (dt.date(2026, 12, 31), dt.date(2027, 1, 1)),  # year end
    ],
)
def test_a_due_item_is_one_all_day_event_on_its_target_date(target: dt.date, end: dt.date) -> None:
    ev = event_for(item(target=target))
    assert (ev.start, ev.end_exclusive, ev.booked_at) == (target, end, None)
    assert ev.status is EventStatus.CONFIRMED
    assert not ev.is_timed


def test_a_booked_item_is_a_timed_event_at_its_instant() -> None:
    booked_at = dt.datetime(2026, 3, 30, 8, 30, tzinfo=dt.UTC)
    ev = event_for(item(FeedItemStatus.BOOKED, booked_at=booked_at))
    assert ev.is_timed
    assert (ev.booked_at, ev.duration, ev.start) == (booked_at, dt.timedelta(minutes=30), None)


@pytest.mark.parametrize(
    ("status", "booked", "expected"),
    [
        (FeedItemStatus.PLANNED, False, EventStatus.CONFIRMED),
        (FeedItemStatus.BOOKED, True, EventStatus.CONFIRMED),
        (FeedItemStatus.DONE, True, EventStatus.CONFIRMED),  # the appointment did take place
        (FeedItemStatus.DONE, False, EventStatus.CANCELLED),  # the due marker is withdrawn
        (FeedItemStatus.CANCELLED, False, EventStatus.CANCELLED),
        (FeedItemStatus.CANCELLED, True, EventStatus.CANCELLED),
        (FeedItemStatus.SUPERSEDED, False, EventStatus.CANCELLED),
    ],
)
def test_event_status(status: FeedItemStatus, booked: bool, expected: EventStatus) -> None:
    booked_at = dt.datetime(2026, 4, 1, 9, tzinfo=dt.UTC) if booked else None
    assert event_for(item(status, booked_at=booked_at)).status is expected


def test_uid_is_stable_and_opaque() -> None:
    before = event_for(item(id=42))
    after = event_for(item(FeedItemStatus.CANCELLED, target=dt.date(2026, 5, 5), id=42))
    assert before.uid == after.uid == "fu-42@surveil.example.org"


@pytest.mark.parametrize(
    ("item_id", "host"),
    [("MRN 123", HOST), ("a@b", HOST), ("", HOST), (1, "bad host"), (1, "x\r\nATTENDEE:y")],
)
def test_uid_refuses_anything_but_plain_ids(item_id: int | str, host: str) -> None:
    with pytest.raises(InvalidInput):
        feed_uid(item_id, host)


def test_a_bad_item_reports_every_problem_at_once() -> None:
    naive = dt.datetime(2026, 1, 1, 9)  # noqa: DTZ001 - the point of the test
    with pytest.raises(InvalidInput) as caught:
        FeedItem(
            id=1,
            kind=ItemKind.CT,
            earliest=dt.date(2026, 2, 1),
            target=dt.date(2026, 1, 1),
            latest=dt.date(2026, 3, 1),
            status=FeedItemStatus.BOOKED,
            sequence=-1,
            updated_at=naive,
        )
    fields = {p.field for p in caught.value.problems}
    assert fields == {"target", "booked_at", "sequence", "updated_at"}


def test_a_booked_time_must_be_utc() -> None:
    paris = dt.timezone(dt.timedelta(hours=1))
    with pytest.raises(InvalidInput, match="booked_at"):
        item(FeedItemStatus.BOOKED, booked_at=dt.datetime(2026, 1, 1, 9, tzinfo=paris))


def test_an_event_is_either_all_day_or_timed() -> None:
    common = {
        "uid": "fu-1@h",
        "kind": ItemKind.CT,
        "status": EventStatus.CONFIRMED,
        "sequence": 0,
        "updated_at": STAMP,
        "summary": "s",
        "description": "",
    }
    day = dt.date(2026, 1, 1)
    with pytest.raises(InvalidInput, match="either"):
        FeedEvent(**common)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="exclusive"):
        FeedEvent(**common, start=day, end_exclusive=day)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="plain dates"):
        FeedEvent(**common, start=STAMP, end_exclusive=STAMP + dt.timedelta(1))  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="either"):
        FeedEvent(**common, start=day, end_exclusive=day, booked_at=STAMP)  # type: ignore[arg-type]


def test_feed_calendar_checks_its_settings() -> None:
    assert FeedCalendar(public_id="p-1", description="d").uid == "feed-p-1"
    with pytest.raises(InvalidInput) as caught:
        FeedCalendar(public_id="has space", description="", name=" ", alarm_before=dt.timedelta(0))
    assert {p.field for p in caught.value.problems} == {"public_id", "name", "alarm_before"}


@given(st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2099, 12, 30)))
def test_any_target_gives_a_one_day_exclusive_span(target: dt.date) -> None:
    ev = event_for(item(target=target))
    assert ev.start == target
    assert ev.end_exclusive is not None
    assert (ev.end_exclusive - target).days == 1


# --- appointment instants --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "at", "utc"),
    [
        # London springs forward on Sunday 29 March 2026: 09:30 the day after is BST (UTC+1).
        (dt.date(2026, 3, 30), dt.time(9, 30), dt.datetime(2026, 3, 30, 8, 30, tzinfo=dt.UTC)),
        (dt.date(2026, 3, 28), dt.time(9, 30), dt.datetime(2026, 3, 28, 9, 30, tzinfo=dt.UTC)),
        # Falls back on Sunday 25 October 2026: 09:30 the day after is GMT again.
        (dt.date(2026, 10, 26), dt.time(9, 30), dt.datetime(2026, 10, 26, 9, 30, tzinfo=dt.UTC)),
        # 01:30 happens twice that night; the first (BST) one is taken.
        (dt.date(2026, 10, 25), dt.time(1, 30), dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC)),
    ],
)
def test_appointment_instant_in_london(day: dt.date, at: dt.time, utc: dt.datetime) -> None:
    assert appointment_instant(day, at, "Europe/London") == utc


def test_a_time_in_the_spring_gap_is_refused() -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        appointment_instant(dt.date(2026, 3, 29), dt.time(1, 30), "Europe/London")


def test_an_unknown_zone_is_refused() -> None:
    with pytest.raises(InvalidInput, match="time zone"):
        appointment_instant(dt.date(2026, 3, 29), dt.time(9, 30), "Mars/Olympus")


def test_a_booked_tumour_board_is_a_review_around_its_date_never_an_appointment() -> None:
    """The care team meets about the patient at 14:00; the patient attends nothing."""
    meeting = dt.datetime(2026, 4, 28, 13, 0, tzinfo=dt.UTC)
    board = FeedItem(
        id=7,
        kind=ItemKind.TUMOUR_BOARD,
        earliest=dt.date(2026, 4, 20),
        target=dt.date(2026, 4, 27),
        latest=dt.date(2026, 5, 4),
        status=FeedItemStatus.BOOKED,
        sequence=1,
        updated_at=STAMP,
        booked_at=meeting,
    )
    scan = item(FeedItemStatus.BOOKED, booked_at=meeting, id=8)
    shown_board, shown_scan = select_feed_items([board, scan], today=TODAY)
    assert (shown_board.status, shown_board.booked_at) == (FeedItemStatus.PLANNED, None)
    assert shown_scan == scan  # a scan's booking is the patient's own appointment
    event = event_for(shown_board)
    assert not event.is_timed and event.start == dt.date(2026, 4, 27)
    done = select_feed_items(
        [replace(board, status=FeedItemStatus.DONE, cancelled_on=TODAY)], today=TODAY
    )
    assert done[0].booked_at is None and done[0].status is FeedItemStatus.DONE
