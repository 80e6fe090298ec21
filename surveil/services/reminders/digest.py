"""The navigators' daily digest: overdue items, reminders that did not get through, open triggers.

``send_digest`` runs on the leader every few minutes. Once the clinic's clock passes
``daemon.digest_time`` it inserts one outbox row per active navigator with an email address,
keyed by navigator × local date, so the digest goes out once a day however often the job runs,
and still goes out (late) if the daemon was down at that time. The lines are read when the row
is sent (``digest_lines``), so they are as fresh as the send. Patients appear by MRN and
initials only; nothing in a line names a diagnosis or an address.
"""

import datetime as dt
import hashlib
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, or_, select

from surveil.config import Settings
from surveil.core.reminders import ReminderPolicy, Stage, select_reminders
from surveil.core.vocab import ItemKind
from surveil.db import models as m
from surveil.render.messages import DigestLine, initials
from surveil.services.labels import TRIGGER_LABELS
from surveil.services.reminders.planning import (
    discharged_patients,
    effective_policy,
    insert_reminders,
    reminder_item,
    reminder_patient,
)

TEMPLATE = "navigator-digest"
STAGE = "digest"
_KEY_SCHEME = "surveil-digest-v1"
_FATE: dict[str, str] = {
    m.ReminderState.FAILED: "failed",
    m.ReminderState.UNKNOWN: "outcome unknown",
}


def digest_key(user_id: int, day: dt.date) -> str:
    recipe = f"{_KEY_SCHEME}|{user_id}|{day.isoformat()}"
    return hashlib.sha256(recipe.encode()).hexdigest()[:32]


def digest_time(settings: Settings) -> dt.time:
    hours, _, minutes = settings.daemon.digest_time.partition(":")
    return dt.time(int(hours), int(minutes))


def send_digest(session: Session, settings: Settings, now: dt.datetime) -> int:
    """Queue today's digest for every navigator, once the digest time has passed; rows added."""
    zone = ZoneInfo(settings.clinic.timezone)
    local = now.astimezone(zone)
    at = digest_time(settings)
    if local.time() < at:
        return 0
    day = local.date()
    send_after = dt.datetime.combine(day, at, tzinfo=zone).astimezone(dt.UTC)
    navigators = session.exec(
        select(m.User).where(
            m.User.role == m.Role.NAVIGATOR,
            col(m.User.active).is_(True),
            col(m.User.email).is_not(None),
            m.User.email != "",
        )
    )
    rows = [
        {
            "idempotency_key": digest_key(user.id or 0, day),
            "patient_id": None,
            "user_id": user.id,
            "item_id": None,
            "stage": STAGE,
            "channel": "email",
            "recipient": "navigator",
            "template": TEMPLATE,
            "urgent": False,
            "send_after": send_after,
        }
        for user in navigators
    ]
    return insert_reminders(session, rows, now)


def digest_day(settings: Settings, reminder: m.Reminder) -> dt.date:
    """The local date a digest row is for (its send time on the clinic's clock)."""
    send_after = reminder.send_after.replace(tzinfo=reminder.send_after.tzinfo or dt.UTC)
    return send_after.astimezone(ZoneInfo(settings.clinic.timezone)).date()


def digest_lines(
    session: Session, settings: Settings, user: m.User, now: dt.datetime
) -> list[DigestLine]:
    """Everything this navigator should look at: their own patients and the unassigned ones."""
    patients = {
        p.id: p
        for p in session.exec(
            select(m.Patient).where(
                m.Patient.clinic == user.clinic,
                or_(m.Patient.navigator_id == user.id, col(m.Patient.navigator_id).is_(None)),
            )
        )
    }
    if not patients:
        return []
    ids = list(patients)
    policy = effective_policy(settings)
    lines = _overdue(session, patients, policy, now)
    lines += _failed(session, patients, ids)
    lines += _triggers(session, patients, ids)
    return lines


def _overdue(
    session: Session,
    patients: dict[int | None, m.Patient],
    policy: ReminderPolicy,
    now: dt.datetime,
) -> list[DigestLine]:
    """Overdue items, as the core's overdue stage sees them (discharged, deceased: none)."""
    items = session.exec(
        select(m.FollowUpItem).where(
            col(m.FollowUpItem.patient_id).in_(list(patients)),
            col(m.FollowUpItem.state).in_(m.OPEN_ITEM_STATES),
            col(m.FollowUpItem.latest) < (now + dt.timedelta(days=1)).date(),
        )
    ).all()
    by_patient: dict[int, list[m.FollowUpItem]] = {}
    for item in items:
        by_patient.setdefault(item.patient_id, []).append(item)
    discharged = discharged_patients(session, list(by_patient))
    lines = []
    for patient_id, patient_items in by_patient.items():
        patient = patients[patient_id]
        core_patient = reminder_patient(patient, patient_id in discharged)
        flagged = {item.id: item for item in patient_items}
        for intent in select_reminders(
            map(reminder_item, patient_items), core_patient, policy, now
        ):
            if intent.stage is not Stage.OVERDUE_NAVIGATOR:
                continue
            item = flagged[int(intent.item_id)]
            lines.append(
                _line(
                    "overdue",
                    patient,
                    since=intent.anchor,
                    kind=item.kind,
                    urgent=intent.urgent or item.urgent,
                )
            )
    return lines


def _failed(
    session: Session, patients: dict[int | None, m.Patient], ids: list[int | None]
) -> list[DigestLine]:
    rows = session.exec(
        select(m.Reminder, m.FollowUpItem.kind)
        .join(m.FollowUpItem, col(m.FollowUpItem.id) == m.Reminder.item_id, isouter=True)
        .where(
            col(m.Reminder.patient_id).in_(ids),
            col(m.Reminder.state).in_([m.ReminderState.FAILED, m.ReminderState.UNKNOWN]),
        )
    ).all()
    # The provider's error text can quote the address: the digest says only what failed.
    return [
        _line(
            "failed",
            patients[reminder.patient_id],
            since=reminder.updated_at.date(),
            kind=kind,
            note=f"{reminder.channel} {_FATE.get(reminder.state, reminder.state)}",
        )
        for reminder, kind in rows
    ]


def _triggers(
    session: Session, patients: dict[int | None, m.Patient], ids: list[int | None]
) -> list[DigestLine]:
    rows = session.exec(
        select(m.Trigger).where(
            col(m.Trigger.patient_id).in_(ids), m.Trigger.state == m.TriggerState.OPEN
        )
    ).all()
    return [
        _line(
            "triggered",
            patients[t.patient_id],
            since=t.detected_on,
            note=TRIGGER_LABELS.get(t.kind, t.kind),
            urgent=t.urgent,
        )
        for t in rows
    ]


def _line(
    section: str,
    patient: m.Patient,
    *,
    since: dt.date,
    kind: str | None = None,
    note: str = "",
    urgent: bool = False,
) -> DigestLine:
    return DigestLine(
        section=section,
        mrn=patient.mrn,
        initials=initials(patient.given_name, patient.family_name),
        since=since,
        kind=ItemKind(kind) if kind else None,
        note=note,
        urgent=urgent,
    )
