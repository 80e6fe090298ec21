"""The worklist's booking sections (issue 14): a booked item is never out of sight.

- ``booked_outside``: the appointment falls before or after the due window (a coded reason was
  given when booking); shown until the item is done, or the booking cancelled or missed;
- ``booked_no_result``: the appointment day passed at least ``[bookings] no_result_grace_days``
  ago and no result is recorded: did the patient come?
- ``booked``: booked inside the window, appointment to come, the window open or opening within
  ``soon_days``: nothing to do but it is seen, not silently parked.

Each returns the parts of a section (``sections._Spec`` takes them in this order).
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from surveil.config import Settings
from surveil.core.vocab import ItemState
from surveil.core.zones import start_of_day_utc, wall_clock
from surveil.db import models as m
from surveil.services.worklist.rows import WorkRow, item_row

ATTEMPT = m.BookingAttempt.__table__.alias("a")  # type: ignore[attr-defined]
A = ATTEMPT.c
ItemsOf = Callable[..., sa.Select[Any]]  # sections' items(alias, *where)


@dataclass(frozen=True)
class BookedSection:
    key: str
    title: str
    hint: str
    stmt: sa.Select[Any]
    order: tuple[Any, ...]
    to_row: Callable[[Any], WorkRow]


def _outside(i: Any) -> Any:
    return sa.exists().where(
        A.item_id == i.id,
        A.status == m.BookingStatus.ACTIVE.value,
        A.placement != m.BookingWindow.INSIDE.value,
    )


def _active(i: Any, column: Any) -> Any:
    return (
        sa.select(column)
        .where(A.item_id == i.id, A.status == m.BookingStatus.ACTIVE.value)
        .limit(1)
        .scalar_subquery()
    )


def booking_specs(
    items: ItemsOf, alias: Any, *, today: dt.date, settings: Settings
) -> list[BookedSection]:
    """Booked outside the window, and booked with no result after the grace."""
    i = alias.c
    grace = settings.bookings.no_result_grace_days
    # The appointment's day plus the grace are over (days counted in the clinic's zone).
    no_result_before = start_of_day_utc(today - dt.timedelta(days=grace), settings.clinic.timezone)
    booked = i.state == sa.literal(ItemState.BOOKED.value, literal_execute=True)
    outside = items(alias, booked, _outside(i)).add_columns(
        _active(i, A.placement).label("placement"),
        _active(i, A.reason_code).label("reason_code"),
        _active(i, A.reason_text).label("reason_text"),
    )
    return [
        BookedSection(
            "booked_outside",
            "Booked outside the window",
            "The appointment falls outside the due window: check it still suits the patient.",
            outside,
            (i.booked_at, i.id),
            lambda r: _outside_row(r, today),
        ),
        BookedSection(
            "booked_no_result",
            "Booked, no result",
            f"The appointment was more than {grace} days ago and no result is recorded: did "
            "the patient come? Record the result, a no-show or a cancellation.",
            items(alias, booked, i.booked_at < no_result_before),
            (i.booked_at, i.id),
            lambda r: item_row("booked_no_result", r, _since(r, today)),
        ),
    ]


def upcoming_booking_specs(
    items: ItemsOf, alias: Any, *, today: dt.date, settings: Settings
) -> list[BookedSection]:
    """Booked inside the window, appointment to come."""
    i = alias.c
    cutoff = start_of_day_utc(today, settings.clinic.timezone)
    soon_until = today + dt.timedelta(days=settings.worklist.soon_days)
    booked = i.state == sa.literal(ItemState.BOOKED.value, literal_execute=True)
    return [
        BookedSection(
            "booked",
            "Booked, appointment to come",
            "Booked inside the window: nothing to do until the appointment.",
            items(alias, booked, i.booked_at >= cutoff, i.earliest <= soon_until, ~_outside(i)),
            (i.booked_at, i.id),
            lambda r: item_row("booked", r, f"appointment {wall_clock(r.booked_at, r.timezone)}"),
        )
    ]


def _since(r: Any, today: dt.date) -> str:
    days = (today - r.booked_at.date()).days
    return f"appointment {days} days ago, no result"


def _outside_row(r: Any, today: dt.date) -> WorkRow:
    when = "before" if r.placement == m.BookingWindow.BEFORE else "after"
    reason = r.reason_code or ""
    if r.reason_text:
        reason += f": {r.reason_text}"
    timing = f"booked {when} the window ({r.earliest} – {r.latest})"
    row = item_row("booked_outside", r, timing)
    passed = r.booked_at is not None and r.booked_at.date() < today
    detail = f"reason {reason}; {row.detail}" + ("; appointment passed" if passed else "")
    return WorkRow(**{**row.__dict__, "detail": detail})
