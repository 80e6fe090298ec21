"""Trigger thresholds: the numbers at which a finding escalates, and their parser.

Defaults come from clinical-reference §2 (T1, T2, T7, T11) and clinical-vignettes §2 (T01, T02,
T09, T11, T12, T16) and §5 (D06, D07, D19). Each is a parameter because the guidelines disagree or
give no number at all; a protocol pack (schedules/*.toml) overrides them per profile under
``[thresholds]``. docs/triggers.md lists each default with its source and evidence class.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any

from surveil.core.vocab import MARKER_KINDS, ItemKind, Site
from surveil.errors import Problem


class Comparator(StrEnum):
    """How a value is compared with its threshold (D06: at exactly 20 mm the sources disagree)."""

    AT_LEAST = ">="
    ABOVE = ">"

    def holds(self, value: Any, threshold: Any) -> bool:
        return bool(value >= threshold) if self is Comparator.AT_LEAST else bool(value > threshold)


@dataclass(frozen=True)
class MarkerRule:
    """A marker rise worth acting on: above ``factor_over_uln`` × ULN *and* ``rise_pct`` % over the
    previous value. No guideline gives numbers (clinical-reference §6.6): these are [I] defaults."""

    marker: ItemKind = ItemKind.CGA
    factor_over_uln: float = 2.0
    rise_pct: float = 50.0
    # A PPI raises CgA; a repeat after this washout tells a real rise from a drug effect (D19).
    ppi_washout_days: int = 14


@dataclass(frozen=True)
class TriggerThresholds:
    # Growth and size apply to tumours at these sites on active surveillance (T1/T2: small pNET).
    surveillance_sites: frozenset[Site] = frozenset({Site.PANCREAS})
    growth_mm_per_year: float = 5.0
    growth_comparator: Comparator = Comparator.AT_LEAST
    # Two scans closer than this are never compared: a week apart, noise looks like growth.
    min_spacing_days: int = 60
    size_mm: float = 20.0
    size_comparator: Comparator = Comparator.AT_LEAST
    # RECIST 1.1 progressive disease, for patients in the advanced state (T7/T09).
    recist_pct: float = 20.0
    recist_abs_mm: float = 5.0
    marker_rules: tuple[MarkerRule, ...] = field(default_factory=lambda: (MarkerRule(),))
    # SSA every 28 days; alert once the ±3-day tolerance window has closed (T16, §1c).
    ssa_interval_days: int = 28
    ssa_grace_days: int = 3
    # How soon the tumour board (MDT) should see a triggered patient [I].
    tumour_board_within_days: int = 14


DEFAULT_THRESHOLDS = TriggerThresholds()

_NUMBERS = {  # name -> smallest allowed value, and whether it may equal that value
    "growth_mm_per_year": (0.0, False),
    "size_mm": (0.0, False),
    "recist_pct": (0.0, False),
    "recist_abs_mm": (0.0, True),
}
_WHOLE = {  # name -> smallest allowed whole number
    "min_spacing_days": 1,
    "ssa_interval_days": 1,
    "ssa_grace_days": 0,
    "tumour_board_within_days": 0,
}
_MARKER_NUMBERS = {"factor_over_uln": (0.0, False), "rise_pct": (0.0, False)}


def parse_thresholds(
    raw: Mapping[str, Any], *, where: str
) -> tuple[TriggerThresholds, list[Problem]]:
    """Read a ``[thresholds]`` table; missing keys keep their defaults.

    Returns the thresholds and every problem found (unknown keys, wrong types, out-of-range values),
    each placed like ``f"{where}.growth_mm_per_year"``. With problems, the thresholds returned are
    the defaults overlaid with the values that were valid, so a caller may still show them.
    """
    if not isinstance(raw, Mapping):
        return DEFAULT_THRESHOLDS, [Problem(where, f"must be a table, got {_show(raw)}")]
    problems = _unknown_keys(raw, where)
    values = {**_scalars(raw, where, problems), **_collections(raw, where, problems)}
    return TriggerThresholds(**values), problems


def _unknown_keys(raw: Mapping[str, Any], where: str) -> list[Problem]:
    known = {f.name for f in fields(TriggerThresholds)}
    return [
        Problem(
            f"{where}.{key}", f"unknown threshold (expected one of: {', '.join(sorted(known))})"
        )
        for key in sorted(set(raw) - known)
    ]


def _scalars(raw: Mapping[str, Any], where: str, problems: list[Problem]) -> dict[str, Any]:
    """The valid numbers and comparators among ``raw``; the invalid ones go to ``problems``."""
    values: dict[str, Any] = {}
    for name, (low, inclusive) in _NUMBERS.items():
        if name in raw:
            values[name] = _number(raw[name], f"{where}.{name}", low, inclusive, problems)
    for name, smallest in _WHOLE.items():
        if name in raw:
            values[name] = _whole(raw[name], f"{where}.{name}", smallest, problems)
    for name in ("growth_comparator", "size_comparator"):
        if name in raw:
            values[name] = _comparator(raw[name], f"{where}.{name}", problems)
    return {name: value for name, value in values.items() if value is not None}


def _collections(raw: Mapping[str, Any], where: str, problems: list[Problem]) -> dict[str, Any]:
    """The valid site set and marker rules among ``raw``; the invalid ones go to ``problems``."""
    values: dict[str, Any] = {}
    if "surveillance_sites" in raw:
        values["surveillance_sites"] = _sites(
            raw["surveillance_sites"], f"{where}.surveillance_sites", problems
        )
    if "marker_rules" in raw:
        values["marker_rules"] = _marker_rules(
            raw["marker_rules"], f"{where}.marker_rules", problems
        )
    return {name: value for name, value in values.items() if value is not None}


def _show(raw: Any) -> str:
    text = repr(raw)
    return text if len(text) <= 40 else text[:37] + "..."


def _number(
    raw: Any, where: str, low: float, inclusive: bool, problems: list[Problem]
) -> float | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        problems.append(Problem(where, f"must be a number, got {_show(raw)}"))
        return None
    if raw < low or (raw == low and not inclusive):
        bound = f"at least {low:g}" if inclusive else f"greater than {low:g}"
        problems.append(Problem(where, f"{raw} must be {bound}"))
        return None
    return float(raw)


def _whole(raw: Any, where: str, smallest: int, problems: list[Problem]) -> int | None:
    if isinstance(raw, bool) or not isinstance(raw, int):
        problems.append(Problem(where, f"must be a whole number of days, got {_show(raw)}"))
        return None
    if raw < smallest:
        problems.append(Problem(where, f"{raw} must be at least {smallest}"))
        return None
    return raw


def _comparator(raw: Any, where: str, problems: list[Problem]) -> Comparator | None:
    try:
        return Comparator(raw)
    except ValueError:
        problems.append(Problem(where, f"{_show(raw)} is not one of: >=, >"))
        return None


def _sites(raw: Any, where: str, problems: list[Problem]) -> frozenset[Site] | None:
    if not isinstance(raw, list):
        problems.append(Problem(where, f"must be a list of sites, got {_show(raw)}"))
        return None
    sites: set[Site] = set()
    ok = True
    for i, entry in enumerate(raw):
        try:
            sites.add(Site(entry))
        except ValueError:
            ok = False
            choices = ", ".join(s.value for s in Site)
            problems.append(Problem(f"{where}[{i}]", f"{_show(entry)} is not one of: {choices}"))
    return frozenset(sites) if ok else None


def _marker_rules(raw: Any, where: str, problems: list[Problem]) -> tuple[MarkerRule, ...] | None:
    if not isinstance(raw, list):
        problems.append(Problem(where, f"must be a list of tables, got {_show(raw)}"))
        return None
    rules: list[MarkerRule] = []
    seen: set[ItemKind] = set()
    before = len(problems)
    for i, entry in enumerate(raw):
        rule = _marker_rule(entry, f"{where}[{i}]", problems)
        if rule is None:
            continue
        if rule.marker in seen:
            problems.append(Problem(f"{where}[{i}].marker", f"a second rule for {rule.marker}"))
        seen.add(rule.marker)
        rules.append(rule)
    return tuple(rules) if len(problems) == before else None


def _marker_rule(raw: Any, where: str, problems: list[Problem]) -> MarkerRule | None:
    if not isinstance(raw, Mapping):
        problems.append(Problem(where, f"must be a table, got {_show(raw)}"))
        return None
    known = {f.name for f in fields(MarkerRule)}
    before = len(problems)
    for key in sorted(set(raw) - known):
        problems.append(
            Problem(
                f"{where}.{key}", f"unknown field (expected one of: {', '.join(sorted(known))})"
            )
        )
    values: dict[str, Any] = {}
    marker = raw.get("marker")
    if marker not in {m.value for m in MARKER_KINDS}:
        choices = ", ".join(sorted(m.value for m in MARKER_KINDS))
        what = "is required" if marker is None else f"{_show(marker)} is not a marker"
        problems.append(Problem(f"{where}.marker", f"{what} (one of: {choices})"))
    else:
        values["marker"] = ItemKind(marker)
    for name, (low, inclusive) in _MARKER_NUMBERS.items():
        if name in raw:
            number = _number(raw[name], f"{where}.{name}", low, inclusive, problems)
            if number is not None:
                values[name] = number
    if "ppi_washout_days" in raw:
        days = _whole(raw["ppi_washout_days"], f"{where}.ppi_washout_days", 0, problems)
        if days is not None:
            values["ppi_washout_days"] = days
    return MarkerRule(**values) if len(problems) == before else None
