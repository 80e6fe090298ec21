"""Targets as the benchmarks state them in their ``met`` mapping (not a benchmark: no ``run``).

``met`` maps a figure's name to either a bool (the old form, still read) or what ``below``
and ``above`` return: ``{"ok": bool, "target": "< 15 ms", "measured": 9.5, "unit": "ms"}`` and,
where the benchmark measured a bare baseline in the same run, ``"ratio"`` (ours / bare). The
harness (scripts/bench.py) prints one row per entry.
"""

from typing import Any


def below(
    measured: float, limit: float, unit: str = "", *, inclusive: bool = False,
    ratio: float | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Met when ``measured`` < ``limit`` (<= with ``inclusive``)."""
    ok = measured <= limit if inclusive else measured < limit
    return _entry(ok, f"{'≤' if inclusive else '<'} {limit:g}{_space(unit)}", measured, unit, ratio)


def above(
    measured: float, limit: float, unit: str = "", *, ratio: float | None = None
) -> dict[str, Any]:
    """Met when ``measured`` >= ``limit``."""
    return _entry(measured >= limit, f"≥ {limit:,g}{_space(unit)}", measured, unit, ratio)


def holds(ok: bool, what: str) -> dict[str, Any]:
    """A condition rather than a number (every message delivered, the same bytes)."""
    return {"ok": ok, "target": what, "measured": "yes" if ok else "no", "unit": ""}


def reported(measured: float, unit: str = "", *, ratio: float | None = None) -> dict[str, Any]:
    """A figure the issue asks to see but sets no target for (``ok`` None: neither ✓ nor ✗)."""
    entry = _entry(True, "none (reported)", measured, unit, ratio)
    entry["ok"] = None
    return entry


def is_met(entry: object) -> bool | None:
    """The verdict of an entry in either form (None: a figure without a target)."""
    if isinstance(entry, dict):
        return None if entry.get("ok") is None else bool(entry["ok"])
    return bool(entry)


def _entry(
    ok: bool, target: str, measured: float, unit: str, ratio: float | None
) -> dict[str, Any]:
    entry: dict[str, Any] = {"ok": ok, "target": target, "measured": measured, "unit": unit}
    if ratio is not None:
        entry["ratio"] = ratio
    return entry


def _space(unit: str) -> str:
    return f" {unit}" if unit and unit not in ("x", "×", "%") else unit
