"""Feed events -> iCalendar bytes, with the ``icalendar`` library (RFC 5545 + RFC 7986).

The output is a pure function of its inputs: every timestamp comes from the data, events are
sorted by UID and the calendar UID is fixed, so the same data gives the same bytes and the web
layer can use a hash of the body as a strong ETag. What we deliberately do *not* emit, and why
(docs/feeds.md, ../shared/ICAL.md):

- no ``METHOD``: a subscription is a snapshot, not an iTIP request;
- no ``TZID``/``VTIMEZONE`` on events and no ``X-WR-TIMEZONE``: appointments are written in UTC,
  because icalendar's generated zones are misread by Outlook and shift the hour after the
  spring change in Thunderbird; every client shows UTC in the device's own zone;
- no ``SOURCE``/``URL``: they would copy the secret feed URL into every export of the calendar.
"""

import datetime as dt
from collections.abc import Sequence

from icalendar import Alarm, Calendar, Event, Timezone, TimezoneStandard, vDuration, vText
from icalendar.enums import CLASS, STATUS, TRANSP

from surveil.core.feed import EventStatus, FeedCalendar, FeedEvent
from surveil.errors import InvalidInput, Problem

PRODID = "-//surveil//Follow-up calendar//EN"

_STATUS = {EventStatus.CONFIRMED: STATUS.CONFIRMED, EventStatus.CANCELLED: STATUS.CANCELLED}


def build_feed(calendar: FeedCalendar, events: Sequence[FeedEvent]) -> bytes:
    """The whole feed as UTF-8 bytes with CRLF line ends, folded at 75 octets."""
    _refuse_duplicate_uids(events)
    cal = _calendar(calendar)
    for event in sorted(events, key=lambda e: e.uid):
        cal.add_component(_event(event, calendar.alarm_before))
    if not events:
        # RFC 5545 needs at least one component; a VTIMEZONE is the only one that shows nothing.
        cal.add_component(utc_timezone())
    return _to_ical(cal)


# icalendar folds every content line character by character (to count UTF-8 octets and keep
# escapes whole: icalendar#1501), about a third of a feed's serialisation although almost every
# line is short. A line under this many octets is never folded by it (it folds once a line
# reaches 75), so such a line is written as it is and only longer ones go through the library:
# the bytes are the library's own (tests/test_ical_fold.py).
_FOLD_AT = 75


def _to_ical(cal: Calendar) -> bytes:
    """``cal.to_ical()``, byte for byte, without folding lines too short to fold."""
    lines = []
    for line in cal.content_lines():
        if not line:
            continue
        encoded = line.encode("utf-8")
        lines.append(encoded if len(encoded) < _FOLD_AT else line.to_ical())
    return b"\r\n".join(lines) + b"\r\n"


def _calendar(calendar: FeedCalendar) -> Calendar:
    cal = Calendar()
    cal.add("VERSION", "2.0")
    cal.add("PRODID", PRODID)
    cal.add("UID", calendar.uid)  # fixed: icalendar would otherwise invent one per request
    # The name in NAME (RFC 7986) and X-WR-CALNAME (Google, Outlook): without it Google names
    # the calendar after its URL, token included. X-* values are raw unless given as vText, and
    # a raw newline or comma would break the line or go out unescaped.
    cal.add("NAME", calendar.name)
    cal.add("X-WR-CALNAME", vText(calendar.name))
    cal.add("DESCRIPTION", calendar.description)
    cal.add("X-WR-CALDESC", vText(calendar.description))
    # RFC 7986's ABNF requires VALUE=DURATION; a bare timedelta in X-* would give "6:00:00".
    cal.add("REFRESH-INTERVAL", calendar.refresh, parameters={"VALUE": "DURATION"})
    cal.add("X-PUBLISHED-TTL", vDuration(calendar.refresh))
    return cal


def _event(event: FeedEvent, alarm_before: dt.timedelta | None) -> Event:
    # Plain add() calls rather than Event.new(): the same bytes (tests/test_bench_baseline.py),
    # at about half the cost, and this runs for every event of every feed request. The types
    # are already checked by FeedEvent.
    stamp = event.updated_at.astimezone(dt.UTC)  # from the data: never "now"
    ev = Event()
    ev.add("UID", event.uid)
    ev.add("DTSTAMP", stamp)
    ev.add("LAST-MODIFIED", stamp)
    ev.add("SEQUENCE", event.sequence)
    ev.add("STATUS", _STATUS[event.status])
    ev.add("SUMMARY", event.summary)
    ev.add("DESCRIPTION", event.description)
    ev.add("CLASS", CLASS.PRIVATE)  # a hint only; some servers hide it when shared
    if event.booked_at is not None and event.duration is not None:
        start = event.booked_at.astimezone(dt.UTC)
        ev.add("DTSTART", start)
        ev.add("DTEND", start + event.duration)
    elif event.start is not None and event.end_exclusive is not None:
        ev.add("DTSTART", event.start)
        ev.add("DTEND", event.end_exclusive)
        ev.add("TRANSP", TRANSP.TRANSPARENT)  # a due marker must not make the patient "busy"
    if alarm_before is not None and event.status is EventStatus.CONFIRMED:
        alarm = Alarm()
        alarm.add("ACTION", "DISPLAY")
        alarm.add("DESCRIPTION", event.summary)
        alarm.add("TRIGGER", -alarm_before)
        ev.add_component(alarm)
    return ev


def utc_timezone() -> Timezone:
    """A VTIMEZONE for UTC: the one component an empty feed can carry that shows nothing."""
    standard = TimezoneStandard()
    standard.add("DTSTART", dt.datetime(1970, 1, 1))  # noqa: DTZ001 - observance onsets are local
    standard.add("TZOFFSETFROM", dt.timedelta(0))
    standard.add("TZOFFSETTO", dt.timedelta(0))
    standard.add("TZNAME", "UTC")
    zone = Timezone()
    zone.add("TZID", "UTC")
    zone.add_component(standard)
    return zone


def _refuse_duplicate_uids(events: Sequence[FeedEvent]) -> None:
    seen: set[str] = set()
    problems: list[Problem] = []
    for index, event in enumerate(events):
        if event.uid in seen:
            problems.append(Problem(f"events[{index}].uid", f"{event.uid!r} appears twice"))
        seen.add(event.uid)
    if problems:
        raise InvalidInput(problems, what="feed")
