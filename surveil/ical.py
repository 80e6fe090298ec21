"""Feed events -> iCalendar bytes (RFC 5545 + RFC 7986), byte for byte as ``icalendar`` writes them.

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

from icalendar import Timezone, TimezoneStandard, vDuration

from surveil.core.feed import EventStatus, FeedCalendar, FeedEvent
from surveil.errors import InvalidInput, Problem

PRODID = "-//surveil//Follow-up calendar//EN"

_STATUS = {EventStatus.CONFIRMED: "CONFIRMED", EventStatus.CANCELLED: "CANCELLED"}
# A line shorter than this many octets is never folded (icalendar folds once a line reaches 75).
_FOLD_AT = 75


def build_feed(calendar: FeedCalendar, events: Sequence[FeedEvent]) -> bytes:
    """The whole feed as UTF-8 bytes with CRLF line ends, folded at 75 octets.

    Written line by line in the order icalendar's ``Calendar.to_ical()`` writes the same
    ``add()`` calls (its canonical order, then the rest alphabetically), with its own text
    escaping and folding: byte for byte the library's output (tests/test_ical_fold.py and
    tests/test_bench_baseline.py hold it to ``bench_ical.bare_icalendar``, which builds the
    components). Building components cost about two thirds of a cold feed request: each
    ``add()`` infers a value type and each line goes through parameter quoting and folding
    character by character, for a handful of properties whose types we know in advance.
    """
    _refuse_duplicate_uids(events)
    lines = _calendar_lines(calendar)
    trigger = None if calendar.alarm_before is None else _duration(-calendar.alarm_before)
    for event in sorted(events, key=lambda e: e.uid):
        _add_event(lines, event, trigger)
    if not events:
        # RFC 5545 needs at least one component; a VTIMEZONE is the only one that shows nothing.
        lines.extend(_UTC_TIMEZONE_LINES)
    lines.append("END:VCALENDAR")
    return b"".join([_encoded(line) for line in lines])


def _encoded(line: str) -> bytes:
    """One content line, folded as icalendar folds it (``Contentline.to_ical``), with its CRLF.

    The library walks the line character by character (to count UTF-8 octets); this works on
    the octets: a segment is the longest run of whole characters under 75 octets, and an
    escape's backslash (or a ``^``, RFC 6868) that would end a segment starts the next one
    instead, so no escape is split (icalendar#1501). Every line of a feed goes through here.
    """
    octets = line.encode("utf-8")
    if len(octets) < _FOLD_AT:
        return octets + b"\r\n"
    segments = []
    start = 0
    while len(octets) - start >= _FOLD_AT:
        end = start + _FOLD_AT - 1
        while octets[end] & 0xC0 == 0x80:  # inside a character: fold before it
            end -= 1
        if end - start > 1 and octets[end - 1] in _KEEP_WITH_NEXT:
            end -= 1
        segments.append(octets[start:end])
        start = end
    segments.append(octets[start:])
    return b"\r\n ".join(segments) + b"\r\n"


_KEEP_WITH_NEXT = b"\\^"  # never the last octet of a folded segment


def _text(value: str) -> str:
    """RFC 5545 TEXT escaping (§3.3.11) as icalendar's ``vText`` writes it: a literal ``\\N``
    counts as a line break, every line break (CRLF, LF or a lone CR) becomes ``\\n``; the
    order matters so that nothing is escaped twice."""
    return (
        value.replace("\\N", "\n")
        .replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def _calendar_lines(calendar: FeedCalendar) -> list[str]:
    description = _text(calendar.description)
    refresh = _duration(calendar.refresh)
    return [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        _PRODID_LINE,
        # The name in NAME (RFC 7986) and X-WR-CALNAME (Google, Outlook): without it Google
        # names the calendar after its URL, token included. icalendar writes NAME verbatim
        # (it does not know the property) and X-WR-* as given, so X-WR-* go as escaped text:
        # a raw newline or comma would break the line or go out unescaped.
        f"DESCRIPTION:{description}",
        f"X-WR-CALDESC:{description}",
        f"NAME:{calendar.name}",
        f"X-WR-CALNAME:{_text(calendar.name)}",
        # RFC 7986's ABNF requires VALUE=DURATION.
        f"REFRESH-INTERVAL;VALUE=DURATION:{refresh}",
        f"UID:{_text(calendar.uid)}",  # fixed: never one invented per request
        f"X-PUBLISHED-TTL:{refresh}",
    ]


def _add_event(lines: list[str], event: FeedEvent, trigger: str | None) -> None:
    stamp = _utc_stamp(event.updated_at)  # from the data: never "now"
    summary = _text(event.summary)
    lines.append("BEGIN:VEVENT")
    lines.append(f"SUMMARY:{summary}")
    transparent = False
    if event.booked_at is not None and event.duration is not None:
        start = event.booked_at.astimezone(dt.UTC)
        lines.append(f"DTSTART:{_utc_stamp(start)}")
        lines.append(f"DTEND:{_utc_stamp(start + event.duration)}")
    elif event.start is not None and event.end_exclusive is not None:
        lines.append(f"DTSTART;VALUE=DATE:{_day(event.start)}")
        lines.append(f"DTEND;VALUE=DATE:{_day(event.end_exclusive)}")
        transparent = True  # a due marker must not make the patient "busy"
    lines.append(f"DTSTAMP:{stamp}")
    lines.append(f"UID:{_text(event.uid)}")
    lines.append(f"SEQUENCE:{event.sequence}")
    lines.append("CLASS:PRIVATE")  # a hint only; some servers hide it when shared
    lines.append(f"DESCRIPTION:{_text(event.description)}")
    lines.append(f"LAST-MODIFIED:{stamp}")
    lines.append(f"STATUS:{_STATUS[event.status]}")
    if transparent:
        lines.append("TRANSP:TRANSPARENT")
    if trigger is not None and event.status is EventStatus.CONFIRMED:
        lines.append("BEGIN:VALARM")
        lines.append("ACTION:DISPLAY")
        lines.append(f"DESCRIPTION:{summary}")
        lines.append(f"TRIGGER:{trigger}")
        lines.append("END:VALARM")
    lines.append("END:VEVENT")


def _utc_stamp(value: dt.datetime) -> str:
    """An instant as an RFC 5545 UTC date-time (seconds, no fraction), as icalendar writes it."""
    at = value.astimezone(dt.UTC)
    return f"{at.year:04}{at.month:02}{at.day:02}T{at.hour:02}{at.minute:02}{at.second:02}Z"


def _day(value: dt.date) -> str:
    return f"{value.year:04}{value.month:02}{value.day:02}"


def _duration(value: dt.timedelta) -> str:
    written: bytes = vDuration(value).to_ical()  # type: ignore[no-untyped-call]
    return written.decode("ascii")


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


_PRODID_LINE = f"PRODID:{_text(PRODID)}"
# Written by the library once, at import: an empty feed's only component never changes.
_UTC_TIMEZONE_LINES = utc_timezone().to_ical().decode("utf-8").split("\r\n")[:-1]
