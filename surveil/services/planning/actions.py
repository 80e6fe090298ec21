"""What a navigator does to a follow-up item or a trigger, one function per action.

Every action checks that the actor may see the patient, validates all of its input before writing
(``InvalidInput`` lists every problem), refuses to act on an item that is already closed
(``Conflict``), bumps the item's ``sequence`` and ``updated_at`` (calendar feeds rely on both to
tell clients an event changed) and writes an audit event in the same transaction. The caller owns
the transaction (``session_scope``).
"""

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlmodel import Session

from surveil.config import Settings
from surveil.core.vocab import IMAGING_KINDS, MARKER_KINDS, ItemKind
from surveil.db import models as m
from surveil.db.base import utcnow
from surveil.errors import Conflict, InvalidInput, NotFound
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.labels import kind_label, trigger_label
from surveil.services.planning import care
from surveil.services.registry import patients as registry
from surveil.services.users.accounts import visible_patient
from surveil.services.validate import Checker

# The modality a measurement gets when an imaging item of this kind is marked done.
DEFAULT_MODALITY = {
    ItemKind.MRI: "mri",
    ItemKind.CT: "ct",
    ItemKind.CT_OR_MRI: "mri",
    ItemKind.SSTR_PET: "sstr_pet",
    ItemKind.FDG_PET: "fdg_pet",
    ItemKind.EUS: "eus",
    ItemKind.ENDOSCOPY: "endoscopy",
}
OPEN = {s.value for s in m.OPEN_ITEM_STATES}


@dataclass(frozen=True)
class Result:
    """What an action did, in words for the person who did it (shown at once on the page)."""

    message: str
    patient_id: int
    new_triggers: tuple[str, ...] = ()


@dataclass(frozen=True)
class DoneInput:
    """The form for 'done': the date, and the result for an imaging or marker item."""

    completed_on: str | None = None
    lesion: str | None = None
    diameter_mm: str | None = None
    modality: str | None = None
    marker_value: str | None = None
    marker_unit: str = ""
    marker_uln: str | None = None
    on_ppi: bool = False
    note: str = ""


# --------------------------------------------------------------------------- items


def mark_ordered(
    session: Session, *, item_id: int, actor: Actor, note: str = "", today: dt.date
) -> Result:
    item, _ = _open_item(session, item_id, actor)
    if item.state != m.ItemState.PLANNED:
        raise Conflict(f"item {item_id} is {item.state}; only a planned item can be ordered")
    item.state = m.ItemState.ORDERED
    item.outcome_note = note.strip()[:500]
    return _changed(session, item, actor, "item.ordered", f"{_what(item)} ordered")


def mark_booked(
    session: Session,
    *,
    item_id: int,
    actor: Actor,
    date: str | None,
    time: str | None,
    today: dt.date,
) -> Result:
    """Book the appointment at a local date and time in the patient's zone; stored as UTC."""
    item, patient = _open_item(session, item_id, actor)
    check = Checker(today=today, what="booking")
    day = check.date("date", date, not_future=False)
    clock = _time(check, time)
    if day is not None and day < today:
        check.fail("date", f"{day} is in the past (today is {today})")
    at = None
    if day is not None and clock is not None:
        at = local_to_utc(check, day, clock, patient.timezone)
    check.raise_if_problems()
    assert at is not None
    item.state = m.ItemState.BOOKED
    item.booked_at = at
    item.snoozed_until = None
    local = at.astimezone(ZoneInfo(patient.timezone))
    when = f"{local:%Y-%m-%d %H:%M} {patient.timezone}"
    return _changed(session, item, actor, "item.booked", f"{_what(item)} booked for {when}")


def mark_done(
    session: Session,
    *,
    item_id: int,
    actor: Actor,
    data: DoneInput,
    settings: Settings,
    today: dt.date,
) -> Result:
    """Record the item as done with its result, then re-evaluate triggers and re-plan."""
    item, patient = _open_item(session, item_id, actor)
    kind = ItemKind(item.kind)
    check = Checker(today=today, what="result")
    day = check.date(
        "completed_on", data.completed_on or today.isoformat(), not_before=patient.birth_date
    )
    _check_result(check, kind, data)
    check.raise_if_problems()
    assert day is not None
    try:
        _record_result(session, patient, kind, day, data, today)
    except InvalidInput as error:
        raise InvalidInput(error.problems, what="result") from error
    item.state = m.ItemState.DONE
    item.completed_on = day
    item.snoozed_until = None
    item.outcome_note = data.note.strip()[:500]
    # Done before refreshing, so the planner sees this item completed and plans the next one.
    session.add(item)
    session.flush()
    refresh = care.refresh_patient(session, patient=patient, settings=settings, today=today)
    fired = [t.kind for t in refresh.new_triggers]
    result = _changed(session, item, actor, "item.done", f"{_what(item)} done on {day}")
    if fired:
        audit(
            session,
            actor=actor,
            action="trigger.fired",
            patient_id=patient.id,
            detail="new trigger: " + ", ".join(trigger_label(k) for k in fired),
        )
    return Result(result.message, result.patient_id, tuple(fired))


def mark_declined(
    session: Session, *, item_id: int, actor: Actor, reason: str | None, today: dt.date
) -> Result:
    return _close(session, item_id, actor, m.ItemState.DECLINED, reason, "declined by patient")


def mark_not_needed(
    session: Session, *, item_id: int, actor: Actor, reason: str | None, today: dt.date
) -> Result:
    return _close(session, item_id, actor, m.ItemState.NOT_NEEDED, reason, "not needed")


def snooze(
    session: Session,
    *,
    item_id: int,
    actor: Actor,
    until: str | None,
    reason: str | None,
    settings: Settings,
    today: dt.date,
) -> Result:
    """Hide an item from the daily sections until ``until`` (at most ``snooze_max_days`` ahead).
    It stays on the lost-to-follow-up list whatever the snooze says."""
    item, _ = _open_item(session, item_id, actor)
    limit = settings.worklist.snooze_max_days
    check = Checker(today=today, what="snooze")
    day = check.date("until", until, not_future=False)
    why = check.text("reason", reason, max_length=300)
    if day is not None and day <= today:
        check.fail("until", f"{day} is not after today ({today})")
    elif day is not None and day > today + dt.timedelta(days=limit):
        check.fail("until", f"{day} is more than {limit} days ahead (the most a snooze may last)")
    check.raise_if_problems()
    assert day and why
    item.snoozed_until = day
    item.snooze_reason = why
    message = f"{_what(item)} snoozed until {day}: {why}"
    return _changed(session, item, actor, "item.snoozed", message)


def _close(
    session: Session,
    item_id: int,
    actor: Actor,
    state: m.ItemState,
    reason: str | None,
    words: str,
) -> Result:
    item, _ = _open_item(session, item_id, actor)
    check = Checker(today=dt.date.min, what="reason")
    why = check.text("reason", reason, max_length=500)
    check.raise_if_problems()
    assert why
    item.state = state
    item.outcome_note = why
    item.snoozed_until = None
    return _changed(session, item, actor, f"item.{state.value}", f"{_what(item)} {words}: {why}")


def _open_item(session: Session, item_id: int, actor: Actor) -> tuple[m.FollowUpItem, m.Patient]:
    item = session.get(m.FollowUpItem, item_id)
    if item is None:
        raise NotFound(f"no follow-up item with id {item_id}")
    patient = visible_patient(session, actor=actor, patient_id=item.patient_id)
    if item.state not in OPEN:
        raise Conflict(f"item {item_id} is already {item.state.replace('_', ' ')}")
    return item, patient


def _changed(
    session: Session, item: m.FollowUpItem, actor: Actor, action: str, message: str
) -> Result:
    item.sequence += 1
    item.updated_at = utcnow()
    session.add(item)
    audit(
        session,
        actor=actor,
        action=action,
        patient_id=item.patient_id,
        detail=f"item {item.id}: {message}",
    )
    session.flush()
    return Result(message=message, patient_id=item.patient_id)


def _what(item: m.FollowUpItem) -> str:
    return kind_label(item.kind)


# --------------------------------------------------------------------------- results


def _check_result(check: Checker, kind: ItemKind, data: DoneInput) -> None:
    """Markers need their value; imaging takes an optional measurement (both parts or none)."""
    if kind in MARKER_KINDS and not (data.marker_value or "").strip():
        check.fail("marker_value", f"is required to mark {kind_label(kind)} done")
    if kind in IMAGING_KINDS or kind == ItemKind.ENDOSCOPY:
        lesion = (data.lesion or "").strip()
        size = (data.diameter_mm or "").strip()
        if bool(lesion) != bool(size):
            missing = "diameter_mm" if lesion else "lesion"
            check.fail(missing, "give both the lesion and its diameter, or neither")


def _record_result(
    session: Session,
    patient: m.Patient,
    kind: ItemKind,
    day: dt.date,
    data: DoneInput,
    today: dt.date,
) -> None:
    if kind in MARKER_KINDS:
        registry.add_marker(
            session,
            patient=patient,
            name=kind.value,
            value=data.marker_value,
            date=day.isoformat(),
            unit=data.marker_unit,
            uln=data.marker_uln or None,
            on_ppi=data.on_ppi,
            today=today,
        )
    elif (data.lesion or "").strip():
        registry.add_measurement(
            session,
            patient=patient,
            lesion=data.lesion,
            date=day.isoformat(),
            diameter_mm=data.diameter_mm,
            modality=data.modality or DEFAULT_MODALITY.get(kind, "mri"),
            today=today,
        )


# --------------------------------------------------------------------------- triggers


def acknowledge_trigger(
    session: Session, *, trigger_id: int, actor: Actor, now: dt.datetime
) -> Result:
    trigger = _trigger(session, trigger_id, actor)
    if trigger.state != m.TriggerState.OPEN:
        raise Conflict(f"trigger {trigger_id} is already {trigger.state}")
    trigger.state = m.TriggerState.ACKNOWLEDGED
    trigger.acknowledged_by = actor.username
    trigger.acknowledged_at = now
    return _trigger_changed(session, trigger, actor, "trigger.acknowledged", "acknowledged")


def resolve_trigger(
    session: Session, *, trigger_id: int, actor: Actor, outcome: str | None, now: dt.datetime
) -> Result:
    """Close a trigger with its outcome (e.g. 'tumour board: continue surveillance')."""
    trigger = _trigger(session, trigger_id, actor)
    if trigger.state == m.TriggerState.RESOLVED:
        raise Conflict(f"trigger {trigger_id} is already resolved")
    check = Checker(today=dt.date.min, what="outcome")
    text = check.text("outcome", outcome, max_length=300)
    check.raise_if_problems()
    if trigger.acknowledged_at is None:
        trigger.acknowledged_by, trigger.acknowledged_at = actor.username, now
    trigger.state = m.TriggerState.RESOLVED
    trigger.resolved_by = actor.username
    trigger.resolved_at = now
    trigger.outcome = text
    return _trigger_changed(session, trigger, actor, "trigger.resolved", f"resolved: {text}")


def _trigger(session: Session, trigger_id: int, actor: Actor) -> m.Trigger:
    trigger = session.get(m.Trigger, trigger_id)
    if trigger is None:
        raise NotFound(f"no trigger with id {trigger_id}")
    visible_patient(session, actor=actor, patient_id=trigger.patient_id)
    return trigger


def _trigger_changed(
    session: Session, trigger: m.Trigger, actor: Actor, action: str, words: str
) -> Result:
    session.add(trigger)
    message = f"Trigger {trigger_label(trigger.kind)} {words}"
    audit(
        session,
        actor=actor,
        action=action,
        patient_id=trigger.patient_id,
        detail=f"trigger {trigger.id}: {message}",
    )
    session.flush()
    return Result(message=message, patient_id=trigger.patient_id)


# --------------------------------------------------------------------------- time


def _time(check: Checker, value: str | None) -> dt.time | None:
    text = (value or "").strip()
    if not text:
        check.fail("time", "is required (HH:MM)")
        return None
    try:
        return dt.time.fromisoformat(text)
    except ValueError:
        check.fail("time", f"{text!r} is not a time as HH:MM")
        return None


def local_to_utc(check: Checker, day: dt.date, clock: dt.time, timezone: str) -> dt.datetime | None:
    """A wall-clock time in ``timezone`` as UTC. A time the clocks skip (spring forward) does not
    exist there and is refused; a repeated one (autumn) means its first occurrence."""
    zone = ZoneInfo(timezone)
    local = dt.datetime.combine(day, clock, tzinfo=zone)
    back = local.astimezone(dt.UTC).astimezone(zone)
    if back.replace(tzinfo=None) != local.replace(tzinfo=None):
        check.fail("time", f"{clock:%H:%M} on {day} does not exist in {timezone} (clocks change)")
        return None
    return local.astimezone(dt.UTC)
