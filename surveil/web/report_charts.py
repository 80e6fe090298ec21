"""Server-side SVG bar charts for the reports (issue 20), as plain geometry like ``charts.py``:
``templates/web/reports/_bars.html`` draws them with CSS classes (no inline style, no script).

One chart per resource: a bar per month for the target count, a line over it up to the most
the month could be asked for (every window touching it), and marks for "everyone as early as
allowed" and "as late as allowed". Each chart carries its numbers as a table too.
"""

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 560, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 18, 40


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    y: float  # top of the target bar
    high_y: float  # the "possible" whisker's top
    early_y: float
    late_y: float
    label: str  # month, for the tick and the tooltip
    title: str  # the numbers in words


@dataclass(frozen=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True)
class BarChart:
    id: str
    title: str
    description: str
    bars: tuple[Bar, ...]
    y_ticks: tuple[Tick, ...]
    table: tuple[tuple[str, ...], ...]  # header first
    marks: bool = True  # earliest/latest marks and whiskers (capacity); none on a trend
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM


@dataclass(frozen=True)
class MonthCounts:
    month: str  # YYYY-MM
    target: int
    earliest: int
    latest: int
    possible: int


def bar_chart(name: str, months: Sequence[MonthCounts], *, unit: str = "items") -> BarChart:
    """A bar per month (target), whisker to ``possible``, marks at earliest and latest."""
    peak = max([1, *(max(m.target, m.earliest, m.latest, m.possible) for m in months)])
    high = _nice_ceiling(peak)
    span = (WIDTH - LEFT - RIGHT) / max(len(months), 1)

    def y(value: int | float) -> float:
        return round(HEIGHT - BOTTOM - value / high * (HEIGHT - TOP - BOTTOM), 1)

    bars = tuple(
        Bar(
            x=round(LEFT + i * span + span * 0.2, 1),
            width=round(span * 0.6, 1),
            y=y(m.target),
            high_y=y(m.possible),
            early_y=y(m.earliest),
            late_y=y(m.latest),
            label=m.month,
            title=(
                f"{m.month}: {m.target} by target; {m.earliest} if all as early as allowed, "
                f"{m.latest} if all as late as allowed; up to {m.possible}"
            ),
        )
        for i, m in enumerate(months)
    )
    ticks = tuple(Tick(y(v), str(v)) for v in _steps(high))
    table = (
        ("Month", "Target", "Earliest", "Latest", "Possible"),
        *(
            (m.month, str(m.target), str(m.earliest), str(m.latest), str(m.possible))
            for m in months
        ),
    )
    total = sum(m.target for m in months)
    return BarChart(
        id="chart-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-"),
        title=f"{name}: {total} {unit} by target date",
        description=(
            f"{name} per month from {months[0].month} to {months[-1].month}: bars by target date, "
            "whiskers up to every window that touches the month."
            if months
            else f"{name}: nothing planned."
        ),
        bars=bars,
        y_ticks=ticks,
        table=table,
    )


def _nice_ceiling(value: float) -> int:
    power = 10 ** math.floor(math.log10(max(value, 1)))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return int(step * power)
    return int(10 * power)


def _steps(high: int) -> list[int]:
    step = max(1, high // 4)
    return list(range(0, high + 1, step))


def trend_chart(name: str, points: Sequence[tuple[str, float | None]], *, unit: str) -> BarChart:
    """A bar per month of one figure (a month without any data has no bar)."""
    high = 100 if unit == "%" else _nice_ceiling(max([1.0, *(v or 0 for _, v in points)]))
    span = (WIDTH - LEFT - RIGHT) / max(len(points), 1)

    def y(value: float) -> float:
        return round(HEIGHT - BOTTOM - value / high * (HEIGHT - TOP - BOTTOM), 1)

    bars = tuple(
        Bar(
            x=round(LEFT + i * span + span * 0.15, 1),
            width=round(span * 0.7, 1),
            y=y(v or 0),
            high_y=y(v or 0),
            early_y=y(v or 0),
            late_y=y(v or 0),
            label=month,
            title=f"{month}: {'no data' if v is None else f'{v:g}{unit}'}",
        )
        for i, (month, v) in enumerate(points)
    )
    shown = [f"{v:g}" for _, v in points if v is not None]
    return BarChart(
        id="chart-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-"),
        title=name,
        description=f"{name} per month: " + (", ".join(shown) if shown else "no data") + ".",
        bars=bars,
        y_ticks=tuple(Tick(y(v), f"{v}{unit}") for v in _steps(high)),
        table=(("Month", name), *((m, "" if v is None else f"{v:g}") for m, v in points)),
        marks=False,
    )
