"""The feed benchmark's bare-icalendar baseline must write exactly what ``build_feed`` writes.

Issue 7's target is "within 2x of serialising the same events with bare icalendar". A baseline
that left properties out would be an easier floor and flatter the ratio; one that added some
would hide our cost. Holding the two bodies byte-identical keeps the comparison honest.
"""

import datetime as dt
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from surveil.core.feed import FeedCalendar
from surveil.ical import build_feed
from surveil.render.templating import make_environment
from tests.test_ical import scenario_calendar, scenario_events

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


@pytest.fixture(scope="module")
def bench_ical() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_ical", SCRIPTS / "bench_ical.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_ical", module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("count", [0, 1, 2, 7, 15, 40])
@pytest.mark.parametrize("alarm", [None, dt.timedelta(days=3)])
def test_baseline_writes_the_same_bytes_for_typical_feeds(
    bench_ical: ModuleType, count: int, alarm: dt.timedelta | None
) -> None:
    events = bench_ical.typical_events(count)
    events.reverse()  # the builder sorts by UID; the baseline must too
    calendar = FeedCalendar(public_id="bench", description="Call 020 7946 0000, please; thanks.",
                            alarm_before=alarm)  # fmt: skip
    assert bench_ical.bare_icalendar(calendar, events) == build_feed(calendar, events)


@pytest.mark.parametrize("detailed", [False, True])
def test_baseline_writes_the_same_bytes_for_the_worded_scenario(
    bench_ical: ModuleType, detailed: bool
) -> None:
    env = make_environment()
    # Templated words: non-ASCII, commas, semicolons and newlines all go through both writers.
    events = scenario_events(env, detailed=detailed)
    for alarm in (None, dt.timedelta(days=1)):
        calendar = scenario_calendar(env, alarm_before=alarm)
        assert bench_ical.bare_icalendar(calendar, events) == build_feed(calendar, events)
