"""Capacity forecast: how many scans, scopes, blood tests, injections and tumour boards the
committed plans need per month, with the spread their windows allow.

Pure: the service hands in each open (or would-be) item's kind, tumour site and window. For
each month of the horizon an item counts

* under **target** in the month of its target date,
* under **earliest** in the month its window opens (everyone seen as early as allowed),
* under **latest** in the month its window closes (everyone seen as late as allowed),
* under **possible** in every month its window touches (the most a month could be asked for;
  grouped without months, once).

An item already overdue (or opening before the horizon) is needed now: its dates before the
first month count in the first month. Dates after the horizon count nowhere.
"""

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from dateutil.relativedelta import relativedelta

from surveil.core.vocab import MARKER_KINDS, ItemKind

DIMENSIONS = ("resource", "kind", "site", "month")
MEASURES = ("earliest", "target", "latest", "possible")

# What the clinic books: several item kinds share one resource (a scope room, the phlebotomy
# list). A kind not named here is its own resource.
_RESOURCES: dict[str, str] = {
    ItemKind.MRI: "MRI",
    ItemKind.CT: "CT",
    ItemKind.CT_OR_MRI: "CT or MRI",
    ItemKind.SSTR_PET: "SSTR PET",
    ItemKind.FDG_PET: "FDG PET",
    ItemKind.EUS: "Endoscopy",
    ItemKind.ENDOSCOPY: "Endoscopy",
    ItemKind.LABS: "Blood tests",
    **{k: "Blood tests" for k in MARKER_KINDS},
    ItemKind.SSA_INJECTION: "SSA injections",
    ItemKind.TUMOUR_BOARD: "Tumour boards",
    ItemKind.ECHOCARDIOGRAM: "Echocardiogram",
    ItemKind.PRRT_CYCLE: "PRRT cycles",
    ItemKind.CLINIC_VISIT: "Clinic visits",
}
RESOURCE_ORDER = (
    "MRI",
    "CT",
    "CT or MRI",
    "SSTR PET",
    "FDG PET",
    "Endoscopy",
    "Blood tests",
    "SSA injections",
    "Tumour boards",
    "Echocardiogram",
    "PRRT cycles",
    "Clinic visits",
)


def resource_of(kind: str) -> str:
    return _RESOURCES.get(kind, kind)


@dataclass(frozen=True)
class Need:
    """One item the plans commit to: what, for which tumour site, and its window."""

    kind: str
    site: str
    earliest: dt.date
    target: dt.date
    latest: dt.date
    count: int = 1  # as many items alike (the service counts them by month in the database)


@dataclass
class Counts:
    earliest: int = 0
    target: int = 0
    latest: int = 0
    possible: int = 0

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.earliest, self.target, self.latest, self.possible)


@dataclass(frozen=True)
class Forecast:
    months: tuple[dt.date, ...]  # the first day of each month of the horizon
    by: tuple[str, ...]  # the dimensions each row is keyed by, in DIMENSIONS order
    rows: tuple[tuple[tuple[str, ...], Counts], ...]  # (key values, counts), sorted
    total: Counts = field(default_factory=Counts)


def month_starts(first: dt.date, months: int) -> tuple[dt.date, ...]:
    start = first.replace(day=1)
    return tuple(start + relativedelta(months=n) for n in range(months))


def parse_by(text: str) -> tuple[tuple[str, ...], list[str]]:
    """``kind,site,month`` as dimensions in canonical order, and the names that are not one."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    wrong = [n for n in names if n not in DIMENSIONS]
    return tuple(d for d in DIMENSIONS if d in names), wrong


def forecast(needs: Iterable[Need], *, today: dt.date, months: int, by: Sequence[str]) -> Forecast:
    """Count ``needs`` per month of the ``months`` starting with today's, keyed by ``by``."""
    starts = month_starts(today, months)
    labels = [m.strftime("%Y-%m") for m in starts]
    origin = starts[0].year * 12 + starts[0].month - 1
    per_month = "month" in by
    others = [d for d in by if d != "month"]
    # Months as positions in the horizon (plain integers: this loop runs once per open item of
    # the registry); -1 for "after the horizon", 0 for now or before.
    table: dict[tuple[tuple[str, ...], int], list[int]] = {}
    total = [0, 0, 0, 0]

    def position(day: dt.date) -> int:
        at = day.year * 12 + day.month - 1 - origin
        return -1 if at >= months else max(at, 0)

    for need in needs:
        values = {"resource": resource_of(need.kind), "kind": need.kind, "site": need.site}
        group = tuple(values[d] for d in others)
        opens, aims, closes = position(need.earliest), position(need.target), position(need.latest)
        weight = need.count
        for measure, at in enumerate((opens, aims, closes)):
            if at >= 0:
                _add(table, group, at if per_month else 0, measure, weight)
                total[measure] += weight
        if opens < 0:
            continue  # the window opens after the horizon
        # Every month from the window's opening (or now) to its close (or the horizon's end);
        # an overdue window reaches into the first month. Without months, once.
        last = months - 1 if closes < 0 else closes
        for at in range(opens, last + 1) if per_month else (0,):
            _add(table, group, at, 3, weight)
        total[3] += weight
    rows = []
    for (group, at), counts in table.items():
        named = dict(zip(others, group, strict=True))
        named["month"] = labels[at]
        rows.append((tuple(named[d] for d in by), Counts(*counts)))
    rows.sort(key=lambda pair: _order(pair[0], by))
    return Forecast(months=starts, by=tuple(by), rows=tuple(rows), total=Counts(*total))


def _add(
    table: dict[tuple[tuple[str, ...], int], list[int]],
    group: tuple[str, ...],
    at: int,
    measure: int,
    weight: int,
) -> None:
    counts = table.get((group, at))
    if counts is None:
        counts = table[(group, at)] = [0, 0, 0, 0]
    counts[measure] += weight


def _order(key: tuple[str, ...], by: Sequence[str]) -> tuple[object, ...]:
    out: list[object] = []
    for dim, value in zip(by, key, strict=True):
        if dim == "resource":
            known = value in RESOURCE_ORDER
            out.append((0, RESOURCE_ORDER.index(value), "") if known else (1, 0, value))
        else:
            out.append(value)
    return tuple(out)
