"""Due windows: anchor + relativedelta, never chained.

Every date is computed from a real event (the last completed item, a dose, an index date) in one
step, ``anchor + relativedelta(months=n)``. Adding months one at a time drifts at month ends
(31 Jan + 1 + 1 month = 28 Mar, but + 2 months = 31 Mar), so no date is ever built from another
planned date.

``plus`` does that step without building a ``relativedelta`` per date: replanning 100,000
patients asks for about a million dates, and the object (not the arithmetic) was most of the
planner's cost. It gives exactly ``day + relativedelta(<unit>=amount)`` (a month-end day clamps
to the shorter month; 29 Feb + 1 year is 28 Feb), which ``tests/core/test_windows.py`` checks
against dateutil over thousands of dates.
"""

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

from surveil.core.protocol import Interval, Unit
from surveil.core.vocab import ItemStatus

_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


@dataclass(frozen=True)
class Window:
    earliest: dt.date
    target: dt.date
    latest: dt.date

    def status_on(self, today: dt.date) -> ItemStatus:
        return status_on(self.earliest, self.latest, today)

    def contains(self, day: dt.date) -> bool:
        return self.earliest <= day <= self.latest


def after(anchor: dt.date, interval: Interval) -> Window:
    """The window ``interval`` after ``anchor``; min ≤ target ≤ max keeps the dates ordered."""
    # Remembered by the interval's identity (hashing a frozen dataclass runs Python code for
    # each field) and the anchor: patients share the pack's few intervals and many anchor
    # dates, and a Window is immutable, so one can serve every patient asking the same.
    key = (id(interval), anchor)
    found = _AFTER.get(key)
    if found is not None and found[0] is interval:
        return found[1]
    unit = interval.unit
    window = Window(
        earliest=plus(anchor, unit, interval.min),
        target=plus(anchor, unit, interval.target),
        latest=plus(anchor, unit, interval.max),
    )
    if len(_AFTER) >= _AFTER_SIZE:
        _AFTER.clear()  # bounded; refilled from the next patients
    # The interval is kept beside its window: while the entry lives its id cannot be reused.
    _AFTER[key] = (interval, window)
    return window


_AFTER: dict[tuple[int, dt.date], tuple[Interval, Window]] = {}
_AFTER_SIZE = 1 << 16


def before(reference: dt.date, offset: Interval, *, not_before: dt.date) -> Window:
    """The window ``offset`` before ``reference`` (labs 2–4 weeks before a dose), never earlier
    than ``not_before`` (the event it is anchored on)."""
    unit = offset.unit
    earliest = max(plus(reference, unit, -offset.max), not_before)
    latest = max(plus(reference, unit, -offset.min), earliest)
    target = min(max(plus(reference, unit, -offset.target), earliest), latest)
    return Window(earliest=earliest, target=target, latest=latest)


def status_on(earliest: dt.date, latest: dt.date, today: dt.date) -> ItemStatus:
    if today < earliest:
        return ItemStatus.UPCOMING
    if today > latest:
        return ItemStatus.OVERDUE
    return ItemStatus.DUE


def years_after(day: dt.date, years: int) -> dt.date:
    """``day`` plus whole years; 29 Feb falls back to 28 Feb in common years."""
    return add_months(day, 12 * years)


def plus(day: dt.date, unit: Unit, amount: int) -> dt.date:
    """``day + relativedelta(<unit>=amount)`` in one step (``amount`` may be negative)."""
    if unit is Unit.MONTHS:
        return add_months(day, amount)
    return day + dt.timedelta(days=amount * 7 if unit is Unit.WEEKS else amount)


# Remembered (bounded): the planner asks for the same (date, months) pairs over and over (index
# dates plus each phase's years, anchors plus each interval's months), and a cached call costs a
# fraction of building the date again.
@lru_cache(maxsize=1 << 16)
def add_months(day: dt.date, months: int) -> dt.date:
    """``day + relativedelta(months=months)``: the same day of the month, or the month's last."""
    year, month0 = divmod(day.year * 12 + day.month - 1 + months, 12)
    last = _MONTH_DAYS[month0]
    if month0 == 1 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        last = 29
    return dt.date(year, month0 + 1, day.day if day.day <= last else last)
