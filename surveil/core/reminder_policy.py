"""The clinic's reminder policy and its ``[reminders]`` configuration table.

```toml
[reminders]
window_open = true              # remind when an item's window opens
before_target_days = 7          # and this many days before its target (0 = never)
days_before_window = [14, 3]    # and these many days before the window opens ([] = none)
repeats = 2                     # then up to this many repeats while the item is still open,
repeat_every_days = 2           # this many days apart, after the window opened (0 = none)
overdue_navigator = true        # overdue: stop reminding the patient, tell the navigators
urgent_kinds = ["ssa_injection"]
channels = ["email", "sms"]     # what this clinic has set up; patients choose among these
send_time = "09:00"             # local time of day, in the patient's time zone
quiet_start = "20:00"           # no patient message from quiet_start...
quiet_end = "08:00"             # ...to quiet_end, on the patient's clock
```
"""

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from surveil.core.vocab import ItemKind
from surveil.errors import Problem


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    DIGEST = "digest"  # a line on the navigators' daily digest, not a message of its own


PATIENT_CHANNELS = (Channel.EMAIL, Channel.SMS)


@dataclass(frozen=True)
class ReminderPolicy:
    window_open: bool = True
    before_target_days: int = 7  # 0 turns the stage off
    # The clinic's cadence: reminders this many days before the window opens (largest first),
    # then up to ``repeats`` more, ``repeat_every_days`` apart, after it opened.
    days_before_window: tuple[int, ...] = ()
    repeats: int = 0
    repeat_every_days: int = 2
    overdue_navigator: bool = True
    urgent_kinds: frozenset[ItemKind] = frozenset({ItemKind.SSA_INJECTION})
    channels: tuple[Channel, ...] = PATIENT_CHANNELS
    send_time: dt.time = dt.time(9, 0)
    quiet_start: dt.time = dt.time(20, 0)
    quiet_end: dt.time = dt.time(8, 0)


_FLAGS = ("window_open", "overdue_navigator")
_TIMES = ("send_time", "quiet_start", "quiet_end")
_CADENCE = ("days_before_window", "repeats", "repeat_every_days")
_KEYS = (*_FLAGS, "before_target_days", *_CADENCE, "urgent_kinds", "channels", *_TIMES)
_MAX_DAYS_BEFORE = 90
_MAX_REPEATS = 10
_MAX_REPEAT_GAP = 30
_KIND_NAMES = frozenset(k.value for k in ItemKind)


def parse_policy(
    raw: Mapping[str, Any], *, where: str = "reminders"
) -> tuple[ReminderPolicy, list[Problem]]:
    """A policy from a config table, with every problem found (each naming its key).

    Keys left out keep their defaults; a bad value also keeps the default, so the caller can
    report all problems at once and refuse to start.
    """
    problems: list[Problem] = []
    values: dict[str, Any] = {}
    for key in sorted(set(raw) - set(_KEYS)):
        problems.append(Problem(f"{where}.{key}", f"unknown setting; expected one of {_KEYS}"))
    for key in _KEYS:
        if key not in raw:
            continue
        value, message = _PARSERS[key](raw[key])
        if message is None:
            values[key] = value
        else:
            problems.append(Problem(f"{where}.{key}", message))
    gap = values.get("repeat_every_days", ReminderPolicy.repeat_every_days)
    if values.get("repeats", 0) * gap > _MAX_DAYS_BEFORE:
        problems.append(
            Problem(
                f"{where}.repeats",
                f"{values['repeats']} repeats {gap} days apart reach past {_MAX_DAYS_BEFORE} "
                "days after the window opens: fewer repeats, or closer together",
            )
        )
    return ReminderPolicy(**values), problems


_Parsed = tuple[Any, str | None]  # the value, or why it was refused


def _flag(raw: Any) -> _Parsed:
    if isinstance(raw, bool):
        return raw, None
    return None, f"expected true or false, got {raw!r}"


def _days(raw: Any) -> _Parsed:
    if isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw <= _MAX_DAYS_BEFORE:
        return raw, None
    return None, f"expected a whole number of days from 0 to {_MAX_DAYS_BEFORE}, got {raw!r}"


def _lead_days(raw: Any) -> _Parsed:
    """Distinct whole days from 1 to 90 (the day itself is ``window_open``), largest first."""
    fine = isinstance(raw, list | tuple) and all(
        isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= _MAX_DAYS_BEFORE for d in raw
    )
    if fine and len(set(raw)) == len(raw):
        return tuple(sorted(raw, reverse=True)), None
    return None, (
        f"expected a list of distinct whole numbers of days from 1 to {_MAX_DAYS_BEFORE} "
        f"(e.g. [14, 3]), got {raw!r}"
    )


def _bounded(low: int, high: int, what: str) -> Any:
    def parse(raw: Any) -> _Parsed:
        if isinstance(raw, int) and not isinstance(raw, bool) and low <= raw <= high:
            return raw, None
        return None, f"expected a whole number of {what} from {low} to {high}, got {raw!r}"

    return parse


def _time(raw: Any) -> _Parsed:
    if isinstance(raw, dt.time) and raw.tzinfo is None:
        return raw, None  # TOML's own local time, e.g. quiet_start = 20:00:00
    if isinstance(raw, str):
        try:
            parsed = dt.time.fromisoformat(raw)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is None:
            return parsed, None
    return None, f'expected a local time like "08:00", got {raw!r}'


def _kinds(raw: Any) -> _Parsed:
    names = _names(raw)
    if names is None or any(n not in _KIND_NAMES for n in names):
        valid = ", ".join(k.value for k in ItemKind)
        return None, f"expected a list of item kinds ({valid}), got {raw!r}"
    return frozenset(ItemKind(n) for n in names), None


def _channels(raw: Any) -> _Parsed:
    names = _names(raw)
    allowed = [c.value for c in PATIENT_CHANNELS]
    if names is None or any(n not in allowed for n in names) or len(set(names)) != len(names):
        return None, f"expected a list of distinct channels from {allowed}, got {raw!r}"
    return tuple(Channel(n) for n in names), None


def _names(raw: Any) -> list[str] | None:
    if isinstance(raw, list | tuple) and all(isinstance(n, str) for n in raw):
        return list(raw)
    return None


_PARSERS = {
    "window_open": _flag,
    "overdue_navigator": _flag,
    "before_target_days": _days,
    "days_before_window": _lead_days,
    "repeats": _bounded(0, _MAX_REPEATS, "repeats"),
    "repeat_every_days": _bounded(1, _MAX_REPEAT_GAP, "days"),
    "urgent_kinds": _kinds,
    "channels": _channels,
    "send_time": _time,
    "quiet_start": _time,
    "quiet_end": _time,
}
