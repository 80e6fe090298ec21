"""``build_feed`` writes its lines itself, with the library's folding: the bytes must be what
icalendar writes for the same calendar built from components (``bench_ical.bare_icalendar``),
for short, long, multi-byte and escaped text alike, and for any text and instant at all."""

import datetime as dt
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surveil.core.feed import EventStatus, FeedCalendar, FeedEvent
from surveil.core.vocab import ItemKind
from surveil.errors import InvalidInput
from surveil.ical import build_feed

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"

TEXTS = [
    "",
    "Scan",
    "x" * 60,  # the whole line just under 75 octets
    "x" * 61,
    "x" * 62,  # exactly at, and just over, the fold
    "y" * 200,
    "é" * 40,  # two octets each: the fold must not split one
    "日本語のテキスト" * 10,  # three octets each
    "🩺 emoji " * 12,  # four octets
    "comma, semicolon; back\\slash and\nnew line " * 3,  # escapes must stay whole (#1501)
    "a" * 73 + ",",  # an escape right at the fold
    "a" * 72 + "^b" * 40,  # the fold keeps a caret with what follows too (RFC 6868)
    "line\r\nbreaks\rof\nevery kind \\N and a literal \\n",
]


def load_bench_ical() -> ModuleType:
    """scripts/bench_ical.py, whose ``bare_icalendar`` builds the feed from components."""
    if "bench_ical" in sys.modules:
        return sys.modules["bench_ical"]
    spec = importlib.util.spec_from_file_location("bench_ical", SCRIPTS / "bench_ical.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_ical"] = module
    spec.loader.exec_module(module)
    return module


BARE = load_bench_ical().bare_icalendar
STAMP = dt.datetime(2026, 11, 1, 9, 15, 42, tzinfo=dt.UTC)


def _event(uid: str, summary: str, description: str, **when: object) -> FeedEvent:
    if not when:
        when = {"start": dt.date(2027, 1, 5), "end_exclusive": dt.date(2027, 1, 6)}
    return FeedEvent(
        uid=uid,
        kind=ItemKind.MRI,
        status=EventStatus.CONFIRMED,
        sequence=2,
        updated_at=STAMP,
        summary=summary,
        description=description,
        **when,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("text", TEXTS)
def test_same_bytes_as_icalendar(text: str) -> None:
    one_line = text.replace("\n", " ").replace("\r", " ") or "x"
    calendar = FeedCalendar(
        public_id="p1", description=text + "!", name=one_line, alarm_before=dt.timedelta(days=1)
    )
    events = [  # move the fold point through the line
        _event(f"{prefix}@example.org", prefix + text + ".", text + prefix)
        for prefix in ("", "a", "ab", "abc")
    ]
    assert build_feed(calendar, events) == BARE(calendar, events)


def test_every_length_around_the_fold() -> None:
    for n in range(55, 160):
        for char in ("x", "é", "€", "🩺", ",", "\\", "\n", "^", "a\\", "é,"):
            calendar = FeedCalendar(public_id="p1", description=char * n)
            events = [_event("u@example.org", char * n + "s", "d" + char * n)]
            assert build_feed(calendar, events) == BARE(calendar, events), (char, n)


def test_an_empty_feed_carries_the_utc_zone() -> None:
    calendar = FeedCalendar(public_id="p1", description="None yet.")
    assert build_feed(calendar, []) == BARE(calendar, [])
    assert b"BEGIN:VTIMEZONE" in build_feed(calendar, [])


def test_a_calendar_name_must_be_one_line() -> None:
    # icalendar writes NAME verbatim, so a line break would end the content line.
    for name in ("two\nlines", "two\rlines"):
        with pytest.raises(InvalidInput, match="one line"):
            FeedCalendar(public_id="p1", description="d", name=name)


_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=120)
_UID_CHARS = "abc,;\\é"  # characters TEXT escaping changes, and one of two octets
_INSTANT = st.datetimes(
    min_value=dt.datetime(1900, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
    max_value=dt.datetime(2200, 1, 1),  # noqa: DTZ001
    timezones=st.just(dt.UTC),  # FeedEvent takes UTC only; microseconds are drawn too
)


@st.composite
def _events(draw: st.DrawFn) -> list[FeedEvent]:
    events = []
    for index in range(draw(st.integers(0, 4))):
        uid = "fu-" + str(index) + draw(st.text(_UID_CHARS, max_size=5)) + "@host"
        if draw(st.booleans()):
            when: dict[str, object] = {
                "booked_at": draw(_INSTANT),
                "duration": dt.timedelta(minutes=draw(st.integers(1, 600))),
            }
        else:
            start = draw(st.dates(dt.date(1900, 1, 1), dt.date(2199, 1, 1)))
            when = {"start": start, "end_exclusive": start + dt.timedelta(draw(st.integers(1, 3)))}
        events.append(
            FeedEvent(
                uid=uid,
                kind=ItemKind.CGA,
                status=draw(st.sampled_from(list(EventStatus))),
                sequence=draw(st.integers(0, 10_000)),
                updated_at=draw(_INSTANT),
                summary="s" + draw(_TEXT),
                description=draw(_TEXT),
                **when,  # type: ignore[arg-type]
            )
        )
    return events


@settings(max_examples=300, deadline=None)
@given(
    events=_events(),
    description=_TEXT,
    name=_TEXT.filter(lambda t: t.strip() and "\n" not in t and "\r" not in t),
    refresh_minutes=st.integers(60, 60 * 24 * 40),
    alarm_minutes=st.none() | st.integers(1, 60 * 24 * 14),
)
def test_any_feed_is_byte_identical_to_icalendar(
    events: list[FeedEvent],
    description: str,
    name: str,
    refresh_minutes: int,
    alarm_minutes: int | None,
) -> None:
    calendar = FeedCalendar(
        public_id="p1",
        description=description,
        name=name,
        refresh=dt.timedelta(minutes=refresh_minutes),
        alarm_before=None if alarm_minutes is None else dt.timedelta(minutes=alarm_minutes),
    )
    assert build_feed(calendar, events) == BARE(calendar, events)
