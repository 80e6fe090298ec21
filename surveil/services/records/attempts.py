"""Booking attempts: where an appointment falls against the item's window, and the history of
bookings kept when one is cancelled, missed, replaced or fulfilled (never overwritten)."""

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from surveil.core.zones import wall_clock
from surveil.db import models as m
from surveil.db.base import utcnow
from surveil.services.actor import Actor
from surveil.services.labels import kind_label


def placement(item: m.FollowUpItem, at: dt.datetime, timezone: str) -> m.BookingWindow:
    """Inside, before or after the item's window, by the appointment's date where the patient is."""
    day = at.astimezone(ZoneInfo(timezone)).date()
    if day < item.earliest:
        return m.BookingWindow.BEFORE
    if day > item.latest:
        return m.BookingWindow.AFTER
    return m.BookingWindow.INSIDE


def active_attempt(session: Session, item_id: int) -> m.BookingAttempt | None:
    return session.exec(
        select(m.BookingAttempt).where(
            m.BookingAttempt.item_id == item_id,
            m.BookingAttempt.status == m.BookingStatus.ACTIVE,
        )
    ).first()


def end_attempt(
    session: Session, item_id: int, *, status: m.BookingStatus, actor: Actor, note: str = ""
) -> m.BookingAttempt | None:
    """Close the item's active booking, if any, saying how it ended; the row stays."""
    attempt = active_attempt(session, item_id)
    if attempt is None:
        return None
    attempt.status = status
    attempt.ended_by = actor.username[:64]
    attempt.ended_at = utcnow()
    attempt.end_note = note.strip()[:300]
    session.add(attempt)
    return attempt


def attempts_of(session: Session, patient_id: int) -> list[m.BookingAttempt]:
    """A patient's bookings, newest first (the patient page's attempts history)."""
    rows = session.exec(
        select(m.BookingAttempt)
        .where(m.BookingAttempt.patient_id == patient_id)
        .order_by(m.BookingAttempt.id.desc())  # type: ignore[union-attr]
    )
    return list(rows)


@dataclass(frozen=True)
class BookingLine:
    """One booking attempt as the patient page shows it (times in the patient's zone)."""

    item_id: int
    kind: str
    when: str
    placement: str
    reason: str
    status: str
    note: str


def booking_history(session: Session, *, patient_id: int, timezone: str) -> tuple[BookingLine, ...]:
    """A patient's booking attempts, newest first, in words. The caller has already opened the
    patient's record (an audited read that checked the clinic)."""
    kinds = {
        i.id: i.kind
        for i in session.exec(select(m.FollowUpItem).where(m.FollowUpItem.patient_id == patient_id))
    }
    return tuple(
        BookingLine(
            item_id=a.item_id,
            kind=kind_label(kinds.get(a.item_id, "")),
            when=wall_clock(a.booked_at, timezone),
            placement=f"{a.placement} the window"
            if a.placement != "inside"
            else "inside the window",
            reason=(a.reason_code or "").replace("_", " ")
            + (f": {a.reason_text}" if a.reason_text else ""),
            status=a.status.replace("_", "-"),
            note=a.end_note,
        )
        for a in attempts_of(session, patient_id)
    )
