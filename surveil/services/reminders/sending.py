"""The send-time check: may this outbox row still go out, to which address, saying what?

Everything is read again at send time, because an item can be done, a patient opt out, die,
be discharged or change their address between planning and sending. A refusal is a short
reason stored on the row (``suppressed_reason``) and in the ledger.
"""

import dataclasses
import datetime as dt
import functools
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

import jinja2
import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.config import Settings
from surveil.core.reminders import (
    Channel,
    ReminderPolicy,
    Suppression,
    patient_channels,
    suppression_reason,
    wait_for_window,
)
from surveil.core.vocab import ItemKind, StateKind
from surveil.db import models as m
from surveil.render.i18n import DEFAULT_LANGUAGE, pick_language
from surveil.render.messages import (
    Clinic,
    RenderedMessage,
    digest_context,
    patient_context,
    render_message,
)
from surveil.render.templating import make_environment
from surveil.resources import resource_dir
from surveil.services.reminders.digest import digest_day, digest_lines
from surveil.services.reminders.links import links_for
from surveil.services.reminders.planning import core_item_state, reminder_patient, send_window

Prepared = tuple[str, RenderedMessage]  # address, message


class Deferred(NamedTuple):
    """Not now: outside the patient's preferred hours. Try again at ``until`` (UTC)."""

    until: dt.datetime


WINDOW_CLOSED = "window closed: on the navigators' digest"
OTHER_CHANNEL = "patient now prefers another channel"
NAVIGATOR_INACTIVE = "navigator inactive or removed"


@functools.cache
def environment(templates: Path | None, language: str = DEFAULT_LANGUAGE) -> jinja2.Environment:
    """One Jinja environment per template folder and language, so templates compile once per
    process."""
    return make_environment(templates, language)


def patient_language(patient: m.Patient, settings: Settings) -> str:
    """The catalogue for the patient's language (English when there is none for it)."""
    return pick_language(patient.language, resource_dir("templates", settings.paths.templates))


def clinic(settings: Settings) -> Clinic:
    return Clinic(
        name=settings.clinic.patient_facing_name,
        phone=settings.clinic.phone,
        detailed=settings.clinic.detailed_messages,
    )


class Loaded(NamedTuple):
    """An outbox row with what deciding and rendering it needs, read in one query."""

    reminder: m.Reminder
    patient: m.Patient | None
    item: m.FollowUpItem | None
    discharged: bool
    stopped: bool = False  # the patient sent STOP on this row's channel (``channel_opt_out``)


def load_many(session: Session, reminder_ids: Sequence[int]) -> dict[int, Loaded]:
    """Rows with their patient and item, and whether the patient is discharged, in one query."""
    discharged = sa.exists().where(
        col(m.DiseaseState.patient_id) == col(m.Reminder.patient_id),
        col(m.DiseaseState.end_date).is_(None),
        col(m.DiseaseState.kind) == StateKind.DISCHARGED,
    )
    stopped = sa.exists().where(
        col(m.ChannelOptOut.patient_id) == col(m.Reminder.patient_id),
        col(m.ChannelOptOut.channel) == col(m.Reminder.channel),
    )
    # Both flags in one column (1: discharged, 2: stopped on this channel): the typed select
    # takes four columns.
    flags = (sa.case((discharged, 1), else_=0) + sa.case((stopped, 2), else_=0)).label("flags")
    query = (
        select(m.Reminder, m.Patient, m.FollowUpItem, flags)
        .outerjoin(m.Patient, col(m.Patient.id) == m.Reminder.patient_id)
        .outerjoin(m.FollowUpItem, col(m.FollowUpItem.id) == m.Reminder.item_id)
        .where(col(m.Reminder.id).in_(list(reminder_ids)))
    )
    return {
        row.id or 0: Loaded(row, patient, item, bool(flag & 1), bool(flag & 2))
        for row, patient, item, flag in session.exec(query)
    }


def load(session: Session, reminder_id: int) -> Loaded | None:
    return load_many(session, [reminder_id]).get(reminder_id)


def prepare(
    session: Session,
    loaded: Loaded,
    settings: Settings,
    policy: ReminderPolicy,
    env: jinja2.Environment,
    now: dt.datetime,
) -> Prepared | Deferred | str:
    """The address and the rendered message, the reason the row must not be sent, or when
    to try again (outside the patient's preferred hours)."""
    row, patient, item, discharged, stopped = loaded
    if row.user_id is not None:
        return _prepare_digest(session, row, settings, env, now)
    if patient is None or item is None:
        return "item removed from the plan"
    core_patient = reminder_patient(patient, discharged)
    today = now.astimezone(ZoneInfo(patient.timezone)).date()
    channel = Channel(row.channel)
    reason = suppression_reason(core_item_state(item.state), core_patient, channel, today)
    if reason is not None:
        return reason.value
    if stopped:
        return Suppression.OPTED_OUT.value  # STOP on this channel (a reply, issue 18)
    if channel not in patient_channels(core_patient, policy):
        return OTHER_CHANNEL
    if today > item.latest:
        return WINDOW_CLOSED  # the patient is no longer nagged; the navigators are told
    until = wait_for_window(now, patient.timezone, send_window(patient))
    if until is not None:
        return Deferred(until)  # late (a daemon was down, a dry run switched): at their hours
    language = patient_language(patient, settings)
    links = links_for(settings, row) if channel is Channel.EMAIL else None
    context = patient_context(
        clinic=clinic(settings),
        kind=ItemKind(item.kind),
        earliest=item.earliest,
        target=item.target,
        latest=item.latest,
        first_name=patient.given_name,
        language=language,
        reply_url=links.reply_url if links else None,
        unsubscribe_url=links.unsubscribe_url if links else None,
        sms_replies=channel is Channel.SMS and bool(settings.sms.inbound_secret),
    )
    if language != DEFAULT_LANGUAGE:
        env = environment(settings.paths.templates, language)
    address = patient.email if channel is Channel.EMAIL else patient.phone
    rendered = render_message(env, row.template, context)
    if links is not None and links.list_unsubscribe:  # RFC 8058: one-click unsubscribe
        headers = [("List-Unsubscribe", links.list_unsubscribe)]
        if links.list_unsubscribe.startswith("<https://"):
            headers.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
        rendered = dataclasses.replace(rendered, headers=tuple(headers))
    return address or "", rendered


def _prepare_digest(
    session: Session, row: m.Reminder, settings: Settings, env: jinja2.Environment,
    now: dt.datetime,
) -> Prepared | str:  # fmt: skip
    user = session.get(m.User, row.user_id)
    if user is None or not user.active:
        return NAVIGATOR_INACTIVE
    if not user.email:
        return Suppression.NO_EMAIL.value
    context = digest_context(
        clinic=clinic(settings),
        day=digest_day(settings, row),
        lines=digest_lines(session, settings, user, now),
        worklist_url=settings.web.public_url.rstrip("/") + "/",
    )
    return user.email, render_message(env, row.template, context)
