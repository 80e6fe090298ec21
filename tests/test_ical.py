"""The calendar feed, parsed back by three readers, plus the byte-level checks no reader makes.

Golden file: ``tests/data/feed-golden.ics`` is the feed of the frozen scenario below. After a
deliberate change to the builder or to ``templates/ical/``, regenerate it with

    SURVEIL_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_ical.py -k golden

and review the diff: it is exactly what patients' calendars will receive.
"""

import datetime as dt
import os
import random
import re
from pathlib import Path

import icalendar
import jinja2
import pytest
import recurring_ical_events
import vobject

from surveil.core.feed import (
    EventStatus,
    FeedCalendar,
    FeedEvent,
    FeedItem,
    FeedItemStatus,
    appointment_instant,
    make_feed_event,
    select_feed_items,
)
from surveil.core.vocab import ItemKind
from surveil.errors import InvalidInput
from surveil.ical import build_feed
from surveil.render.feedtext import render_calendar_description, render_item_text
from surveil.render.templating import make_environment
from tests.test_feedtext import diagnosis_words

GOLDEN = Path(__file__).parent / "data" / "feed-golden.ics"
HOST = "surveil.example.org"
TZ = "Europe/London"
TODAY = dt.date(2026, 3, 15)
# Non-ASCII on purpose: folding must never split a UTF-8 character.
CLINIC_PHONE = "☎ 020 7946 0000 (Clínica São João 🏥, réception Ünïcödé)"
CALENDAR_NAME = "Suivi — Clínica São João 🏥"

Expected = tuple[str, dt.date | dt.datetime, dt.date | dt.datetime, str]


def stamp(day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, tzinfo=dt.UTC)


def window_item(id: int, kind: ItemKind, target: dt.date, **kw: object) -> FeedItem:
    fields: dict[str, object] = {
        "earliest": target - dt.timedelta(days=14),
        "latest": target + dt.timedelta(days=14),
        "status": FeedItemStatus.PLANNED,
        "sequence": 0,
        "updated_at": stamp(1),
    }
    fields.update(kw)
    return FeedItem(id=id, kind=kind, target=target, **fields)  # type: ignore[arg-type]


def london(day: dt.date, hour: int, minute: int) -> dt.datetime:
    return appointment_instant(day, dt.time(hour, minute), TZ)


def scenario_items() -> list[FeedItem]:
    """One patient's items on 15 March 2026, covering every case the feed must handle."""
    return [
        window_item(101, ItemKind.MRI, dt.date(2026, 1, 31)),  # month end, now overdue
        window_item(102, ItemKind.CGA, dt.date(2028, 2, 29), sequence=2),  # leap day
        window_item(  # the day after the spring change: 09:30 BST is 08:30Z
            103,
            ItemKind.CLINIC_VISIT,
            dt.date(2026, 3, 30),
            status=FeedItemStatus.BOOKED,
            booked_at=london(dt.date(2026, 3, 30), 9, 30),
            duration=dt.timedelta(minutes=20),
            sequence=1,
            updated_at=stamp(10),
        ),
        window_item(
            104,
            ItemKind.CT,
            dt.date(2026, 3, 10),
            status=FeedItemStatus.SUPERSEDED,
            cancelled_on=dt.date(2026, 3, 1),
            sequence=1,
        ),
        window_item(105, ItemKind.SSA_INJECTION, dt.date(2026, 3, 20), status=FeedItemStatus.DONE),
        window_item(  # the day after the autumn change: 09:30 GMT is 09:30Z
            106,
            ItemKind.HIAA5,
            dt.date(2026, 10, 26),
            status=FeedItemStatus.CANCELLED,
            booked_at=london(dt.date(2026, 10, 26), 9, 30),
            cancelled_on=dt.date(2026, 3, 12),
            sequence=3,
            updated_at=stamp(12, 8),
        ),
        window_item(107, ItemKind.TUMOUR_BOARD, dt.date(2026, 12, 31)),  # year end
        window_item(  # a done appointment stays confirmed at its time
            9,
            ItemKind.ECHOCARDIOGRAM,
            dt.date(2026, 3, 2),
            status=FeedItemStatus.DONE,
            booked_at=london(dt.date(2026, 3, 2), 14, 0),
            sequence=1,
            updated_at=stamp(2, 15),
        ),
        window_item(  # cancelled long ago: past its retention, so not in the feed
            108,
            ItemKind.PRRT_CYCLE,
            dt.date(2025, 12, 1),
            status=FeedItemStatus.CANCELLED,
            cancelled_on=dt.date(2025, 11, 20),
        ),
    ]


EXPECTED: list[Expected] = [
    ("fu-101@surveil.example.org", dt.date(2026, 1, 31), dt.date(2026, 2, 1), "CONFIRMED"),
    ("fu-102@surveil.example.org", dt.date(2028, 2, 29), dt.date(2028, 3, 1), "CONFIRMED"),
    (
        "fu-103@surveil.example.org",
        dt.datetime(2026, 3, 30, 8, 30, tzinfo=dt.UTC),
        dt.datetime(2026, 3, 30, 8, 50, tzinfo=dt.UTC),
        "CONFIRMED",
    ),
    ("fu-104@surveil.example.org", dt.date(2026, 3, 10), dt.date(2026, 3, 11), "CANCELLED"),
    ("fu-105@surveil.example.org", dt.date(2026, 3, 20), dt.date(2026, 3, 21), "CANCELLED"),
    (
        "fu-106@surveil.example.org",
        dt.datetime(2026, 10, 26, 9, 30, tzinfo=dt.UTC),
        dt.datetime(2026, 10, 26, 10, 0, tzinfo=dt.UTC),
        "CANCELLED",
    ),
    ("fu-107@surveil.example.org", dt.date(2026, 12, 31), dt.date(2027, 1, 1), "CONFIRMED"),
    (
        "fu-9@surveil.example.org",
        dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 3, 2, 14, 30, tzinfo=dt.UTC),
        "CONFIRMED",
    ),
]


@pytest.fixture(scope="module")
def env() -> jinja2.Environment:
    return make_environment()


def scenario_events(env: jinja2.Environment, *, detailed: bool = False) -> list[FeedEvent]:
    """The service's job in miniature: select, word, and turn items into feed events."""
    events = []
    for item in select_feed_items(scenario_items(), today=TODAY):
        summary, description = render_item_text(
            env, item, detailed=detailed, clinic_phone=CLINIC_PHONE, tz_name=TZ
        )
        events.append(make_feed_event(item, host=HOST, summary=summary, description=description))
    return events


def scenario_calendar(env: jinja2.Environment, **kw: object) -> FeedCalendar:
    description = render_calendar_description(env, clinic_phone=CLINIC_PHONE)
    return FeedCalendar(
        public_id="pf-7Qx2",
        description=description,
        name=CALENDAR_NAME,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def body(env: jinja2.Environment) -> bytes:
    return build_feed(scenario_calendar(env), scenario_events(env))


@pytest.fixture(scope="module")
def empty_body(env: jinja2.Environment) -> bytes:
    return build_feed(scenario_calendar(env), [])


def as_utc(value: dt.date | dt.datetime) -> dt.date | dt.datetime:
    """Normalise a parser's value: datetimes to aware UTC, dates left alone."""
    if isinstance(value, dt.datetime):
        assert value.tzinfo is not None, f"floating time {value!r}"
        return value.astimezone(dt.UTC)
    return value


# --- three readers ---------------------------------------------------------------------------


def read_with_icalendar(body: bytes) -> list[Expected]:
    cal = icalendar.Calendar.from_ical(body)
    assert not any(component.errors for component in cal.walk())
    cal.validate()  # type: ignore[no-untyped-call]
    assert cal.get_missing_tzids() == set()
    return [
        (str(ev["UID"]), as_utc(ev.start), as_utc(ev.end), str(ev["STATUS"])) for ev in cal.events
    ]


def read_with_vobject(body: bytes) -> list[Expected]:
    cal = vobject.readOne(body.decode("utf-8"), validate=True)
    cal.validate(raiseException=True)
    return [
        (ev.uid.value, as_utc(ev.dtstart.value), as_utc(ev.dtend.value), ev.status.value)
        for ev in cal.contents.get("vevent", [])
    ]


def read_with_recurring_ical_events(body: bytes) -> list[Expected]:
    cal = icalendar.Calendar.from_ical(body)
    occurrences = recurring_ical_events.of(cal).between(dt.date(2000, 1, 1), dt.date(2100, 1, 1))
    return sorted(
        (str(ev["UID"]), as_utc(ev.start), as_utc(ev.end), str(ev["STATUS"])) for ev in occurrences
    )


@pytest.mark.parametrize(
    "read", [read_with_icalendar, read_with_vobject, read_with_recurring_ical_events]
)
def test_every_reader_sees_every_event_with_its_dates_uid_and_status(
    body: bytes, read: object
) -> None:
    assert callable(read)
    assert sorted(read(body)) == sorted(EXPECTED)


def test_all_day_events_end_exclusively(body: bytes) -> None:
    # A due marker covers its target day only: seen on the day, gone the next (RFC 5545 §3.6.1).
    cal = icalendar.Calendar.from_ical(body)
    for uid, start, _, _ in EXPECTED:
        if isinstance(start, dt.datetime):
            continue
        on_day = {str(ev["UID"]) for ev in recurring_ical_events.of(cal).at(start)}
        next_day = {
            str(ev["UID"]) for ev in recurring_ical_events.of(cal).at(start + dt.timedelta(1))
        }
        assert uid in on_day
        assert uid not in next_day


def test_every_reader_accepts_the_empty_feed(empty_body: bytes) -> None:
    for read in (read_with_icalendar, read_with_vobject, read_with_recurring_ical_events):
        assert read(empty_body) == []
    assert b"BEGIN:VTIMEZONE" in empty_body  # the one component RFC 5545 insists on


# --- what no reader checks -------------------------------------------------------------------


def physical_lines(body: bytes) -> list[bytes]:
    assert body.endswith(b"\r\n")
    return body[:-2].split(b"\r\n")


@pytest.mark.parametrize("fixture", ["body", "empty_body"])
def test_crlf_only_and_lines_of_at_most_75_whole_utf8_octets(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    data: bytes = request.getfixturevalue(fixture)
    lines = physical_lines(data)
    assert all(b"\r" not in line and b"\n" not in line for line in lines)
    for line in lines:
        assert len(line) <= 75, line
        line.decode("utf-8")  # raises if a fold split a multi-byte character


def test_folding_was_exercised_on_non_ascii_text(body: bytes) -> None:
    # Otherwise the check above proves nothing about splitting UTF-8 sequences.
    continuations = [line for line in physical_lines(body) if line.startswith(b" ")]
    assert continuations
    assert any(max(line) > 0x7F for line in continuations)


def unfolded(body: bytes) -> list[str]:
    return body.decode("utf-8").replace("\r\n ", "").split("\r\n")[:-1]


_DATE = re.compile(r"^(DTSTART|DTEND);VALUE=DATE:(\d{8})$")
_UTC = re.compile(r"^(DTSTART|DTEND):(\d{8}T\d{6}Z)$")


def event_blocks(lines: list[str]) -> list[list[str]]:
    blocks: list[list[str]] = []
    for line in lines:
        if line == "BEGIN:VEVENT":
            blocks.append([])
        elif blocks and line != "END:VEVENT":
            blocks[-1].append(line)
    return blocks


def test_no_floating_times_and_ends_after_starts_of_the_same_type(body: bytes) -> None:
    blocks = event_blocks(unfolded(body))
    assert len(blocks) == len(EXPECTED)
    for block in blocks:
        times = [line for line in block if line.startswith(("DTSTART", "DTEND"))]
        dates = [_DATE.match(line) for line in times]
        utcs = [_UTC.match(line) for line in times]
        assert len(times) == 2, block
        matched = dates if all(dates) else utcs
        assert all(matched), f"floating or mixed times: {times}"
        start, end = (m.group(2) for m in matched if m)
        assert end > start
        assert not any(line.startswith("DURATION") for line in block)
        is_all_day = matched is dates
        assert ("TRANSP:TRANSPARENT" in block) == is_all_day


def test_calendar_properties(body: bytes) -> None:
    lines = unfolded(body)
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT6H" in lines
    assert "X-PUBLISHED-TTL:PT6H" in lines
    assert f"NAME:{CALENDAR_NAME}" in lines
    assert f"X-WR-CALNAME:{CALENDAR_NAME}" in lines
    assert "UID:feed-pf-7Qx2" in lines
    assert any(line.startswith("X-WR-CALDESC:") and "8–24 hours" in line for line in lines)
    assert lines.count("VERSION:2.0") == 1


@pytest.mark.parametrize(
    "forbidden",
    ["METHOD", "X-WR-TIMEZONE", "TZID", "RRULE", "RDATE", "EXDATE", "SOURCE", "URL", "VALARM"],
)
def test_properties_a_feed_must_not_carry(body: bytes, forbidden: str) -> None:
    assert not any(re.match(rf"^(BEGIN:)?{forbidden}[;:]", line) for line in unfolded(body))


def test_events_are_sorted_by_uid_with_data_stamps(body: bytes) -> None:
    lines = unfolded(body)
    uids = [line[4:] for line in lines if line.startswith("UID:fu-")]
    assert uids == sorted(uids)
    assert "DTSTAMP:20260312T080000Z" in lines
    assert "LAST-MODIFIED:20260312T080000Z" in lines
    assert [line for line in lines if line.startswith("SEQUENCE:")].count("SEQUENCE:3") == 1


def test_same_data_gives_the_same_bytes_whatever_the_order(
    env: jinja2.Environment, body: bytes
) -> None:
    events = scenario_events(env)
    random.Random(7).shuffle(events)
    assert build_feed(scenario_calendar(env), events) == body
    assert build_feed(scenario_calendar(env), []) == build_feed(scenario_calendar(env), [])


def test_a_change_changes_the_bytes(env: jinja2.Environment, body: bytes) -> None:
    events = scenario_events(env)
    bumped = FeedEvent(**{**events[0].__dict__, "sequence": events[0].sequence + 1})
    assert build_feed(scenario_calendar(env), [bumped, *events[1:]]) != body


def test_the_default_feed_names_no_diagnosis(body: bytes) -> None:
    text = "\n".join(unfolded(body))
    assert diagnosis_words(text) == []


def test_the_detailed_feed_does_name_the_kinds(env: jinja2.Environment) -> None:
    detailed = build_feed(scenario_calendar(env), scenario_events(env, detailed=True))
    text = "\n".join(unfolded(detailed))
    assert "SUMMARY:MRI scan due" in text
    assert diagnosis_words(text)  # the checker would notice: this is the opt-in


def test_the_dst_appointment_keeps_its_clinic_time_in_the_description(body: bytes) -> None:
    cal = icalendar.Calendar.from_ical(body)
    (visit,) = [ev for ev in cal.events if str(ev["UID"]) == "fu-103@surveil.example.org"]
    assert visit.start == dt.datetime(2026, 3, 30, 8, 30, tzinfo=dt.UTC)
    assert "Monday 30 March 2026 at 09:30 (Europe/London time)" in str(visit["DESCRIPTION"])


def test_alarms_are_a_clinic_setting_and_never_on_cancelled_events(
    env: jinja2.Environment,
) -> None:
    calendar = scenario_calendar(env, alarm_before=dt.timedelta(days=1))
    cal = icalendar.Calendar.from_ical(build_feed(calendar, scenario_events(env)))
    for ev in cal.events:
        alarms = [c for c in ev.subcomponents if isinstance(c, icalendar.Alarm)]
        if str(ev["STATUS"]) == "CANCELLED":
            assert alarms == []
        else:
            assert [a.TRIGGER for a in alarms] == [-dt.timedelta(days=1)]


def test_text_cannot_inject_content_lines(env: jinja2.Environment) -> None:
    event = FeedEvent(
        uid="fu-1@h.example",
        kind=ItemKind.CT,
        status=EventStatus.CONFIRMED,
        sequence=0,
        updated_at=stamp(1),
        summary="Scan\r\nATTENDEE:mailto:x@example.org",
        description="a\rb\nc;d,e\\f",
        start=dt.date(2026, 1, 1),
        end_exclusive=dt.date(2026, 1, 2),
    )
    lines = unfolded(build_feed(scenario_calendar(env), [event]))
    assert not any(line.startswith("ATTENDEE") for line in lines)
    (parsed,) = icalendar.Calendar.from_ical("\r\n".join(lines) + "\r\n").events
    assert str(parsed["DESCRIPTION"]).replace("\r\n", "\n").replace("\r", "\n") == "a\nb\nc;d,e\\f"


def test_duplicate_uids_are_refused(env: jinja2.Environment) -> None:
    events = scenario_events(env)
    with pytest.raises(InvalidInput, match="appears twice"):
        build_feed(scenario_calendar(env), [*events, events[0]])


def test_golden_file(body: bytes) -> None:
    if os.environ.get("SURVEIL_UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_bytes(body)
    assert GOLDEN.read_bytes() == body, "feed changed: see this module's docstring to regenerate"
