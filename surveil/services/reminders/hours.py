"""When a patient is reminded: their preferred send window, and the clinic's cadence.

``set_send_window`` is the entry point that sets or clears a patient's window (e.g. 17:00-20:00
on their clock), and the language of their messages with it (the patient page's form). The
window must lie inside the hours the clinic allows (outside ``quiet_start`` - ``quiet_end``).
Reminders are then planned at the window's start on the patient's clock (see
``core.reminders``): a wall-clock time, so it stays 17:00 local across a clock change. Waiting
reminders that no daemon holds yet move to the new time on their day.

``reminder_hours`` describes both for the patient page (and a future API): no PHI, plain words.
A window is not clinical data: nothing triggers on it and the care plan does not change, so
the change does not replan the patient.
"""

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session

from surveil.config import Settings
from surveil.core.reminders import (
    ReminderPolicy,
    next_allowed_send_time,
    send_window_problem,
)
from surveil.db import claims
from surveil.db import models as m
from surveil.db.session import session_scope
from surveil.errors import ConfigError, InvalidInput, Problem
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.entry import change
from surveil.services.registry import patients as registry
from surveil.services.registry.patients import PatientInput
from surveil.services.reminders.planning import effective_policy, send_window
from surveil.services.users.accounts import visible_patient

R = claims.R
_HH_MM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)", re.ASCII)


@dataclass(frozen=True)
class ReminderHours:
    """What the patient page shows under "Reminders"."""

    window: str | None  # "17:00-20:00 (Europe/London)", or None: the clinic's send time
    send_time: str  # the clinic's, "09:00"
    quiet: str  # "20:00-08:00", or "none"
    cadence: str  # "14 and 3 days before the window opens; when the window opens; ..."
    moved: int = 0  # waiting reminders moved to the new time (set_send_window only)


def _parse(field: str, raw: str, problems: list[Problem]) -> dt.time | None:
    text = raw.strip()
    if not text:
        return None
    found = _HH_MM.fullmatch(text)
    if found is None:
        problems.append(Problem(field, f"{text[:20]!r} is not a time like 17:00"))
        return None
    return dt.time(int(found.group(1)), int(found.group(2)))


def check_window(start: str, end: str, policy: ReminderPolicy) -> tuple[dt.time, dt.time] | None:
    """The window from two "HH:MM" fields (both empty: none), or InvalidInput naming every
    field that is wrong."""
    problems: list[Problem] = []
    first = _parse("send_window_start", start, problems)
    last = _parse("send_window_end", end, problems)
    if not problems and (first is None) != (last is None):
        missing = "send_window_end" if last is None else "send_window_start"
        problems.append(Problem(missing, "give both times of the window, or neither"))
    if not problems and first is not None and last is not None:
        why = send_window_problem(first, last, policy.quiet_start, policy.quiet_end)
        if why is not None:
            problems.append(Problem("send_window_start", why))
    if problems:
        raise InvalidInput(problems, what="send window")
    return None if first is None or last is None else (first, last)


@change("patient.send_window")
def set_send_window(
    engine: sa.Engine,
    *,
    actor: Actor,
    patient_id: int,
    start: str,
    end: str,
    settings: Settings,
    now: dt.datetime,
    language: str | None = None,
) -> ReminderHours:
    """Set (or, with both times empty, clear) the patient's preferred reminder hours; and,
    when ``language`` is given, the language of their messages ("" clears it). Every problem
    of either is reported at once, and nothing is written while there is one."""
    policy = effective_policy(settings)
    problems: list[Problem] = []
    try:
        window = check_window(start, end, policy)
    except InvalidInput as error:
        problems, window = list(error.problems), None
    with session_scope(engine) as session:
        patient = visible_patient(session, actor=actor, patient_id=patient_id)
        before = _shown(send_window(patient))
        spoken = patient.language
        if language is not None:  # the registry's own check and write, as the details form
            try:
                data = PatientInput(language=language)
                registry.update_patient(session, patient=patient, data=data, today=now.date())
            except InvalidInput as error:
                problems += error.problems
        if problems:
            raise InvalidInput(problems, what="reminder hours")
        patient.send_window_start, patient.send_window_end = window or (None, None)
        patient.updated_at = now
        session.add(patient)
        moved = _move_waiting(session, patient, window, policy, now)
        audit(
            session,
            actor=actor,
            action="patient.send_window",
            patient_id=patient_id,
            subject=f"patient:{patient_id}",
            before={"send_window": before, "language": spoken},
            after={"send_window": _shown(window), "language": patient.language},
            detail=f"{moved} waiting reminder(s) moved",
            channel=actor.channel,
        )
        hours = describe(patient, policy)
    return ReminderHours(hours.window, hours.send_time, hours.quiet, hours.cadence, moved)


def _move_waiting(
    session: Session,
    patient: m.Patient,
    window: tuple[dt.time, dt.time] | None,
    policy: ReminderPolicy,
    now: dt.datetime,
) -> int:
    """Pending reminders nobody holds, planned for later: the new time on the same local day."""
    zone = ZoneInfo(patient.timezone)
    at = window[0] if window else policy.send_time
    connection = session.connection()
    waiting = connection.execute(
        sa.select(R.c.id, R.c.send_after).where(
            R.c.patient_id == patient.id,
            R.c.state == m.ReminderState.PENDING,
            R.c.lease_owner.is_(None),
            R.c.attempts == 0,
            R.c.send_after > now,
        )
    ).all()
    for rid, send_after in waiting:
        day = send_after.replace(tzinfo=dt.UTC).astimezone(zone).date()
        local = dt.datetime.combine(day, at, tzinfo=zone)
        moved = next_allowed_send_time(local, zone, policy.quiet_start, policy.quiet_end)
        connection.execute(
            sa.update(R).where(R.c.id == rid).values(send_after=moved, updated_at=now)
        )
    return len(waiting)


def _shown(window: tuple[dt.time, dt.time] | None) -> str | None:
    return None if window is None else f"{window[0]:%H:%M}-{window[1]:%H:%M}"


def reminder_hours(patient: m.Patient, settings: Settings) -> ReminderHours | None:
    """``describe`` with the clinic's policy; None when ``[reminders]`` is not valid (the daemon
    refuses to start then, and says why)."""
    try:
        policy = effective_policy(settings)
    except ConfigError:
        return None
    return describe(patient, policy)


def describe(patient: m.Patient, policy: ReminderPolicy) -> ReminderHours:
    """The patient's reminder hours and the clinic's cadence, in words."""
    window = _shown(send_window(patient))
    stages = []
    if policy.days_before_window:
        days = [str(d) for d in policy.days_before_window]
        listed = days[0] if len(days) == 1 else ", ".join(days[:-1]) + " and " + days[-1]
        stages.append(f"{listed} days before the window opens")
    if policy.window_open:
        stages.append("when the window opens")
    if policy.before_target_days:
        stages.append(f"{policy.before_target_days} days before the target")
    if policy.repeats:
        times = "1 repeat" if policy.repeats == 1 else f"up to {policy.repeats} repeats"
        gap = policy.repeat_every_days
        stages.append(f"{times} {gap} day{'s' if gap > 1 else ''} apart while not done")
    quiet = (
        "none"
        if policy.quiet_start == policy.quiet_end
        else f"{policy.quiet_start:%H:%M}-{policy.quiet_end:%H:%M}"
    )
    return ReminderHours(
        window=None if window is None else f"{window} ({patient.timezone})",
        send_time=f"{policy.send_time:%H:%M}",
        quiet=quiet,
        cadence="; ".join(stages) or "no patient reminders (navigators' digest only)",
    )
