"""A booking that did not happen: cancelled, or the patient did not come (no-show).

Either puts the item back to due (planned, no appointment) and keeps the booking as an attempt
that ended that way, so the history shows every try; the plan is then re-derived. Booking itself
(with the window check and its coded reason) is ``records.actions.mark_booked``; its
in-transaction part, :func:`book`, is re-exported here beside :func:`unbook` for the HL7 feed.
"""

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Session

from surveil.config import Settings
from surveil.db import models as m
from surveil.db.session import session_scope
from surveil.errors import Conflict
from surveil.services.actor import Actor
from surveil.services.entry import change
from surveil.services.outcome import Outcome
from surveil.services.planning import care
from surveil.services.records import attempts
from surveil.services.records.actions import _changed, _open_item, _snapshot, _what, book
from surveil.services.validate import Checker

__all__ = ["book", "cancel_booking", "record_no_show", "unbook"]


@change("booking.cancelled", *care.CONSEQUENCES)
def cancel_booking(
    engine: sa.Engine,
    *,
    item_id: int,
    actor: Actor,
    note: str | None,
    settings: Settings,
    today: dt.date,
) -> Outcome:
    """The appointment was cancelled: the item is due again, the attempt is kept."""
    return _unbook(engine, item_id, actor, m.BookingStatus.CANCELLED, note, settings, today)


@change("booking.no_show", *care.CONSEQUENCES)
def record_no_show(
    engine: sa.Engine,
    *,
    item_id: int,
    actor: Actor,
    note: str | None,
    settings: Settings,
    today: dt.date,
) -> Outcome:
    """The patient did not come: the item is due again, the missed attempt is kept."""
    return _unbook(engine, item_id, actor, m.BookingStatus.NO_SHOW, note, settings, today)


def _unbook(
    engine: sa.Engine,
    item_id: int,
    actor: Actor,
    status: m.BookingStatus,
    note: str | None,
    settings: Settings,
    today: dt.date,
) -> Outcome:
    with session_scope(engine) as session:
        item, patient = _open_item(session, item_id, actor)
        return unbook(
            session,
            item=item,
            patient=patient,
            actor=actor,
            status=status,
            note=note,
            settings=settings,
            today=today,
        )


def unbook(
    session: Session,
    *,
    item: m.FollowUpItem,
    patient: m.Patient,
    actor: Actor,
    status: m.BookingStatus,
    note: str | None,
    settings: Settings,
    today: dt.date,
) -> Outcome:
    """The booking of ``item`` ended (cancelled or missed), inside the caller's transaction:
    the attempt ends so, the item is due again and the plan is re-derived. Shared with the HL7
    feed's S15/S26 (``services.hl7.siu``)."""
    item_id = item.id or 0
    if item.state != m.ItemState.BOOKED:
        raise Conflict(f"item {item_id} is {item.state}; only a booked item can be {status}")
    check = Checker(today=today, what="booking")
    words = check.text("note", note, required=False, max_length=300) or ""
    check.raise_if_problems()
    before = _snapshot(item)
    attempt = attempts.end_attempt(session, item_id, status=status, actor=actor, note=words)
    when = f" of {attempt.booked_at:%Y-%m-%d}" if attempt else ""
    item.state = m.ItemState.PLANNED
    item.booked_at = None
    said = "cancelled" if status == m.BookingStatus.CANCELLED else "missed (no-show)"
    message = f"{_what(item)}: booking{when} {said}; due again"
    message += f": {words}" if words else ""
    result = _changed(session, item, actor, f"booking.{status.value}", message, before)
    care.refresh_patient(
        session, patient=patient, settings=settings, today=today, channel=actor.channel
    )
    return result
