"""Due windows: anchor + relativedelta, never chained.

Every date is computed from a real event (the last completed item, a dose, an index date) in one
step, ``anchor + relativedelta(months=n)``. Adding months one at a time drifts at month ends
(31 Jan + 1 + 1 month = 28 Mar, but + 2 months = 31 Mar), so no date is ever built from another
planned date.
"""

import datetime as dt
from dataclasses import dataclass

from dateutil.relativedelta import relativedelta

from surveil.core.protocol import Interval
from surveil.core.vocab import ItemStatus


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
    return Window(
        earliest=anchor + interval.delta(interval.min),
        target=anchor + interval.delta(interval.target),
        latest=anchor + interval.delta(interval.max),
    )


def before(reference: dt.date, offset: Interval, *, not_before: dt.date) -> Window:
    """The window ``offset`` before ``reference`` (labs 2–4 weeks before a dose), never earlier
    than ``not_before`` (the event it is anchored on)."""
    earliest = max(reference - offset.delta(offset.max), not_before)
    latest = max(reference - offset.delta(offset.min), earliest)
    target = min(max(reference - offset.delta(offset.target), earliest), latest)
    return Window(earliest=earliest, target=target, latest=latest)


def status_on(earliest: dt.date, latest: dt.date, today: dt.date) -> ItemStatus:
    if today < earliest:
        return ItemStatus.UPCOMING
    if today > latest:
        return ItemStatus.OVERDUE
    return ItemStatus.DUE


def years_after(day: dt.date, years: int) -> dt.date:
    """``day`` plus whole years; 29 Feb falls back to 28 Feb in common years."""
    return day + relativedelta(years=years)
