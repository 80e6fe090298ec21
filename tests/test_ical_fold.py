"""``build_feed`` writes short lines itself and leaves folding to icalendar: the bytes must be
the library's own ``to_ical()``, for short, long, multi-byte and escaped text alike."""

import datetime as dt

import pytest
from icalendar import Calendar, Event

from surveil import ical

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
]


@pytest.mark.parametrize("text", TEXTS)
def test_same_bytes_as_icalendar(text: str) -> None:
    cal = Calendar()
    cal.add("VERSION", "2.0")
    cal.add("PRODID", "-//test//EN")
    for prefix in ("", "a", "ab", "abc"):  # move the fold point through the line
        event = Event()
        event.add("UID", f"{prefix}@example.org")
        event.add("SUMMARY", prefix + text)
        event.add("DESCRIPTION", text + prefix)
        event.add("DTSTART", dt.date(2027, 1, 5))
        cal.add_component(event)
    assert ical._to_ical(cal) == cal.to_ical()


def test_every_length_around_the_fold() -> None:
    for n in range(55, 160):
        for char in ("x", "é", "€", "🩺", ","):
            cal = Calendar()
            cal.add("SUMMARY", char * n)
            assert ical._to_ical(cal) == cal.to_ical(), (char, n)
