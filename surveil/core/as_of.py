"""The worklist as it was: an item's state at a past moment, and the section it stood in then.

Pure: the service hands in the row as it is now and the audited changes made since the moment
(each change's ``before`` values); undoing them newest first gives the row as it stood. Two
changes are not audited per item and are undone from their own timestamps by the service:
a replan's supersession (the row's ``updated_at``) and a withdrawn trigger's escalation item
(the trigger's ``resolved_at``); both only ever leave a *planned* item, so undoing either gives
``planned``.
"""

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from surveil.core.vocab import ItemState

# The item fields an action may change (services.records.actions._snapshot).
REWOUND_FIELDS = (
    "state",
    "booked_at",
    "snoozed_until",
    "completed_on",
    "outcome_note",
    "snooze_reason",
)
OPEN = (ItemState.PLANNED, ItemState.ORDERED, ItemState.BOOKED)


def rewind(
    current: Mapping[str, object], undo_newest_first: Iterable[Mapping[str, object]]
) -> dict[str, object]:
    """The fields as they were before every change in ``undo_newest_first`` (each change's
    ``before`` values, the newest change first)."""
    fields = {k: current.get(k) for k in REWOUND_FIELDS}
    for before in undo_newest_first:
        fields.update({k: v for k, v in before.items() if k in REWOUND_FIELDS})
    return fields


@dataclass(frozen=True)
class Horizon:
    """The day's edges as the live worklist draws them (services.worklist.sections)."""

    today: dt.date
    start_of_day: dt.datetime  # aware UTC: a booking before it has passed without a result
    lost_before: dt.date
    soon_until: dt.date


@dataclass(frozen=True)
class ItemThen:
    state: str
    earliest: dt.date
    latest: dt.date
    booked_at: dt.datetime | None  # aware UTC
    snoozed_until: dt.date | None


def section_of(item: ItemThen, day: Horizon) -> str | None:
    """The worklist section an item stood in on ``day`` (None: none), by the same rules as the
    live sections' SQL: overdue, due, soon or lost."""
    if item.state not in OPEN:
        return None
    booked = item.state == ItemState.BOOKED
    unattended = not booked or (item.booked_at is not None and item.booked_at < day.start_of_day)
    awake = item.snoozed_until is None or item.snoozed_until <= day.today
    if item.latest < day.lost_before:
        return "lost" if unattended else None
    if item.latest < day.today:
        return "overdue" if unattended and awake else None
    if item.earliest <= day.today:
        return "due" if unattended and awake else None
    if not booked and item.earliest <= day.soon_until and awake:
        return "soon"
    return None


def trigger_state_then(
    *,
    acknowledged_at: dt.datetime | None,
    resolved_at: dt.datetime | None,
    moment: dt.datetime,
) -> str:
    """A trigger's state at ``moment`` from its own timestamps (it was created before)."""
    if resolved_at is not None and resolved_at <= moment:
        return "resolved"
    if acknowledged_at is not None and acknowledged_at <= moment:
        return "acknowledged"
    return "open"
