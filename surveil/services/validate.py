"""Checking what a person typed (CLI options, web forms) before anything is written.

A ``Checker`` collects every problem, each naming the field, so the user fixes all of them in one
go; ``raise_if_problems`` then raises InvalidInput and the caller's transaction writes nothing.
"""

import datetime as dt
import re
from enum import StrEnum
from typing import TypeVar

from surveil.core.facts import is_time_zone
from surveil.errors import InvalidInput, Problem

E = TypeVar("E", bound=StrEnum)

# The dates surveil accepts from people. Nobody followed up today was born before 1900, and no
# follow-up is planned past 2200; outside that range a typo (0001-01-01, 9999-12-31) would only
# break date arithmetic further on (a worklist "today" of 9999-12-31 has no tomorrow).
EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2200, 12, 31)

# Control characters have no place in anything a person types: a NUL is refused by PostgreSQL
# (an error after half the work), an escape sequence or a line break forges log lines. Tab and
# line breaks stay allowed for notes typed in a text area.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def control_character_problem(field: str, value: str) -> Problem | None:
    """A problem naming the first control character in ``value`` (by code point, never the
    value itself, which may be patient data), or None."""
    found = _CONTROL.search(value)
    if found is None:
        return None
    return Problem(field, f"contains a control character (U+{ord(found.group()):04X}); remove it")


class Checker:
    def __init__(self, *, today: dt.date, what: str = "input") -> None:
        self.today = today
        self.what = what
        self.problems: list[Problem] = []

    def fail(self, field: str, message: str) -> None:
        self.problems.append(Problem(field, message))

    def raise_if_problems(self) -> None:
        if self.problems:
            raise InvalidInput(self.problems, what=self.what)

    def text(
        self, field: str, value: str | None, *, required: bool = True, max_length: int = 200
    ) -> str | None:
        if value is None or not value.strip():
            if required:
                self.fail(field, "is required")
            return None
        value = value.strip()
        if problem := control_character_problem(field, value):
            self.problems.append(problem)
            return None
        if len(value) > max_length:
            self.fail(field, f"is longer than {max_length} characters")
            return None
        return value

    def date(
        self,
        field: str,
        value: str | dt.date | None,
        *,
        required: bool = True,
        not_future: bool = True,
        not_before: dt.date | None = None,
        not_before_label: str = "",
    ) -> dt.date | None:
        if value is None or value == "":
            if required:
                self.fail(field, "is required (YYYY-MM-DD)")
            return None
        if isinstance(value, dt.date):
            day = value
        else:
            try:
                day = dt.date.fromisoformat(value.strip())
            except ValueError:
                self.fail(field, f"{value!r} is not a real date as YYYY-MM-DD")
                return None
        if not EARLIEST_DATE <= day <= LATEST_DATE:
            self.fail(field, f"{day} is outside {EARLIEST_DATE} to {LATEST_DATE}")
            return None
        if not_future and day > self.today:
            self.fail(field, f"{day} is in the future (today is {self.today})")
            return None
        if not_before is not None and day < not_before:
            self.fail(field, f"{day} is before {not_before_label or not_before}")
            return None
        return day

    def number(
        self,
        field: str,
        value: str | float | None,
        *,
        required: bool = True,
        low: float | None = None,
        high: float | None = None,
        positive: bool = False,
    ) -> float | None:
        if value is None or value == "":
            if required:
                self.fail(field, "is required (a number)")
            return None
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(field, f"{value!r} is not a number")
            return None
        if number != number or number in (float("inf"), float("-inf")):
            self.fail(field, f"{value!r} is not a finite number")
            return None
        if positive and number <= 0:
            self.fail(field, f"{value} must be greater than 0")
            return None
        if (low is not None and number < low) or (high is not None and number > high):
            if low is not None and high is not None:
                self.fail(field, f"{value} is outside {low:g}–{high:g}")
            elif high is not None:  # an upper bound alone (a diameter: positive, at most 500)
                self.fail(field, f"{value} must be at most {high:g}")
            else:
                self.fail(field, f"{value} must be at least {low:g}")
            return None
        return number

    def choice(
        self, field: str, value: str | None, kind: type[E], *, required: bool = True
    ) -> E | None:
        if value is None or value == "":
            if required:
                self.fail(field, f"is required (one of: {_choices(kind)})")
            return None
        try:
            return kind(value)
        except ValueError:
            self.fail(field, f"{value!r} is not one of: {_choices(kind)}")
            return None

    def time_zone(self, field: str, value: str | None) -> str | None:
        if value is None:
            return None
        if not is_time_zone(value):
            self.fail(field, f"{value!r} is not an IANA time zone (e.g. Europe/London)")
            return None
        return value


def _choices(kind: type[StrEnum]) -> str:
    return ", ".join(m.value for m in kind)
