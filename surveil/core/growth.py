"""Lesion growth and size on active surveillance (clinical-reference T1/T2; vignettes T01/T02).

Decisions (docs/triggers.md explains each):

* Readings: one per lesion per day; when a lesion was measured twice on the same day the larger
  diameter stands (the longest diameter is what RECIST and the size rule are about, and the
  larger reading is the cautious one). Input order never matters: everything is sorted first.
* Time: exact calendar years, anniversary to anniversary (``anchor + relativedelta(years=n)``),
  with the remainder as a fraction of the year that follows. 12 → 17 mm from 2027-03-10 to
  2028-03-10 is exactly 5 mm/year even though that year has 366 days; a fixed 365.25-day year
  would make it 4.99 in a leap year and 5.003 otherwise.
* The rate that fires is the two-point rate between the latest reading and the most recent reading
  at least ``min_spacing_days`` before it, rounded half-up to 0.01 mm/year, then compared: the
  number shown is the number that decided. With three or more readings a least-squares slope over
  all of them is reported too, for the clinician; it does not fire on its own.
* Modalities are compared with each other (a lesion does not stop growing when the scanner
  changes), but a change of modality is named in the explanation so the reader can weigh it.
"""

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction

from surveil.core.facts import Facts, Measurement
from surveil.core.findings import Finding, TriggerKind, exact, round2, show
from surveil.core.thresholds import Comparator, TriggerThresholds
from surveil.core.vocab import StateKind
from surveil.core.windows import years_after

SYMBOL = {Comparator.AT_LEAST: "≥", Comparator.ABOVE: ">"}


@dataclass(frozen=True)
class Reading:
    """A lesion's diameter on one day (the largest if it was measured more than once)."""

    date: dt.date
    mm: Fraction
    modality: str


@dataclass(frozen=True)
class Growth:
    lesion: str
    earlier: Reading
    later: Reading
    rate: Fraction  # mm/year, rounded to 0.01
    readings: tuple[Reading, ...]

    def slope(self) -> Fraction | None:
        """Least-squares mm/year over every reading, rounded; None below three readings.
        Computed on demand: it only informs an explanation, and it is the costly part."""
        if len(self.readings) < 3:
            return None
        return round2(least_squares_slope(self.readings))


def years_between(start: dt.date, end: dt.date) -> Fraction:
    """Exact calendar years from ``start`` to ``end`` (not before ``start``)."""
    if end < start:
        raise ValueError(f"{end} is before {start}")
    # years_after is ``relativedelta(years=n)`` without building one (a replan asks per lesion).
    whole = end.year - start.year
    if years_after(start, whole) > end:
        whole -= 1
    anniversary = years_after(start, whole)
    following = years_after(start, whole + 1)
    return whole + Fraction((end - anniversary).days, (following - anniversary).days)


def lesion_readings(measurements: Iterable[Measurement]) -> dict[str, list[Reading]]:
    """Each lesion's readings in date order, one per day."""
    # Grouped by lesion, then day, on the raw measurements; a Reading is built only for the
    # day's winner. Comparing the floats decides as comparing their exact values would: exact()
    # is strictly increasing (each float has its own shortest decimal).
    days_of: dict[str, dict[dt.date, Measurement]] = {}
    for m in measurements:
        days = days_of.get(m.lesion)
        if days is None:
            days_of[m.lesion] = {m.date: m}
            continue
        current = days.get(m.date)
        # Larger diameter wins; on a tie the modality name decides, so the result is order-free.
        if (
            current is None
            or m.mm > current.mm
            or (m.mm == current.mm and m.modality < current.modality)
        ):
            days[m.date] = m
    return {
        lesion: [Reading(day, exact(m.mm), m.modality) for day, m in sorted(days.items())]
        for lesion, days in sorted(days_of.items())
    }


def growth_of(lesion: str, readings: list[Reading], min_spacing_days: int) -> Growth | None:
    """The annualised growth of one lesion, or None without two readings far enough apart."""
    earlier = _earlier(readings, min_spacing_days)
    if earlier is None:
        return None
    return _growth(lesion, earlier, readings)


def _earlier(readings: list[Reading], min_spacing_days: int) -> Reading | None:
    """The most recent reading at least ``min_spacing_days`` before the latest one."""
    if len(readings) < 2:
        return None
    latest = readings[-1].date
    return next(
        (r for r in reversed(readings[:-1]) if (latest - r.date).days >= min_spacing_days),
        None,
    )


def _growth(lesion: str, earlier: Reading, readings: list[Reading]) -> Growth:
    later = readings[-1]
    rate = (later.mm - earlier.mm) / years_between(earlier.date, later.date)
    return Growth(lesion, earlier, later, round2(rate), tuple(readings))


def least_squares_slope(readings: Sequence[Reading]) -> Fraction:
    """Ordinary least-squares slope of diameter against calendar years, exactly."""
    xs = [years_between(readings[0].date, r.date) for r in readings]
    ys = [r.mm for r in readings]
    mean_x = sum(xs, Fraction(0)) / len(xs)
    mean_y = sum(ys, Fraction(0)) / len(ys)
    spread = sum(((x - mean_x) ** 2 for x in xs), Fraction(0))
    together = sum(((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)), Fraction(0))
    return together / spread


def is_on_watched_surveillance(facts: Facts, thresholds: TriggerThresholds) -> bool:
    """Growth and size rules watch tumours at the configured sites on active surveillance."""
    return (
        facts.state.kind is StateKind.ACTIVE_SURVEILLANCE
        and facts.tumour is not None
        and facts.tumour.site in thresholds.surveillance_sites
    )


def growth_findings(
    series: dict[str, list[Reading]], thresholds: TriggerThresholds, *, cite: str, action: str
) -> Iterator[Finding]:
    """Lesions (``series`` from :func:`lesion_readings`) growing at or above the threshold."""
    limit = exact(thresholds.growth_mm_per_year)
    comparator = thresholds.growth_comparator
    # A lesion that did not grow has a rate of 0 or less, which never reaches a positive limit
    # (the parser allows no other): it is passed over before the exact rate is worked out.
    positive = limit > 0
    for lesion, readings in series.items():
        earlier = _earlier(readings, thresholds.min_spacing_days)
        if earlier is None or (positive and readings[-1].mm <= earlier.mm):
            continue
        growth = _growth(lesion, earlier, readings)
        if not comparator.holds(growth.rate, limit):
            continue
        yield Finding(
            kind=TriggerKind.GROWTH_RATE,
            subject=lesion,
            lesion=lesion,
            value=float(growth.rate),
            threshold=thresholds.growth_mm_per_year,
            unit="mm/year",
            confounded=False,
            action=action,
            detected_on=growth.later.date,
            explanation=_explain_growth(growth, comparator, limit) + cite,
        )


def _explain_growth(g: Growth, comparator: Comparator, limit: Fraction) -> str:
    text = (
        f"{g.lesion} grew {show(g.earlier.mm)} → {show(g.later.mm)} mm "
        f"from {g.earlier.date} to {g.later.date}: "
        f"{show(g.rate)} mm/year {SYMBOL[comparator]} {show(limit)} mm/year"
    )
    notes = []
    slope = g.slope()
    if slope is not None:
        notes.append(f"least-squares slope over {len(g.readings)} scans {show(slope)} mm/year")
    if g.earlier.modality != g.later.modality:
        notes.append(f"modality changed {g.earlier.modality} → {g.later.modality}")
    return text + (f" ({'; '.join(notes)})" if notes else "")


def size_findings(
    series: dict[str, list[Reading]], thresholds: TriggerThresholds, *, cite: str, action: str
) -> Iterator[Finding]:
    """Lesions whose latest diameter reaches the size threshold."""
    limit = exact(thresholds.size_mm)
    comparator = thresholds.size_comparator
    for lesion, readings in series.items():
        latest = readings[-1]
        if not comparator.holds(latest.mm, limit):
            continue
        yield Finding(
            kind=TriggerKind.SIZE,
            subject=lesion,
            lesion=lesion,
            value=float(latest.mm),
            threshold=thresholds.size_mm,
            unit="mm",
            confounded=False,
            action=action,
            detected_on=latest.date,
            explanation=(
                f"{lesion} measures {show(latest.mm)} mm on {latest.date} ({latest.modality}): "
                f"{show(latest.mm)} mm {SYMBOL[comparator]} {show(limit)} mm"
            )
            + cite,
        )
