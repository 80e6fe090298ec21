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


def wall_clock(instant: dt.datetime, timezone: str, *, seconds: bool = False) -> str:
    """An instant as a person there reads it, with the zone named: ``2026-06-20 09:30 BST
    (Europe/London)``. The abbreviation tells summer from winter time; the zone's own name tells
    a patient in Dublin from one in London. A naive instant is taken to be UTC (as stored)."""
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=dt.UTC)
    local = instant.astimezone(ZoneInfo(timezone))
    abbreviation = local.tzname() or timezone
    named = f" ({timezone})" if abbreviation != timezone else ""
    clock = f"{local:%Y-%m-%d %H:%M:%S}" if seconds else f"{local:%Y-%m-%d %H:%M}"
    return f"{clock} {abbreviation}{named}"
