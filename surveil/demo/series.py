"""Result series for demo patients: lesion measurements that follow a growth course, and tumour
markers that follow the tumour burden.

A lesion's course is a list of segments ("from this date on it grows at r mm/year"): stable on a
somatostatin analogue, growing before a change of treatment, shrinking after PRRT. Its size on any
date is the start size plus the integral of those rates, plus the small reading-to-reading noise
radiologists live with, so the triggers see both real growth and harmless jitter.
"""

import datetime as dt
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from surveil.core.vocab import ItemKind

Row = dict[str, Any]
DAYS_PER_MONTH = 30.44
DAYS_PER_YEAR = 365.25
MAX_MEASUREMENTS = 10  # per lesion: the registry keeps the recent series, not a lifetime
MAX_MARKERS = 8  # per marker name
MIN_DIAMETER_MM = 2.0


@dataclass(frozen=True)
class MarkerSpec:
    unit: str
    uln: float
    ppi_sensitive: bool = False  # acid suppression raises it (CgA, gastrin): the PPI flag matters


MARKERS: dict[ItemKind, MarkerSpec] = {
    ItemKind.CGA: MarkerSpec("ug/L", 100.0, ppi_sensitive=True),
    ItemKind.HIAA5: MarkerSpec("umol/24h", 50.0),
    ItemKind.NSE: MarkerSpec("ug/L", 16.3),
    ItemKind.GASTRIN: MarkerSpec("ng/L", 100.0, ppi_sensitive=True),
    ItemKind.NTPROBNP: MarkerSpec("ng/L", 125.0),
    ItemKind.CALCIUM: MarkerSpec("mmol/L", 2.6),
    ItemKind.PTH: MarkerSpec("pmol/L", 6.9),
    ItemKind.PROLACTIN: MarkerSpec("mU/L", 500.0),
    ItemKind.GLUCOSE: MarkerSpec("mmol/L", 6.0),
}
PPI_FACTOR = 2.5  # typical rise of CgA on a proton-pump inhibitor (clinical reference T12)


@dataclass(frozen=True)
class Course:
    """How a lesion's size changes: ``start_mm`` on ``start``, then piecewise rates (mm/year)."""

    start: dt.date
    start_mm: float
    segments: tuple[tuple[dt.date, float], ...]  # (from this date, mm per year), in date order

    def size_on(self, day: dt.date) -> float:
        size = self.start_mm
        bounds = [*self.segments[1:], (day, 0.0)]
        for (begin, rate), (stop, _) in zip(self.segments, bounds, strict=True):
            span = (min(stop, day) - max(begin, self.start)).days
            if span > 0:
                size += rate * span / DAYS_PER_YEAR
        return max(size, MIN_DIAMETER_MM)


def steady(start: dt.date, start_mm: float, rate: float) -> Course:
    return Course(start, start_mm, ((start, rate),))


def visit_dates(
    rng: random.Random,
    *,
    start: dt.date,
    end: dt.date,
    months: tuple[float, float],
    keep: int,
) -> list[dt.date]:
    """Visits from ``start`` to ``end``, each ``months`` apart (a range: clinics slip), the last
    ``keep`` of them."""
    days: list[dt.date] = []
    day = start
    while day <= end:
        days.append(day)
        day += dt.timedelta(days=round(rng.uniform(*months) * DAYS_PER_MONTH))
    return days[-keep:]


def measurements(
    rng: random.Random,
    course: Course,
    *,
    end: dt.date,
    months: tuple[float, float],
    modalities: Sequence[str],
    noise_mm: float = 0.5,
) -> list[Row]:
    rows = []
    for day in visit_dates(rng, start=course.start, end=end, months=months, keep=MAX_MEASUREMENTS):
        mm = course.size_on(day) + rng.gauss(0.0, noise_mm)
        rows.append(
            {
                "date": day,
                "modality": rng.choice(modalities),
                "diameter_mm": float(max(round(mm), MIN_DIAMETER_MM)),
            }
        )
    return rows


def burden(courses: Sequence[Course]) -> Callable[[dt.date], float]:
    """Tumour burden relative to its first value: markers rise and fall with it."""
    first = sum(c.size_on(c.start) for c in courses) or 1.0
    return lambda day: sum(c.size_on(day) for c in courses) / first


def markers(
    rng: random.Random,
    name: ItemKind,
    *,
    start: dt.date,
    end: dt.date,
    months: tuple[float, float],
    level: float,
    trend: Callable[[dt.date], float] | None = None,
    on_ppi: bool = False,
    keep: int = MAX_MARKERS,
) -> list[Row]:
    """A marker series; ``level`` is the value in multiples of the upper limit of normal."""
    spec = MARKERS[name]
    confounded = on_ppi and spec.ppi_sensitive
    rows = []
    for day in visit_dates(rng, start=start, end=end, months=months, keep=keep):
        times_uln = level * (trend(day) if trend else 1.0) * math.exp(rng.gauss(0.0, 0.12))
        if confounded:
            times_uln *= PPI_FACTOR
        rows.append(
            {
                "name": name.value,
                "value": round(times_uln * spec.uln, 2 if spec.uln < 10 else 1),
                "unit": spec.unit,
                "uln": spec.uln,
                "date": day,
                "on_ppi": on_ppi,
            }
        )
    return rows
