"""SIU: the hospital's bookings of the appointments surveil asked for.

The appointment type (SCH-7, else AIS-3) names the item kind through ``[hl7] appointment_types``;
the patient's open item of that kind is the one booked. S12/S13/S14 (booked, rescheduled,
modified) set the booking at the start time (SCH-11.4, else AIS-4; a time without an offset is
the patient's local time); S15/S26 (cancelled, no-show) put the item back to be booked again,
keeping what happened in its note. No item, or several that could be meant, queues the message.
"""

import datetime as dt
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from surveil.db import models as m
from surveil.db.base import utcnow
from surveil.services.audit import audit
from surveil.services.hl7.codes import appointment_kinds
from surveil.services.hl7.context import Context, Unapplicable, chosen_item, find_patient
from surveil.services.hl7.parse import component, segments

OPEN = tuple(s.value for s in m.OPEN_ITEM_STATES)
BOOKS = {"S12": "booked", "S13": "rescheduled", "S14": "modified"}
UNBOOKS = {"S15": "cancelled", "S26": "a no-show"}


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
    before = {"state": item.state, "booked_at": item.booked_at, "outcome_note": item.outcome_note}
    if event in BOOKS:
        start = component(sch[0], 11, 4) if sch else ""
        start = start or (component(ais[0], 4, 1) if ais else "")
        at = _instant(start, patient.timezone, patient.id)
        item.state, item.booked_at, item.snoozed_until = m.ItemState.BOOKED, at, None
        local = at.astimezone(ZoneInfo(patient.timezone))
        words = f"{kind.value} {BOOKS[event]} for {local:%Y-%m-%d %H:%M} {patient.timezone}"
        action = "item.booked"
    else:
        was = item.booked_at
        item.state, item.booked_at = m.ItemState.PLANNED, None
        words = f"{kind.value} appointment {UNBOOKS[event]}; to be booked again"
        when = f" (was {was:%Y-%m-%d %H:%M} UTC)" if was else ""
        item.outcome_note = f"{words}{when}"[:500]
        action = "item.reopened"
    item.sequence += 1
    item.updated_at = utcnow()
    context.session.add(item)
    after = {"state": item.state, "booked_at": item.booked_at, "outcome_note": item.outcome_note}
    audit(
        context.session,
        actor=context.actor,
        action=action,
        patient_id=patient.id,
        subject=f"item:{item.id}",
        before=before,
        after=after,
        detail=f"item {item.id}: {words} (HL7)",
    )
    return words


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
    if sign and len(offset) == 4 and offset.isdigit():
        minutes = int(offset[:2]) * 60 + int(offset[2:])
        zone = dt.timezone(dt.timedelta(minutes=minutes if sign == "+" else -minutes))
        return naive.replace(tzinfo=zone).astimezone(dt.UTC)
    return naive.replace(tzinfo=ZoneInfo(timezone)).astimezone(dt.UTC)
