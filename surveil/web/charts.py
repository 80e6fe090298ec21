"""Server-side SVG charts as plain geometry; ``templates/web/patients/_chart.html`` draws them.

No JavaScript and no inline styles (the CSP forbids both): the template emits SVG elements with
coordinates computed here and CSS classes from the stylesheet. Each chart also carries its data as
a table for screen readers and for anyone who wants the numbers.

- Growth chart per lesion: diameter over time, the size threshold (default 20 mm) as a
  horizontal line, and a dashed line rising at the growth threshold (default 5 mm/year) from the
  scan the growth rule compares the latest one with (``core.growth.growth_of``: the most recent
  scan at least ``min_spacing_days`` earlier), so the latest point sits above the dashed line
  exactly when the rule fires. Before two scans are far enough apart it starts at the first.
- Marker chart per marker: value over time with the upper limit of normal (ULN); results taken
  on a proton-pump inhibitor are drawn hollow, because a PPI raises chromogranin A.
"""

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from surveil.core.facts import Measurement
from surveil.core.growth import growth_of, lesion_readings
from surveil.services.registry.record import LesionSeries, MarkerSeries

WIDTH, HEIGHT = 560, 260
LEFT, RIGHT, TOP, BOTTOM = 52, 16, 18, 40
DAYS_PER_YEAR = 365.25


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    label: str
    css: str = ""


@dataclass(frozen=True)
class Guide:
    x1: float
    y1: float
    x2: float
    y2: float
    label: str
    label_x: float
    label_y: float
    css: str


@dataclass(frozen=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    description: str
    unit: str
    line: str  # SVG polyline points "x,y x,y ..."
    dots: tuple[Dot, ...]
    guides: tuple[Guide, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    table: tuple[tuple[str, str, str], ...]  # date, value, note
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM


@dataclass(frozen=True)
class _Scale:
    start: dt.date
    end: dt.date
    high: float

    def x(self, day: dt.date) -> float:
        span = max((self.end - self.start).days, 1)
        return round(LEFT + (day - self.start).days / span * (WIDTH - LEFT - RIGHT), 1)

    def y(self, value: float) -> float:
        return round(HEIGHT - BOTTOM - value / self.high * (HEIGHT - TOP - BOTTOM), 1)


def growth_chart(
    series: LesionSeries,
    *,
    rate_mm_per_year: float,
    size_mm: float,
    today: dt.date,
    min_spacing_days: int = 60,
) -> Chart:
    days = [d for d, _, _ in series.points]
    sizes = [mm for _, mm, _ in series.points]
    start, end = _date_range(days, today)
    scale = _Scale(start, end, _nice_ceiling(max([*sizes, size_mm * 1.2])))
    first_day, first_mm = _rate_baseline(series, min_spacing_days)
    # Where the 5 mm/year line from the baseline scan leaves the plot (its end, or the top edge).
    years = (end - first_day).days / DAYS_PER_YEAR
    rate_end_mm = first_mm + rate_mm_per_year * years
    rate_end_day = end
    if rate_end_mm > scale.high:
        rate_end_day = first_day + dt.timedelta(
            days=(scale.high - first_mm) / rate_mm_per_year * DAYS_PER_YEAR
        )
        rate_end_mm = scale.high
    guides = (
        Guide(
            LEFT,
            scale.y(size_mm),
            WIDTH - RIGHT,
            scale.y(size_mm),
            f"{size_mm:g} mm",
            WIDTH - RIGHT - 4,
            scale.y(size_mm) - 5,
            "threshold size",
        ),
        Guide(
            scale.x(first_day),
            scale.y(first_mm),
            scale.x(rate_end_day),
            scale.y(rate_end_mm),
            f"{rate_mm_per_year:g} mm/yr",
            scale.x(rate_end_day) - 4,
            scale.y(rate_end_mm) + 14,
            "threshold rate",
        ),
    )
    dots = tuple(
        Dot(scale.x(d), scale.y(mm), f"{d}: {mm:g} mm ({mod})", "over" if mm >= size_mm else "")
        for d, mm, mod in series.points
    )
    where = f" ({series.location})" if series.location else ""
    return Chart(
        id=f"growth-{_slug(series.label)}",
        title=f"Lesion {series.label}{where}: longest diameter",
        description=(
            f"{len(dots)} measurements from {days[0]} to {days[-1]}, "
            f"{sizes[0]:g} mm to {sizes[-1]:g} mm. Dashed line: growth of "
            f"{rate_mm_per_year:g} mm/year from the scan of {first_day} ({first_mm:g} mm), the one "
            f"the growth rule compares the latest with; solid line: {size_mm:g} mm."
        ),
        unit="mm",
        line=" ".join(f"{d.x},{d.y}" for d in dots),
        dots=dots,
        guides=guides,
        x_ticks=_date_ticks(scale),
        y_ticks=_value_ticks(scale),
        table=tuple((str(d), f"{mm:g} mm", mod) for d, mm, mod in series.points),
    )


def _rate_baseline(series: LesionSeries, min_spacing_days: int) -> tuple[dt.date, float]:
    """The (date, mm) the growth rule measures the latest scan's growth from, read the rule's way
    (one reading a day, the larger); the first scan while no earlier one is far enough back."""
    readings = lesion_readings(
        Measurement(series.label, day, mm, modality) for day, mm, modality in series.points
    )[series.label]
    growth = growth_of(series.label, readings, min_spacing_days)
    baseline = growth.earlier if growth is not None else readings[0]
    return baseline.date, float(baseline.mm)


def marker_chart(series: MarkerSeries, *, today: dt.date) -> Chart:
    days = [d for d, _, _ in series.points]
    values = [v for _, v, _ in series.points]
    start, end = _date_range(days, today)
    uln = series.uln
    scale = _Scale(start, end, _nice_ceiling(max([*values, (uln or 0) * 1.5, 1e-9])))
    guides: tuple[Guide, ...] = ()
    if uln is not None:
        guides = (
            Guide(
                LEFT,
                scale.y(uln),
                WIDTH - RIGHT,
                scale.y(uln),
                f"ULN {uln:g} {series.unit}".rstrip(),
                WIDTH - RIGHT - 4,
                scale.y(uln) - 5,
                "threshold uln",
            ),
        )
    dots = tuple(
        Dot(
            scale.x(d),
            scale.y(v),
            f"{d}: {v:g} {series.unit}".rstrip() + (" (on PPI)" if ppi else ""),
            " ".join(c for c in ("over" if uln and v > uln else "", "ppi" if ppi else "") if c),
        )
        for d, v, ppi in series.points
    )
    name = series.name.upper() if len(series.name) <= 4 else series.name
    return Chart(
        id=f"marker-{_slug(series.name)}",
        title=f"{name} over time",
        description=(
            f"{len(dots)} results from {days[0]} to {days[-1]}"
            + (f"; upper limit of normal {uln:g} {series.unit}." if uln else ".")
        ),
        unit=series.unit,
        line=" ".join(f"{d.x},{d.y}" for d in dots),
        dots=dots,
        guides=guides,
        x_ticks=_date_ticks(scale),
        y_ticks=_value_ticks(scale),
        table=tuple(
            (str(d), f"{v:g} {series.unit}".rstrip(), "on PPI" if ppi else "")
            for d, v, ppi in series.points
        ),
    )


def _date_range(days: Sequence[dt.date], today: dt.date) -> tuple[dt.date, dt.date]:
    """A little air on both sides, and at least six months so one scan is not a lonely dot."""
    start = days[0] - dt.timedelta(days=30)
    end = max(days[-1], today) + dt.timedelta(days=30)
    if (end - start).days < 180:
        end = start + dt.timedelta(days=180)
    return start, end


def _nice_ceiling(value: float) -> float:
    """The next 'round' number above ``value`` (1, 2, 2.5 or 5 × a power of ten)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return float(step * power)
    return 10.0 * power


def _value_ticks(scale: _Scale) -> tuple[Tick, ...]:
    step = scale.high / 5
    return tuple(Tick(scale.y(step * k), f"{step * k:g}") for k in range(6))


def _date_ticks(scale: _Scale) -> tuple[Tick, ...]:
    """January (and July, on short spans) firsts inside the range, labelled by year or month."""
    span_years = (scale.end - scale.start).days / DAYS_PER_YEAR
    months = (1,) if span_years > 3 else (1, 7) if span_years > 1 else (1, 4, 7, 10)
    ticks = []
    for year in range(scale.start.year, scale.end.year + 1):
        for month in months:
            day = dt.date(year, month, 1)
            if scale.start <= day <= scale.end:
                label = str(year) if month == 1 else day.strftime("%b %Y")
                ticks.append(Tick(scale.x(day), label))
    return tuple(ticks)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower())
