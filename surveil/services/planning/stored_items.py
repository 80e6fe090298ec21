"""A patient's open follow-up items as stored: planned, ordered or booked (what replanning
reconciles, what the plan page shows)."""

import datetime as dt
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlmodel import Session

from surveil.db import models as m
from surveil.db.driver_rows import ChunkQuery
from surveil.db.queries import plain_columns

ACTIVE_STATES = (m.ItemState.PLANNED, m.ItemState.ORDERED, m.ItemState.BOOKED)

# A stored follow-up item as read for display: a Core row with the table's columns.
OpenRow = sa.Row[Any]


class Reconciled(NamedTuple):
    """What ``reconcile`` (and ``_describe_change``) reads of a stored open item: a replan
    reads every open item of every patient, and the other columns (notes, snoozes, evidence...)
    were a third of reading them."""

    id: int
    patient_id: int
    kind: str
    region: str | None
    state: str
    rule_id: str
    earliest: dt.date
    target: dt.date
    latest: dt.date
    source: str
    reason: str
    anchor_date: dt.date | None
    pack_version: str
    profile: str


_ITEMS = m.FollowUpItem.__table__  # type: ignore[attr-defined]
# The open items as a replan reads them (``bench_replan`` also times it bare).
RECONCILED_READ = ChunkQuery(
    sa.select(*(_ITEMS.c[name] for name in Reconciled._fields)).where(
        _ITEMS.c.state.in_(ACTIVE_STATES)
    ),
    _ITEMS.c.patient_id,
)


def reconciled_items(session: Session, patient_ids: list[int]) -> dict[int, list[Reconciled]]:
    """Each patient's open items as :class:`Reconciled` rows, read by the driver."""
    out: dict[int, list[Reconciled]] = {}
    make = Reconciled._make
    for row in RECONCILED_READ.rows(session, patient_ids):
        item = make(row)
        found = out.get(item.patient_id)
        if found is None:
            out[item.patient_id] = [item]
        else:
            found.append(item)
    return out


def open_items(session: Session, patient_ids: list[int]) -> dict[int, list[OpenRow]]:
    """Each patient's open items as plain rows without their timestamps."""
    out: dict[int, list[OpenRow]] = {}
    if not patient_ids:
        return out
    table = m.FollowUpItem.__table__  # type: ignore[attr-defined]
    read = plain_columns(table)
    for start in range(0, len(patient_ids), 900):  # SQLite's cap on bound parameters
        query = sa.select(*read).where(
            table.c.patient_id.in_(patient_ids[start : start + 900]),
            table.c.state.in_(ACTIVE_STATES),
        )
        for row in session.execute(query):
            out.setdefault(row.patient_id, []).append(row)
    return out
