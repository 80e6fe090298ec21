"""Quality of surveillance, as pure arithmetic over what the service read (issue 20, point 1).

Definitions (shown on the page, ``DEFINITIONS``):

* an item is **closed** when its test is *done* (``completed_on``), not when the patient was told;
* **on time**: done on a day inside its window (earliest ≤ done ≤ latest); **early** before it;
  **late** after it, by ``done − latest`` days;
* **still overdue**: open (planned, ordered, booked) with the window closed before the period's
  end; **lost**: among those, closed more than ``lost_after_days`` before the end. The lost rate
  is lost patients over patients with an open item;
* **trigger → tumour board**: days from a trigger's finding to its tumour-board item being done;
  **trigger → resolution**: days from the finding to the trigger being resolved;
* **reminders**: of those due to send in the period, the share sent and the share failed.
"""

import datetime as dt
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

DEFINITIONS = (
    ("Closed", "The test is done (its result date), not when the patient was told."),
    (
        "On time",
        "Done inside its window: on or after the earliest and on or before the latest day.",
    ),
    ("Done late", "Done after the window closed; 'by' is the number of days after the latest day."),
    (
        "Still overdue",
        "Planned, ordered or booked, with the window closed before the period ended.",
    ),
    (
        "Lost to follow-up",
        "Overdue by more than the clinic's lost-after days at the period's end; the rate is "
        "lost patients over patients with an open item.",
    ),
    ("Trigger → tumour board", "Days from the finding to its tumour-board item being done."),
    ("Trigger → resolution", "Days from the finding to the trigger being resolved."),
    ("Reminder delivery", "Of reminders due to send in the period: sent, and failed for good."),
    (
        "Declines and overrides",
        "Items declined or not needed, and clinicians' plan overrides, "
        "made in the period, by rule and reason.",
    ),
)


@dataclass(frozen=True)
class DoneItem:
    earliest: dt.date
    latest: dt.date
    completed_on: dt.date


@dataclass(frozen=True)
class Timeliness:
    done: int
    on_time: int
    early: int
    late: int
    late_days_median: float | None
    late_days_max: int | None

    @property
    def on_time_pct(self) -> float | None:
        return round(100 * self.on_time / self.done, 1) if self.done else None


def timeliness(items: Iterable[DoneItem]) -> Timeliness:
    on_time = early = 0
    late_by: list[int] = []
    done = 0
    for item in items:
        done += 1
        if item.completed_on < item.earliest:
            early += 1
        elif item.completed_on > item.latest:
            late_by.append((item.completed_on - item.latest).days)
        else:
            on_time += 1
    return Timeliness(
        done=done,
        on_time=on_time,
        early=early,
        late=len(late_by),
        late_days_median=statistics.median(late_by) if late_by else None,
        late_days_max=max(late_by) if late_by else None,
    )


@dataclass(frozen=True)
class Interval:
    count: int
    median_days: float | None
    max_days: int | None


def intervals(days: Sequence[int]) -> Interval:
    return Interval(
        count=len(days),
        median_days=statistics.median(days) if days else None,
        max_days=max(days) if days else None,
    )


def pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def by_reason(rows: Iterable[tuple[str, str, str]]) -> list[tuple[str, str, str, int]]:
    """(what, rule, reason) rows counted, most frequent first, then by name."""
    counted = Counter(rows)
    return sorted(
        ((what, rule, reason, n) for (what, rule, reason), n in counted.items()),
        key=lambda r: (-r[3], r[0], r[1], r[2]),
    )


def month_key(day: dt.date) -> str:
    return day.strftime("%Y-%m")
