"""A small problem-collecting reader for raw mappings (parsed TOML or JSON).

Protocol files are written by people: a clinician fixing a pack wants every mistake at once, each
with its place (``rules[3].items[0].interval.max``), not one error per run. So every method here
records a :class:`Problem` and returns ``None`` instead of raising.
"""

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, TypeVar

from surveil.errors import Problem

E = TypeVar("E", bound=StrEnum)


def show(raw: Any) -> str:
    """A short repr of a bad value for an error message."""
    text = repr(raw)
    return text if len(text) <= 40 else text[:37] + "..."


class Reader:
    """Converts raw values, collecting problems that name ``where: path``.

    A value of ``None`` (a missing key) converts to None silently: :meth:`keys` has already
    reported a missing required key, and one mistake should give one message.
    """

    def __init__(self, where: str) -> None:
        self.where = where
        self.problems: list[Problem] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append(Problem(f"{self.where}: {path}" if path else self.where, message))

    def table(self, raw: Any, path: str) -> Mapping[str, Any] | None:
        if not isinstance(raw, Mapping):
            self.fail(path, f"must be a table, got {show(raw)}")
            return None
        return raw

    def keys(
        self,
        raw: Mapping[str, Any],
        path: str,
        *,
        required: tuple[str, ...] = (),
        optional: tuple[str, ...] = (),
    ) -> None:
        """Unknown keys are errors (a typo must never silently drop a rule)."""
        allowed = set(required) | set(optional)
        for key in sorted(set(raw) - allowed):
            self.fail(
                join(path, key), f"unknown key (expected one of: {', '.join(sorted(allowed))})"
            )
        for key in required:
            if key not in raw:
                self.fail(join(path, key), "is required")

    def text(self, raw: Any, path: str) -> str | None:
        if raw is None:
            return None
        if not isinstance(raw, str) or not raw.strip():
            self.fail(path, f"must be non-empty text, got {show(raw)}")
            return None
        return raw.strip()

    def integer(self, raw: Any, path: str, *, low: int = 0) -> int | None:
        if raw is None:
            return None
        if isinstance(raw, bool) or not isinstance(raw, int):
            self.fail(path, f"must be a whole number, got {show(raw)}")
            return None
        if raw < low:
            self.fail(path, f"{raw} must be at least {low}")
            return None
        return raw

    def number(self, raw: Any, path: str, *, low: float = 0) -> float | None:
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            self.fail(path, f"must be a number, got {show(raw)}")
            return None
        if raw < low:
            self.fail(path, f"{raw} must be at least {low:g}")
            return None
        return float(raw)

    def flag(self, raw: Any, path: str) -> bool | None:
        if not isinstance(raw, bool):
            self.fail(path, f"must be true or false, got {show(raw)}")
            return None
        return raw

    def enum(self, raw: Any, path: str, kind: type[E]) -> E | None:
        if raw is None:
            return None
        try:
            return kind(raw)
        except ValueError:
            choices = ", ".join(m.value for m in kind)
            self.fail(path, f"{show(raw)} is not one of: {choices}")
            return None

    def enum_set(self, raw: Any, path: str, kind: type[E]) -> frozenset[E]:
        """A list of vocabulary words; a single word is accepted as a list of one."""
        values = [raw] if isinstance(raw, str) else raw
        if not isinstance(values, list) or not values:
            self.fail(path, f"must be a non-empty list, got {show(raw)}")
            return frozenset()
        out = [self.enum(v, f"{path}[{i}]", kind) for i, v in enumerate(values)]
        return frozenset(v for v in out if v is not None)

    def tables(self, raw: Any, path: str) -> list[tuple[str, Mapping[str, Any]]]:
        """An array of tables, each with its own path (``rules[3]``)."""
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.fail(path, f"must be an array of tables, got {show(raw)}")
            return []
        out = []
        for i, entry in enumerate(raw):
            at = f"{path}[{i}]"
            table = self.table(entry, at)
            if table is not None:
                out.append((at, table))
        return out


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
