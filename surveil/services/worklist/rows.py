"""Worklist rows as a nurse reads them: who, what, when and why, in words.

Each section's statement (``sections.py``) returns plain tuples; these functions turn one into a
``WorkRow``. Times are shown where the patient is, with the zone named (``core.zones``): a
booking made for 09:30 in London reads "09:30 BST (Europe/London)" in summer, never "08:30 UTC".
"""

import datetime as dt
from dataclasses import dataclass
from typing import Any

from surveil.core.vocab import ItemState
from surveil.core.zones import wall_clock
from surveil.services.labels import kind_label, trigger_label


@dataclass(frozen=True)
class WorkRow:
    section: str
    patient_id: int
    mrn: str
    patient: str
    what: str
    state: str
    urgent: bool
    timing: str
    detail: str
    earliest: dt.date | None = None
    target: dt.date | None = None
    latest: dt.date | None = None
    item_id: int | None = None
    trigger_id: int | None = None
    reminder_id: int | None = None
    reply_id: int | None = None  # a patient's reply (the ``replies`` section)
    trigger_kind: str | None = None  # who may resolve it (``triggers.roles``)
    last_contact: str = ""  # the navigator's latest call, letter or message (the outreach log)


def patient_name(r: Any) -> str:
    return f"{r.family_name.upper()}, {r.given_name}"


def item_row(section: str, r: Any, timing: str) -> WorkRow:
    detail = f"rule {r.rule_id}"
    if r.state == ItemState.BOOKED and r.booked_at is not None:
        detail = f"booked for {wall_clock(r.booked_at, r.timezone)}, no result yet; {detail}"
    if r.snoozed_until is not None:
        detail += f"; snoozed until {r.snoozed_until}"
    return WorkRow(
        section=section,
        patient_id=r.patient_id,
        mrn=r.mrn,
        patient=patient_name(r),
        what=kind_label(r.kind),
        state=r.state,
        urgent=bool(r.urgent),
        timing=timing,
        detail=detail,
        earliest=r.earliest,
        target=r.target,
        latest=r.latest,
        item_id=r.item_id,
    )


def trigger_row(r: Any, today: dt.date) -> WorkRow:
    days = (today - r.detected_on).days
    return WorkRow(
        section="triggers",
        patient_id=r.patient_id,
        mrn=r.mrn,
        patient=patient_name(r),
        what=trigger_label(r.kind) + (" (confounded)" if r.confounded else ""),
        state=r.state,
        urgent=bool(r.urgent),
        timing=f"found {r.detected_on}" + (f", {days} days ago" if days > 0 else " (today)"),
        detail=r.explanation,
        trigger_id=r.trigger_id,
        trigger_kind=r.kind,
    )


def reminder_row(r: Any) -> WorkRow:
    about = kind_label(r.kind) if r.kind else "no item"
    error = f": {r.last_error}" if r.last_error else ""
    return WorkRow(
        section="reminders",
        patient_id=r.patient_id,
        mrn=r.mrn,
        patient=patient_name(r),
        what=f"{r.stage} by {r.channel} ({about})",
        state=r.state,
        urgent=False,
        timing=f"due to send {wall_clock(r.send_after, r.timezone)}",
        detail=f"{r.attempts} attempt(s){error}",
        reminder_id=r.reminder_id,
    )


def no_plan_row(r: Any) -> WorkRow:
    return WorkRow(
        section="no_plan",
        patient_id=r.patient_id,
        mrn=r.mrn,
        patient=patient_name(r),
        what="no open item",
        state="",
        urgent=False,
        timing="",
        detail="No planned, ordered or booked follow-up.",
    )


def no_owner_row(r: Any) -> WorkRow:
    return WorkRow(
        section="no_owner",
        patient_id=r.patient_id,
        mrn=r.mrn,
        patient=patient_name(r),
        what="no navigator",
        state="",
        urgent=False,
        timing="",
        detail="Nobody is named to follow this patient up.",
    )


def closes_in(latest: dt.date, today: dt.date) -> str:
    days = (latest - today).days
    return "window closes today" if days == 0 else f"window closes in {days} days"


def opens_in(earliest: dt.date, today: dt.date) -> str:
    days = (earliest - today).days
    return "window opens tomorrow" if days == 1 else f"window opens in {days} days"
