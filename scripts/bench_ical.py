"""Micro-benchmark: surveil.ical.build_feed against bare icalendar on the same events.

    .venv/bin/python scripts/bench_ical.py [--events 15] [--runs 2000] [--json]

The baseline writes the same calendar with plain ``Calendar()`` / ``Event()`` and ``add()``
calls: byte for byte the same body (a test holds the two to it), so the ratio is the price of
our builder (the ``*.new`` factories, validation) over the library doing the same work. The
feed endpoint's target (issue 7) is "within 2x of bare icalendar"; ``bench_feed.py`` uses this
baseline for whole requests.
"""

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence

from icalendar import Alarm, Calendar, Event, vDuration, vText

from surveil.core.feed import EventStatus, FeedCalendar, FeedEvent
from surveil.core.vocab import ItemKind
from surveil.ical import PRODID, build_feed, utc_timezone

_KINDS = [ItemKind.MRI, ItemKind.CGA, ItemKind.HIAA5, ItemKind.SSA_INJECTION, ItemKind.CLINIC_VISIT]
_DESCRIPTION = (
    "Any day from 1 March 2027 to 31 August 2027 is fine; the date shown is the ideal one.\n"
    "If it is not booked yet, please call 020 7946 0000.\n"
    "Calendar apps update subscribed calendars slowly (Google about every 8–24 hours), so an "
    "urgent change always reaches you by letter, text message or email: those come first."
)


def typical_events(count: int) -> list[FeedEvent]:
    """A patient's feed: mostly due markers, every third one a booked appointment."""
    stamp = dt.datetime(2026, 11, 1, 9, tzinfo=dt.UTC)
    events = []
    for i in range(count):
        day = dt.date(2027, 1, 31) + dt.timedelta(days=45 * i)
        common = {
            "uid": f"fu-{1000 + i}@surveil.example.org",
            "kind": _KINDS[i % len(_KINDS)],
            "status": EventStatus.CANCELLED if i % 7 == 6 else EventStatus.CONFIRMED,
            "sequence": i % 3,
            "updated_at": stamp + dt.timedelta(hours=i),
            "summary": "Follow-up scan due",
            "description": _DESCRIPTION,
        }
        if i % 3 == 2:
            at = dt.datetime.combine(day, dt.time(9, 30), tzinfo=dt.UTC)
            events.append(FeedEvent(**common, booked_at=at, duration=dt.timedelta(minutes=30)))  # type: ignore[arg-type]
        else:
            events.append(FeedEvent(**common, start=day, end_exclusive=day + dt.timedelta(1)))  # type: ignore[arg-type]
    return events


def bare_icalendar(calendar: FeedCalendar, events: Sequence[FeedEvent]) -> bytes:
    """The same feed through the library's plainest API: the floor we compare against.

    Plain ``Calendar()`` / ``Event()`` and ``add()`` calls, no validation, no sorting, no
    templates, no database: only what any program must do to write these events with
    icalendar. It writes every property ``build_feed`` writes, in the same order, so the two
    bodies are byte-identical (``tests/test_bench_baseline.py`` holds them to it): the ratio
    compares the same output, not a thinner one.
    """
    cal = Calendar()
    cal.add("VERSION", "2.0")
    cal.add("PRODID", PRODID)
    cal.add("DESCRIPTION", calendar.description)
    cal.add("X-WR-CALDESC", vText(calendar.description))  # X-* values are raw otherwise
    cal.add("NAME", calendar.name)
    cal.add("X-WR-CALNAME", vText(calendar.name))
    cal.add("REFRESH-INTERVAL", calendar.refresh, parameters={"VALUE": "DURATION"})
    cal.add("UID", calendar.uid)
    cal.add("X-PUBLISHED-TTL", vDuration(calendar.refresh))
    for e in sorted(events, key=lambda e: e.uid):  # a stable order: the same data, the same bytes
        ev = Event()
        ev.add("SUMMARY", e.summary)
        if e.booked_at is not None and e.duration is not None:
            ev.add("DTSTART", e.booked_at.astimezone(dt.UTC))
            ev.add("DTEND", e.booked_at.astimezone(dt.UTC) + e.duration)
        else:
            ev.add("DTSTART", e.start)
            ev.add("DTEND", e.end_exclusive)
        ev.add("DTSTAMP", e.updated_at.astimezone(dt.UTC))
        ev.add("UID", e.uid)
        ev.add("SEQUENCE", e.sequence)
        ev.add("CLASS", "PRIVATE")
        ev.add("DESCRIPTION", e.description)
        ev.add("LAST-MODIFIED", e.updated_at.astimezone(dt.UTC))
        ev.add("STATUS", e.status.upper())
        if e.booked_at is None:
            ev.add("TRANSP", "TRANSPARENT")
        if calendar.alarm_before is not None and e.status == "confirmed":
            alarm = Alarm()
            alarm.add("ACTION", "DISPLAY")
            alarm.add("DESCRIPTION", e.summary)
            alarm.add("TRIGGER", -calendar.alarm_before)
            ev.add_component(alarm)
        cal.add_component(ev)
    if not events:  # RFC 5545 needs one component: an empty UTC zone shows nothing
        cal.add_component(utc_timezone())  # plain icalendar calls too
    body: bytes = cal.to_ical()
    return body


def paired_timings_ms(
    ours: Callable[[], bytes], bare: Callable[[], bytes], runs: int
) -> tuple[list[float], list[float]]:
    """Alternate the two sides run by run, so load from other processes hits both alike."""
    for _ in range(min(50, runs)):  # warm caches and lazy imports
        ours()
        bare()
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        for func, into in ((ours, samples[0]), (bare, samples[1])):
            start = time.perf_counter_ns()
            func()
            into.append((time.perf_counter_ns() - start) / 1e6)
    return samples


def percentile(samples: list[float], p: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[p - 1]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=15, help="events per feed (default 15)")
    parser.add_argument("--runs", type=int, default=2000, help="timed builds per side")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    events = typical_events(args.events)
    calendar = FeedCalendar(public_id="bench", description=_DESCRIPTION)
    ours, bare = paired_timings_ms(
        lambda: build_feed(calendar, events), lambda: bare_icalendar(calendar, events), args.runs
    )
    result = {
        "events": args.events,
        "runs": args.runs,
        "bytes": len(build_feed(calendar, events)),
        "build_feed_p50_ms": percentile(ours, 50),
        "build_feed_p95_ms": percentile(ours, 95),
        "bare_p50_ms": percentile(bare, 50),
        "bare_p95_ms": percentile(bare, 95),
    }
    result["ratio_p50"] = result["build_feed_p50_ms"] / result["bare_p50_ms"]
    result["ratio_p95"] = result["build_feed_p95_ms"] / result["bare_p95_ms"]
    if args.json:
        print(
            json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()})
        )
    else:
        print(f"feed of {args.events} events ({result['bytes']} bytes), {args.runs} runs each")
        print(f"{'':16}{'p50 ms':>10}{'p95 ms':>10}")
        print(
            f"{'build_feed':16}{result['build_feed_p50_ms']:>10.3f}{result['build_feed_p95_ms']:>10.3f}"
        )
        print(f"{'bare icalendar':16}{result['bare_p50_ms']:>10.3f}{result['bare_p95_ms']:>10.3f}")
        print(
            f"{'ratio':16}{result['ratio_p50']:>10.2f}{result['ratio_p95']:>10.2f}   (target < 2)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
