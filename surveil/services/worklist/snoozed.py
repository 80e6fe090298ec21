"""The worklist's ``snoozed`` view (issue 14): open items someone snoozed, with the reason and the
day the snooze ends, so a snooze is seen, not a hiding place.

A snoozed item leaves the daily sections until its snooze ends (``sections.awake``); here it
is listed, soonest end first. Booked items are left out (the booking sections show them
whatever the snooze says), and so are lost ones (``lost`` shows them, marked "snoozed until").
The view is read only when asked for (``?section=snoozed``, ``surveil worklist --section
snoozed``): it walks every open item, which the overview's sections must not.
"""

import datetime as dt
from typing import Any

import sqlalchemy as sa

from surveil.core.vocab import ItemState
from surveil.db import models as m
from surveil.services.worklist.booked import BookedSection, ItemsOf
from surveil.services.worklist.rows import WorkRow, item_row

KEY = "snoozed"
REASON = m.CodedReason.__table__.alias("cr")  # type: ignore[attr-defined]


def snoozed_spec(
    items: ItemsOf, alias: Any, *, today: dt.date, lost_before: dt.date
) -> BookedSection:
    i = alias.c
    code = (
        sa.select(REASON.c.code)
        .where(
            REASON.c.action == "item.snoozed",
            REASON.c.subject == sa.literal("item:") + sa.cast(i.id, sa.String),
        )
        .order_by(REASON.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    stmt = items(
        alias,
        i.state != sa.literal(ItemState.BOOKED.value, literal_execute=True),
        i.snoozed_until > today,
        i.latest >= lost_before,
    ).add_columns(i.snooze_reason, code.label("reason_code"))
    return BookedSection(
        KEY,
        "Snoozed",
        "Hidden from the daily sections until the snooze ends: check the reason still holds.",
        stmt,
        (i.snoozed_until, i.id),
        lambda r: _row(r, today),
    )


def _row(r: Any, today: dt.date) -> WorkRow:
    days = (r.snoozed_until - today).days
    row = item_row(KEY, r, f"snoozed until {r.snoozed_until} ({days} days)")
    coded = f"{r.reason_code}: " if r.reason_code else ""
    reason = f"{coded}{r.snooze_reason}".strip() or "(none given)"
    return WorkRow(**{**row.__dict__, "detail": f"reason {reason}; {row.detail}"})
