"""How long a plan holds: the first day after ``today`` on which the same facts could plan
differently or fire another trigger (issue 19: a routine replan skips the patients whose inputs
have not changed, until that day).

The planner and the triggers read ``today`` in few ways, and each can only change its answer on a
day this module names:

* a fact compared with today (a therapy ongoing, started or ended; a lesion measured after the
  resection; a death recorded ahead): the day of any date in the facts that is after today;
* the patient's age (eligibility by age): the next birthday;
* a programme's years running out (``Plan.ends_on``) and an SSA injection becoming overdue
  beyond its grace days (``triggers.ssa_alert_on``): dates the planner and the triggers derive,
  passed in as ``also``.

The windows' status (due, overdue) also moves with today, but it is not stored with an item.
``tests/core/test_horizon.py`` checks the claim by brute force: for a cohort of generated
patients, every day before the horizon plans and fires exactly as ``today`` does.
"""

import dataclasses
import datetime as dt
from typing import Any, get_args, get_type_hints

from dateutil.relativedelta import relativedelta

from surveil.core.facts import Facts


def holds_until(facts: Facts, today: dt.date, *also: dt.date | None) -> dt.date | None:
    """The first day after ``today`` on which a plan or a trigger from ``facts`` may change;
    None when no day is known to change them (only new facts can)."""
    days = [day for day in also if day is not None and day > today]
    later = _dates_after(facts, today)
    if later is not None:
        days.append(later)
    birthday = _next_birthday(facts, today)
    if birthday is not None:
        days.append(birthday)
    return min(days, default=None)


def _next_birthday(facts: Facts, today: dt.date) -> dt.date | None:
    born = facts.patient.birth_date
    age = facts.age_on(today)
    if born is None or age is None:
        return None
    # Born on 29 February: relativedelta gives the 28th in a common year, a day before
    # ``age_on`` counts the birthday (1 March). Early is safe: the plan is only derived again.
    return born + relativedelta(years=age + 1)


def _dates_after(fact: Any, today: dt.date) -> dt.date | None:
    """The earliest date after ``today`` anywhere in ``fact`` (the facts, or one of them)."""
    found: dt.date | None = None
    dates, nested = _shape(type(fact))
    for name in dates:
        day = getattr(fact, name)
        if day is not None and day > today and (found is None or day < found):
            found = day
    for name in nested:
        value = getattr(fact, name)
        for part in value if isinstance(value, tuple) else (value,):
            if part is None:
                continue
            day = _dates_after(part, today)
            if day is not None and (found is None or day < found):
                found = day
    return found


def _shape(kind: type) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The fields of a fact class that hold a date, and those that hold other facts (alone or in
    a tuple), read from its type hints once: a date field added to the facts later is counted
    without this module being told."""
    known = _SHAPES.get(kind)
    if known is not None:
        return known
    dates: list[str] = []
    nested: list[str] = []
    for field, hint in get_type_hints(kind).items():
        leaves = _leaves(hint)
        if dt.date in leaves:
            dates.append(field)
        elif any(dataclasses.is_dataclass(leaf) for leaf in leaves):
            nested.append(field)
    shape = _SHAPES[kind] = (tuple(dates), tuple(nested))
    return shape


_SHAPES: dict[type, tuple[tuple[str, ...], tuple[str, ...]]] = {}


def _leaves(hint: Any) -> set[Any]:
    args = get_args(hint)
    if not args:
        return {hint}
    return set().union(*(_leaves(arg) for arg in args))
