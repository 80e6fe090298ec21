"""Calendar dates and instants in a named time zone: pure functions of the instant given."""

import datetime as dt
from zoneinfo import ZoneInfo


def today_in(timezone: str, now: dt.datetime) -> dt.date:
    """The calendar date at ``now`` in a time zone (a due date is a date where the patient is)."""
    return now.astimezone(ZoneInfo(timezone)).date()


def start_of_day_utc(day: dt.date, timezone: str) -> dt.datetime:
    """Local midnight of ``day`` in ``timezone``, as an aware UTC instant."""
    local = dt.datetime.combine(day, dt.time(0, 0), tzinfo=ZoneInfo(timezone))
    return local.astimezone(dt.UTC)
