"""What a navigator does to a follow-up item, one entry point per action (ordered, booked, done,
declined, not needed, snoozed).

Every action opens its own transaction, checks that the actor may see the patient, validates all
of its input before writing (``InvalidInput`` lists every problem), refuses to act on an item that
is already closed (``Conflict``), bumps the item's ``sequence`` and ``updated_at`` (calendar feeds
rely on both to tell clients an event changed) and writes its audit event, the item's state
before and after, in the same transaction.
"""

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session

from surveil.config import ReasonSettings, Settings
from surveil.core.vocab import IMAGING_KINDS, MARKER_KINDS, ItemKind
from surveil.db import models as m
from surveil.db.base import utcnow
from surveil.db.session import session_scope
from surveil.errors import Conflict, InvalidInput, NotFound
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.entry import change
from surveil.services.labels import kind_label
from surveil.services.outcome import Outcome
from surveil.services.planning import care
from surveil.services.reasons import OTHER, check_code, keep_reason
from surveil.services.records import attempts
from surveil.services.records.results import audit_marker, audit_measurement
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

Result = Outcome  # what every action returns (the name the web shells know)


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


@change("item.ordered")
def mark_ordered(engine: sa.Engine, *, item_id: int, actor: Actor, note: str = "") -> Result:
    with session_scope(engine) as session:
        item, _ = _open_item(session, item_id, actor)
        if item.state != m.ItemState.PLANNED:
            raise Conflict(f"item {item_id} is {item.state}; only a planned item can be ordered")
        before = _snapshot(item)
        item.state = m.ItemState.ORDERED
        item.outcome_note = note.strip()[:500]
        return _changed(session, item, actor, "item.ordered", f"{_what(item)} ordered", before)


@change("item.booked")
def mark_booked(
    engine: sa.Engine,
    *,
    item_id: int,
    actor: Actor,
    date: str | None,
    time: str | None,
    today: dt.date,
    reason_code: str | None = None,
    reason: str | None = None,
    reasons: ReasonSettings | None = None,
) -> Result:
    """Book the appointment at a local date and time in the patient's zone; stored as UTC.

    An appointment outside the item's due window needs a coded reason (``[reasons] booking``)
    and is marked on the item's booking, which keeps it on the worklist's "booked outside the
    window" section until done. Every booking is kept as an attempt; a new booking of a booked
    item ends the previous one as cancelled ("rebooked")."""
    with session_scope(engine) as session:
        item, patient = _open_item(session, item_id, actor)
        check = Checker(today=today, what="booking")
        day = check.date("date", date, not_future=False)
        clock = _time(check, time)
        if day is not None and day < today:
            check.fail("date", f"{day} is in the past (today is {today})")
        at = None
        if day is not None and clock is not None:
            at = local_to_utc(check, day, clock, patient.timezone)
        return book(
            session,
            check,
            item=item,
            patient=patient,
            actor=actor,
            at=at,
            reason_code=reason_code,
            reason=reason,
            reasons=reasons,
        )


def book(
    session: Session,
    check: Checker,
    *,
    item: m.FollowUpItem,
    patient: m.Patient,
    actor: Actor,
    at: dt.datetime | None,
    reason_code: str | None,
    reason: str | None,
    reasons: ReasonSettings | None,
) -> Result:
    """Book ``item`` at ``at`` inside the caller's transaction: the window check, its coded
    reason, the attempt and the audit of :func:`mark_booked`, shared with the HL7 feed's
    bookings (``services.hl7.siu``) so both keep the same attempts and reasons. Raises
    ``InvalidInput`` with every problem (``check``'s and its own) before writing anything."""
    item_id = item.id or 0
    where = attempts.placement(item, at, patient.timezone) if at else m.BookingWindow.INSIDE
    code, words = None, (reason or "").strip()
    if where != m.BookingWindow.INSIDE:
        window = f"{item.earliest} – {item.latest}"
        day = at.astimezone(ZoneInfo(patient.timezone)).date() if at else None
        if not (reason_code or "").strip():
            check.fail("reason_code", f"{day} is {where} the due window ({window}): say why")
        else:
            code, words = check_code(
                check, reasons or ReasonSettings(), "booking", reason_code, reason
            )
    check.raise_if_problems()
    assert at is not None
    before = _snapshot(item)
    attempts.end_attempt(
        session, item_id, status=m.BookingStatus.CANCELLED, actor=actor, note="rebooked"
    )
    item.state = m.ItemState.BOOKED
    item.booked_at = at
    item.snoozed_until = None
    session.add(
        m.BookingAttempt(
            item_id=item_id,
            patient_id=item.patient_id,
            booked_at=at,
            placement=where,
            reason_code=code,
            reason_text=words[:300],
            booked_by=actor.username[:64],
        )
    )
    local = at.astimezone(ZoneInfo(patient.timezone))
    when = f"{local:%Y-%m-%d %H:%M} {patient.timezone}"
    message = f"{_what(item)} booked for {when}"
    if code is not None:
        message += f", {where} the window ({item.earliest} – {item.latest}): {code}"
        message += f" ({words})" if words else ""
        keep_reason(
            session,
            actor=actor,
            patient_id=item.patient_id,
            action="item.booked_outside",
            subject=f"item:{item_id}",
            rule_id=item.rule_id,
            code=code,
            note=words,
        )
    return _changed(session, item, actor, "item.booked", message, before)


@change("item.done", "measurement.recorded", "marker.recorded", *care.CONSEQUENCES)
def mark_done(
    engine: sa.Engine,
    *,
    item_id: int,
    actor: Actor,
    data: DoneInput,
    settings: Settings,
    today: dt.date,
) -> Result:
    """Record the item as done with its result, then re-evaluate triggers and re-plan."""
    with session_scope(engine) as session:
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
            _record_result(session, actor, patient, kind, day, data, today)
        except InvalidInput as error:
            raise InvalidInput(error.problems, what="result") from error
        before = _snapshot(item)
        attempts.end_attempt(session, item_id, status=m.BookingStatus.DONE, actor=actor)
        item.state = m.ItemState.DONE
        item.completed_on = day
        item.snoozed_until = None
        item.outcome_note = data.note.strip()[:500]
        message = f"{_what(item)} done on {day}"
        # Done before refreshing, so the planner sees this item completed and plans the next one.
        result = _changed(session, item, actor, "item.done", message, before)
        refresh = care.refresh_patient(
            session, patient=patient, settings=settings, today=today, channel=actor.channel
        )
        fired = tuple(t.kind for t in refresh.new_triggers)
        return Result(result.message, result.patient_id, fired)


@change("item.declined")
def mark_declined(
    engine: sa.Engine,
    *,
    item_id: int,
    actor: Actor,
    reason: str | None,
    reason_code: str | None = None,
    reasons: ReasonSettings | None = None,
) -> Result:
    """Close the item as declined by the patient, with a coded reason (``[reasons] declined``,
    "other" when none is picked) and the free text."""
    coded = Coded("declined", reason_code, reasons or ReasonSettings())
    words = "declined by patient"
    return _close(engine, item_id, actor, m.ItemState.DECLINED, reason, words, coded)


@change("item.not_needed")
def mark_not_needed(
    engine: sa.Engine,
    *,
    item_id: int,
    actor: Actor,
    reason: str | None,
    reason_code: str | None = None,
    reasons: ReasonSettings | None = None,
) -> Result:
    """Close the item as not needed, with a coded reason (``[reasons] not_needed``)."""
    coded = Coded("not_needed", reason_code, reasons or ReasonSettings())
    return _close(engine, item_id, actor, m.ItemState.NOT_NEEDED, reason, "not needed", coded)


@change("item.snoozed")
def snooze(
    engine: sa.Engine,
    *,
    item_id: int,
    actor: Actor,
    until: str | None,
    reason: str | None,
    settings: Settings,
    today: dt.date,
    reason_code: str | None = None,
) -> Result:
    """Hide an item from the daily sections until ``until`` (at most ``snooze_max_days`` ahead),
    with a coded reason (``[reasons] snoozed``, "other" when none is picked) and free text.
    It stays on the lost-to-follow-up list whatever the snooze says."""
    limit = settings.worklist.snooze_max_days
    with session_scope(engine) as session:
        item, _ = _open_item(session, item_id, actor)
        check = Checker(today=today, what="snooze")
        day = check.date("until", until, not_future=False)
        why = check.text("reason", reason, max_length=300)
        code, _ = check_code(
            check, settings.reasons, "snoozed", reason_code, why and why[:300], default=OTHER
        )
        if day is not None and day <= today:
            check.fail("until", f"{day} is not after today ({today})")
        elif day is not None and day > today + dt.timedelta(days=limit):
            check.fail(
                "until", f"{day} is more than {limit} days ahead (the most a snooze may last)"
            )
        check.raise_if_problems()
        assert day and why and code
        before = _snapshot(item)
        item.snoozed_until = day
        item.snooze_reason = why
        message = f"{_what(item)} snoozed until {day}: {why}"
        _keep(session, actor, item, "item.snoozed", code, why)
        return _changed(session, item, actor, "item.snoozed", message, before)


@dataclass(frozen=True)
class Coded:
    """The coded reason a closing action was given: which list, the code picked (if any)."""

    kind: str
    code: str | None
    reasons: ReasonSettings


def _close(
    engine: sa.Engine,
    item_id: int,
    actor: Actor,
    state: m.ItemState,
    reason: str | None,
    words: str,
    coded: Coded,
) -> Result:
    with session_scope(engine) as session:
        item, _ = _open_item(session, item_id, actor)
        check = Checker(today=dt.date.min, what="reason")
        why = check.text("reason", reason, max_length=500)
        code, _ = check_code(
            check, coded.reasons, coded.kind, coded.code, why and why[:300], default=OTHER
        )
        check.raise_if_problems()
        assert why and code
        before = _snapshot(item)
        attempts.end_attempt(
            session, item_id, status=m.BookingStatus.CANCELLED, actor=actor, note=words
        )
        item.state = state
        item.outcome_note = why
        item.snoozed_until = None
        message = f"{_what(item)} {words}: {why}"
        action = f"item.{state.value}"
        _keep(session, actor, item, action, code, why)
        return _changed(session, item, actor, action, message, before)


def _keep(
    session: Session, actor: Actor, item: m.FollowUpItem, action: str, code: str, why: str
) -> None:
    keep_reason(
        session,
        actor=actor,
        patient_id=item.patient_id,
        action=action,
        subject=f"item:{item.id}",
        rule_id=item.rule_id,
        code=code,
        note=why,
    )


def _open_item(session: Session, item_id: int, actor: Actor) -> tuple[m.FollowUpItem, m.Patient]:
    item = session.get(m.FollowUpItem, item_id)
    if item is None:
        raise NotFound(f"no follow-up item with id {item_id}")
    patient = visible_patient(session, actor=actor, patient_id=item.patient_id)
    if item.state not in OPEN:
        raise Conflict(f"item {item_id} is already {item.state.replace('_', ' ')}")
    return item, patient


def _snapshot(item: m.FollowUpItem) -> dict[str, object]:
    """The fields an action may change, as the audit shows them before and after."""
    return {
        "state": item.state,
        "booked_at": item.booked_at,
        "snoozed_until": item.snoozed_until,
        "completed_on": item.completed_on,
        "outcome_note": item.outcome_note,
        "snooze_reason": item.snooze_reason,
    }


def _changed(
    session: Session,
    item: m.FollowUpItem,
    actor: Actor,
    action: str,
    message: str,
    before: dict[str, object],
) -> Result:
    item.sequence += 1
    item.updated_at = utcnow()
    session.add(item)
    after = _snapshot(item)
    keys = [k for k in after if after[k] != before[k]]
    audit(
        session,
        actor=actor,
        action=action,
        patient_id=item.patient_id,
        subject=f"item:{item.id}",
        before={k: before[k] for k in keys},
        after={k: after[k] for k in keys},
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
    actor: Actor,
    patient: m.Patient,
    kind: ItemKind,
    day: dt.date,
    data: DoneInput,
    today: dt.date,
) -> None:
    if kind in MARKER_KINDS:
        marker = registry.add_marker(
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
        audit_marker(session, actor=actor, row=marker)
    elif (data.lesion or "").strip():
        measurement = registry.add_measurement(
            session,
            patient=patient,
            lesion=data.lesion,
            date=day.isoformat(),
            diameter_mm=data.diameter_mm,
            modality=data.modality or DEFAULT_MODALITY.get(kind, "mri"),
            today=today,
        )
        audit_measurement(session, actor=actor, patient=patient, row=measurement)


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
