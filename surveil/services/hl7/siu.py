"""SIU: the hospital's bookings of the appointments surveil asked for.

The appointment type (SCH-7, else AIS-3) names the item kind through ``[hl7] appointment_types``;
the patient's open item of that kind is the one booked. S12/S13/S14 (booked, rescheduled,
modified) set the booking at the start time (SCH-11.4, else AIS-4; a time without an offset is
the patient's local time); S15/S26 (cancelled, no-show) put the item back to be booked again.
Both go through the workflow's booking service (``records.bookings``), so the attempts, the
window check and its coded reason are those of a navigator's booking. No item, or several that
could be meant, queues the message; so does a cancellation of a booking surveil does not have.
"""

import datetime as dt
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from surveil.core.digits import is_digits
from surveil.db import models as m
from surveil.errors import Conflict
from surveil.services.hl7.codes import appointment_kinds
from surveil.services.hl7.context import Context, Unapplicable, chosen_item, find_patient
from surveil.services.hl7.parse import component, segments
from surveil.services.records import attempts, bookings
from surveil.services.validate import Checker

OPEN = tuple(s.value for s in m.OPEN_ITEM_STATES)
BOOKS = {"S12": "booked", "S13": "rescheduled", "S14": "modified"}
UNBOOKS = {"S15": "cancelled", "S26": "missed (no-show)"}
# The free text beside ``[hl7] booking_reason`` on a booking outside the window.
OUTSIDE_WORDS = "booked by the hospital system outside the window"


def apply_booking(context: Context) -> str:
    patient = find_patient(context)
    event = context.row.kind.split("^")[1]
    sch = segments(context.message, "SCH")
    ais = segments(context.message, "AIS")
    code = (component(sch[0], 7, 1) if sch else "") or (component(ais[0], 3, 1) if ais else "")
    kind = appointment_kinds(context.settings.hl7.appointment_types).get(code)
    if kind is None:
        raise Unapplicable(
            f"appointment type {code or '(none)'} is not mapped to an item kind "
            "([hl7] appointment_types)",
            patient_id=patient.id,
        )
    item = _item(context, patient, kind.value, event)
    if event in BOOKS:
        start = component(sch[0], 11, 4) if sch else ""
        start = start or (component(ais[0], 4, 1) if ais else "")
        at = _instant(start, patient.timezone, patient.id)
        return _book(context, patient, item, at, event)
    status = m.BookingStatus.CANCELLED if event == "S15" else m.BookingStatus.NO_SHOW
    try:
        outcome = bookings.unbook(
            context.session,
            item=item,
            patient=patient,
            actor=context.actor,
            status=status,
            note=f"{kind.value} appointment {UNBOOKS[event]} (HL7 {event})",
            settings=context.settings,
            today=context.today,
        )
    except Conflict as error:
        raise Unapplicable(
            f"the hospital says the {kind.value} appointment was {UNBOOKS[event]}, but surveil "
            f"has no booking for it ({error})",
            patient_id=patient.id,
        ) from None
    return outcome.message


def _book(
    context: Context, patient: m.Patient, item: m.FollowUpItem, at: dt.datetime, event: str
) -> str:
    """Through the workflow's booking (``records.bookings.book``): the same attempt, window
    check and coded reason as a navigator's booking. Outside the window the configured reason
    is recorded, or the message waits for a navigator (``[hl7] booking_outside_window``)."""
    hl7 = context.settings.hl7
    where = attempts.placement(item, at, patient.timezone)
    outside = where != m.BookingWindow.INSIDE
    if outside and hl7.booking_outside_window == "queue":
        local = at.astimezone(ZoneInfo(patient.timezone))
        raise Unapplicable(
            f"{item.kind} {BOOKS[event]} for {local:%Y-%m-%d %H:%M}, {where} its due window "
            f"({item.earliest} – {item.latest}): book it by hand with the reason",
            patient_id=patient.id,
        )
    outcome = bookings.book(
        context.session,
        Checker(today=context.today, what="booking"),
        item=item,
        patient=patient,
        actor=context.actor,
        at=at,
        reason_code=hl7.booking_reason if outside else None,
        reason=OUTSIDE_WORDS if outside else None,
        reasons=context.settings.reasons,
    )
    return f"{outcome.message} ({BOOKS[event]} by the hospital)"


def _item(context: Context, patient: m.Patient, kind: str, event: str) -> m.FollowUpItem:
    if context.item_id is not None:
        return chosen_item(context, patient)
    items = context.session.exec(
        select(m.FollowUpItem)
        .where(
            m.FollowUpItem.patient_id == patient.id,
            m.FollowUpItem.kind == kind,
            col(m.FollowUpItem.state).in_(OPEN),
        )
        .order_by(col(m.FollowUpItem.target), col(m.FollowUpItem.id))
    ).all()
    booked = [i for i in items if i.state == m.ItemState.BOOKED]
    if event != "S12" and len(booked) == 1:
        return booked[0]
    if len(items) == 1:
        return items[0]
    what = "no open item" if not items else f"{len(items)} open items"
    raise Unapplicable(
        f"{what} of kind {kind} for this patient: match it by hand", patient_id=patient.id
    )


def _instant(text: str, timezone: str, patient_id: int | None) -> dt.datetime:
    """'202603011430' (the patient's local time) or '202603011430+0100' -> aware UTC."""
    digits, sign, offset = text.partition("+") if "+" in text else text.partition("-")
    digits = digits[:12].ljust(12, "0")
    try:
        naive = dt.datetime.strptime(digits, "%Y%m%d%H%M")  # noqa: DTZ007 (zone set below)
    except ValueError:
        raise Unapplicable(
            f"appointment start {text!r} is not a date and time", patient_id=patient_id
        ) from None
    if sign and len(offset) == 4 and is_digits(offset):
        minutes = int(offset[:2]) * 60 + int(offset[2:])
        zone = dt.timezone(dt.timedelta(minutes=minutes if sign == "+" else -minutes))
        return naive.replace(tzinfo=zone).astimezone(dt.UTC)
    return naive.replace(tzinfo=ZoneInfo(timezone)).astimezone(dt.UTC)
