"""The patient page (``/patients/{id}``): facts, state, plan with its reasons, triggers, charts,
timeline. Opening it is audited as a view of PHI (``registry.record.open_record``, which commits
the audit event in its own transaction before the page renders); the rest of the page reads on
the request's read-only session."""

import datetime as dt
from typing import Annotated, Protocol

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from surveil.config import Settings
from surveil.core.vocab import IMAGING_KINDS, MARKER_KINDS, ItemKind, StateKind
from surveil.db import models as m
from surveil.services.labels import kind_label
from surveil.services.protocols import protocol_in_force
from surveil.services.records.actions import DEFAULT_MODALITY
from surveil.services.records.attempts import booking_history
from surveil.services.registry.patients import MODALITIES
from surveil.services.registry.record import PatientRecord, open_record
from surveil.services.reminders.hours import reminder_hours
from surveil.web.charts import growth_chart, marker_chart
from surveil.web.contexts import ItemView, PatientPage
from surveil.web.deps import (
    ReadDbDep,
    ReaderActorDep,
    ReaderDep,
    SettingsDep,
    clinic_today,
    frame,
    get_engine,
    render,
)
from surveil.web.feed_controls import feed_panel
from surveil.web.record_forms import record_forms
from surveil.web.result_forms import care_section

router = APIRouter()

CHANNEL_WORDS: dict[str, str] = {
    m.Channel.EMAIL: "e-mail",
    m.Channel.SMS: "text message (SMS)",
    m.Channel.NONE: "no messages",
}


@router.get("/patients/{patient_id}", name="patients.detail")
def patient_page(
    request: Request,
    patient_id: int,
    engine: Annotated[sa.Engine, Depends(get_engine)],
    db: ReadDbDep,
    settings: SettingsDep,
    user: ReaderDep,
    actor: ReaderActorDep,
) -> Response:
    record = open_record(engine, actor=actor, patient_id=patient_id)
    today = clinic_today(settings)
    limit = settings.worklist.snooze_max_days
    # The thresholds the triggers use: those of the protocol in force for the clinic today (an
    # activated pack version or profile, else the baseline), as the plan and triggers use them.
    rules = protocol_in_force(db, settings, today)[1].thresholds
    patient = record.patient
    page = PatientPage(
        frame=frame(request, user, section="patients", settings=settings),
        record=record,
        age=relativedelta(today, record.patient.birth_date).years,
        grade=record.tumour.grade if record.tumour else "–",
        open_items=tuple(item_view(i, today, settings) for i in record.open_items),
        closed_items=tuple(item_view(i, today, settings) for i in record.closed_items),
        growth_charts=tuple(
            growth_chart(
                s,
                rate_mm_per_year=rules.growth_mm_per_year,
                size_mm=rules.size_mm,
                today=today,
                min_spacing_days=rules.min_spacing_days,
            )
            for s in record.lesions
        ),
        marker_charts=tuple(marker_chart(s, today=today) for s in record.markers),
        today=today,
        snooze_max=today + dt.timedelta(days=limit),
        snooze_default=today + dt.timedelta(days=min(7, limit)),
        modalities=MODALITIES,
        feeds=feed_panel(db, patient_id=patient_id, settings=settings),
        channel=CHANNEL_WORDS.get(patient.preferred_channel, patient.preferred_channel),
        reminders=reminders_note(patient, discharged=_discharged(record)),
        forms=record_forms(db, record),
        care=care_section(db, patient_id=patient_id, today=today, open_items=record.open_items),
        bookings=booking_history(db, patient_id=patient_id, timezone=patient.timezone),
        hours=reminder_hours(patient, settings),
    )
    return render(request, "web/patients/detail.html", page)


def item_view(item: m.FollowUpItem, today: dt.date, settings: Settings) -> ItemView:
    kind = ItemKind(item.kind)
    status, tone = item_status(item, today, settings.worklist.soon_days)
    return ItemView(
        item=item,
        label=kind_label(item.kind),
        status=status,
        tone=tone,
        is_marker=kind in MARKER_KINDS,
        is_imaging=kind in IMAGING_KINDS or kind == ItemKind.ENDOSCOPY,
        modality=DEFAULT_MODALITY.get(kind, ""),
    )


class Timed(Protocol):
    """What telling how an item stands needs of it (a stored item, or a found patient's next)."""

    @property
    def state(self) -> str: ...
    @property
    def earliest(self) -> dt.date: ...
    @property
    def latest(self) -> dt.date: ...
    @property
    def completed_on(self) -> dt.date | None: ...
    @property
    def snoozed_until(self) -> dt.date | None: ...


def item_status(item: Timed, today: dt.date, soon_days: int) -> tuple[str, str]:
    """How an item stands today, in words, and its tone (a CSS class)."""
    open_states = {s.value for s in m.OPEN_ITEM_STATES}
    if item.state not in open_states:
        when = f" on {item.completed_on}" if item.completed_on else ""
        return f"{item.state.replace('_', ' ')}{when}", "closed"
    snoozed = (
        f"; snoozed until {item.snoozed_until}"
        if item.snoozed_until and item.snoozed_until > today
        else ""
    )
    if item.latest < today:
        return f"overdue by {(today - item.latest).days} days{snoozed}", "overdue"
    if item.earliest <= today:
        return f"due now, window closes in {(item.latest - today).days} days{snoozed}", "due"
    days = (item.earliest - today).days
    return f"window opens in {days} days{snoozed}", "soon" if days <= soon_days else "later"


def reminders_note(patient: m.Patient, *, discharged: bool) -> str:
    """Whether reminders go to this patient now, and if not, why (the first reason that holds,
    as the reminder planner would find it)."""
    reasons = (
        (patient.deceased_on is not None, "died"),
        (discharged, "discharged"),
        (patient.opted_out, "opted out"),
        (not patient.consent_reminders, "no consent to reminders"),
        (patient.preferred_channel == m.Channel.NONE, "asked for no messages"),
    )
    off = next((why for holds, why in reasons if holds), None)
    if off is not None:
        return f"off: {off}"
    channel = CHANNEL_WORDS.get(patient.preferred_channel, patient.preferred_channel)
    address = patient.email if patient.preferred_channel == m.Channel.EMAIL else patient.phone
    return f"on, by {channel}" if address else f"on, but no {channel} address is recorded"


def _discharged(record: PatientRecord) -> bool:
    return record.state is not None and record.state.kind == StateKind.DISCHARGED
