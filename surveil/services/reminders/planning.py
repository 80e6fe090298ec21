"""Planning reminders: open follow-up items become outbox rows, one per item × stage × channel.

``core.reminders.select_reminders`` decides what is due; this module only reads the registry
into its types and inserts the intents with ``ON CONFLICT DO NOTHING`` on the idempotency key.
Re-planning (every few minutes, after a restart, on two daemons at once) therefore never makes
a second row. The overdue stage is not a row: it is a line on the navigators' daily digest,
read from the items themselves when the digest is sent (``services/reminders/digest.py``).
"""

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlmodel import Session, col, select

from surveil.config import Settings
from surveil.core.reminders import (
    Channel,
    ItemState,
    ReminderItem,
    ReminderPatient,
    ReminderPolicy,
    parse_policy,
    select_reminders,
)
from surveil.core.vocab import ItemKind, StateKind
from surveil.db import claims
from surveil.db import models as m
from surveil.db.claims import insert_for
from surveil.errors import ConfigError, Problem

R = claims.R

EMAIL_TRANSPORTS = ("smtp", "log")
SMS_TRANSPORTS = ("sms", "log")
# Patients' zones are within a day of UTC: widen the item query by a day each side.
_ZONE_SLACK = dt.timedelta(days=1)
_CHUNK = 500


def effective_policy(settings: Settings) -> ReminderPolicy:
    """The clinic's ``[reminders]`` policy, limited to the channels that can actually send.

    An SMS channel with no webhook URL is switched off here (``[sms] url`` empty means "no SMS"),
    so no SMS row is planned that could never leave; the overdue digest still catches the item.
    """
    policy, problems = parse_policy(settings.reminders)
    daemon = settings.daemon
    if daemon.email_channel not in EMAIL_TRANSPORTS:
        problems.append(
            Problem(
                "daemon.email_channel", f"{daemon.email_channel!r}: use one of {EMAIL_TRANSPORTS}"
            )
        )
    if daemon.sms_channel not in SMS_TRANSPORTS:
        problems.append(
            Problem("daemon.sms_channel", f"{daemon.sms_channel!r}: use one of {SMS_TRANSPORTS}")
        )
    if problems:
        raise ConfigError(problems)
    channels = tuple(c for c in policy.channels if c in enabled_channels(settings))
    return dataclasses.replace(policy, channels=channels)


def enabled_channels(settings: Settings) -> tuple[Channel, ...]:
    sms_off = settings.daemon.sms_channel == "sms" and not settings.sms.url
    return (Channel.EMAIL,) if sms_off else (Channel.EMAIL, Channel.SMS)


def plan_reminders(
    session: Session,
    settings: Settings,
    now: dt.datetime,
    patient_range: tuple[int, int] | None = None,
) -> int:
    """Insert the reminder rows that are due at ``now`` and not there yet; how many were new.
    ``patient_range``: only patients with ids in it, inclusive (one bounded chunk of a round)."""
    policy = effective_policy(settings)
    items = _candidate_items(session, policy, now, patient_range)
    by_patient: dict[int, list[m.FollowUpItem]] = {}
    for item in items:
        by_patient.setdefault(item.patient_id, []).append(item)
    patients = _by_id(session, m.Patient, list(by_patient))
    discharged = discharged_patients(session, list(by_patient))
    rows: list[dict[str, Any]] = []
    for patient_id, patient_items in by_patient.items():
        patient = reminder_patient(patients[patient_id], patient_id in discharged)
        intents = select_reminders(map(reminder_item, patient_items), patient, policy, now)
        rows += [
            {
                "idempotency_key": intent.idempotency_key,
                "patient_id": patient_id,
                "user_id": None,
                "item_id": int(intent.item_id),
                "stage": intent.stage.value,
                "channel": intent.channel.value,
                "recipient": intent.recipient.value,
                "template": intent.message,
                "urgent": intent.urgent,
                "send_after": intent.send_after,
            }
            for intent in intents
            if intent.channel is not Channel.DIGEST
        ]
    return insert_reminders(session, rows, now)


def insert_reminders(session: Session, rows: Sequence[dict[str, Any]], now: dt.datetime) -> int:
    """Insert pending outbox rows unless their key exists; the number actually inserted."""
    fresh = {
        "state": m.ReminderState.PENDING,
        "attempts": 0,
        "last_error": "",
        "resent_after_unknown": False,
        "created_at": now,
        "updated_at": now,
    }
    inserted = 0
    connection = session.connection()
    for start in range(0, len(rows), _CHUNK):
        chunk = [fresh | row for row in rows[start : start + _CHUNK]]
        stmt = (
            insert_for(connection, R)
            .values(chunk)
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(R.c.id)
        )
        inserted += len(connection.execute(stmt).all())
    return inserted


def _candidate_items(
    session: Session,
    policy: ReminderPolicy,
    now: dt.datetime,
    patient_range: tuple[int, int] | None = None,
) -> list[m.FollowUpItem]:
    """Open items whose window is around now: a patient stage may be due for them."""
    soon = (now + _ZONE_SLACK).date()
    still_open = (now - _ZONE_SLACK).date()
    # The clinic's earliest stage: the window opening, or its first reminder before that.
    lead = dt.timedelta(days=max(policy.days_before_window, default=0))
    stage_due = col(m.FollowUpItem.earliest) <= soon + lead
    if policy.before_target_days:
        stage_due = stage_due | (
            col(m.FollowUpItem.target) <= soon + dt.timedelta(days=policy.before_target_days)
        )
    query = (
        select(m.FollowUpItem)
        .where(col(m.FollowUpItem.state).in_(m.OPEN_ITEM_STATES))
        .where(m.FollowUpItem.kind != ItemKind.TUMOUR_BOARD)
        .where(col(m.FollowUpItem.latest) >= still_open)
        .where(stage_due)
        .order_by(col(m.FollowUpItem.patient_id), col(m.FollowUpItem.id))
    )
    if patient_range is not None:
        query = query.where(col(m.FollowUpItem.patient_id).between(*patient_range))
    return list(session.exec(query))


def reminder_patient(patient: m.Patient, discharged: bool) -> ReminderPatient:
    """The core's view of a patient: contact, consent and whether to contact them at all."""
    chosen = patient.preferred_channel
    return ReminderPatient(
        id=str(patient.id),
        timezone=patient.timezone,
        email=patient.email or None,
        phone=patient.phone or None,
        channels=(Channel(chosen),) if chosen in (Channel.EMAIL, Channel.SMS) else (),
        # Declining reminders, or choosing "no channel", is an opt-out of messages (not of care).
        opted_out=patient.opted_out or not patient.consent_reminders or chosen == m.Channel.NONE,
        deceased_on=patient.deceased_on,
        discharged=discharged,
        send_window=send_window(patient),
    )


def send_window(patient: m.Patient) -> tuple[dt.time, dt.time] | None:
    start, end = patient.send_window_start, patient.send_window_end
    return None if start is None or end is None else (start, end)


def reminder_item(item: m.FollowUpItem) -> ReminderItem:
    return ReminderItem(
        id=str(item.id),
        kind=ItemKind(item.kind),
        earliest=item.earliest,
        target=item.target,
        latest=item.latest,
        state=core_item_state(item.state),
    )


def core_item_state(state: str) -> ItemState:
    return ItemState(state)


def discharged_patients(session: Session, patient_ids: Iterable[int]) -> set[int]:
    """Patients whose current disease state (the one without an end date) is ``discharged``."""
    ids = list(patient_ids)
    found: set[int] = set()
    for start in range(0, len(ids), _CHUNK):
        query = select(m.DiseaseState.patient_id).where(
            col(m.DiseaseState.patient_id).in_(ids[start : start + _CHUNK]),
            col(m.DiseaseState.end_date).is_(None),
            m.DiseaseState.kind == StateKind.DISCHARGED,
        )
        found.update(session.exec(query))
    return found


def _by_id(session: Session, model: Any, ids: list[int]) -> dict[int, Any]:
    out: dict[int, Any] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        out.update((row.id, row) for row in session.exec(select(model).where(model.id.in_(chunk))))
    return out
