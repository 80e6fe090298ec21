"""Everything the patient page shows, read in one go and audited as a view of PHI.

The page is for a nurse deciding what to do next, so the record answers: who is this, how bad is
the tumour, where are they in the disease, what is planned and why, what was found, and what has
happened (results and actions, newest first).
"""

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.core.grading import who_grade
from surveil.core.vocab import Differentiation
from surveil.db import models as m
from surveil.db.reply_words import replies_to, stopped_channels
from surveil.db.session import session_scope
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.entry import audited_read
from surveil.services.users.accounts import visible_patient

CLOSED_ITEMS_SHOWN = 20
TIMELINE_LIMIT = 200
MESSAGES_SHOWN = 100


@dataclass(frozen=True)
class LesionSeries:
    label: str
    location: str
    points: tuple[tuple[dt.date, float, str], ...]  # (date, mm, modality), oldest first


@dataclass(frozen=True)
class MarkerSeries:
    name: str
    unit: str
    uln: float | None
    points: tuple[tuple[dt.date, float, bool], ...]  # (date, value, on PPI), oldest first


@dataclass(frozen=True)
class TimelineEntry:
    day: dt.date
    at: dt.datetime | None
    kind: str  # "result", "state", "therapy", "symptom" or "action"
    text: str
    actor: str = ""


@dataclass(frozen=True)
class Ki67Reading:
    """The most recent Ki-67 and the WHO grade that reading alone gives: the card shows it beside
    the grade that stands (the highest ever recorded), so a nurse sees both."""

    value: float
    date: dt.date | None
    grade: str
    source: str  # "pathology result" or "at enrolment"


@dataclass(frozen=True)
class Message:
    """One reminder to the patient, whatever became of it."""

    at: dt.datetime  # when it went, or when it was due to go
    sent: bool
    channel: str
    state: str
    stage: str
    about: str  # the item kind it was about ("" for none)
    suppressed_reason: str | None
    last_error: str
    attempts: int
    reply: str | None = None  # the patient's answer(s), in words: 'confirm by sms "C"'


@dataclass(frozen=True)
class PatientRecord:
    patient: m.Patient
    navigator: str | None
    tumour: m.Tumour | None
    state: m.DiseaseState | None
    states: tuple[m.DiseaseState, ...]
    open_items: tuple[m.FollowUpItem, ...]
    closed_items: tuple[m.FollowUpItem, ...]
    triggers: tuple[m.Trigger, ...]
    lesions: tuple[LesionSeries, ...]
    markers: tuple[MarkerSeries, ...]
    timeline: tuple[TimelineEntry, ...]
    latest_ki67: Ki67Reading | None = None
    messages: tuple[Message, ...] = ()
    # What each trigger proposed or did (issue 14: proposals, confirmed, reverted).
    consequences: tuple[m.TriggerConsequence, ...] = ()
    # Channels the patient stopped from a reminder (issue 18: STOP, a stop link).
    stopped_channels: tuple[str, ...] = ()


@audited_read("patient.viewed")
def open_record(engine: sa.Engine, *, actor: Actor, patient_id: int) -> PatientRecord:
    """Read a patient's record for ``actor`` and audit the view (HIPAA §164.312(b)). The rows
    come back loaded and detached: the page renders them after the transaction has closed."""
    with session_scope(engine) as session:
        patient = visible_patient(session, actor=actor, patient_id=patient_id)
        audit(
            session,
            actor=actor,
            action="patient.viewed",
            patient_id=patient.id,
            subject=f"patient:{patient.id}",
        )
        return read_record(session, patient)


def read_record(session: Session, patient: m.Patient) -> PatientRecord:
    pid = patient.id
    states = tuple(
        session.exec(
            select(m.DiseaseState)
            .where(m.DiseaseState.patient_id == pid)
            .order_by(col(m.DiseaseState.start_date).desc(), col(m.DiseaseState.id).desc())
        ).all()
    )
    items = session.exec(
        select(m.FollowUpItem)
        .where(m.FollowUpItem.patient_id == pid)
        .order_by(col(m.FollowUpItem.target), col(m.FollowUpItem.id))
    ).all()
    open_states = {s.value for s in m.OPEN_ITEM_STATES}
    closed = sorted(
        (i for i in items if i.state not in open_states), key=lambda i: i.updated_at, reverse=True
    )
    navigator = (
        session.exec(select(m.User.display_name).where(m.User.id == patient.navigator_id)).first()
        if patient.navigator_id
        else None
    )
    lesions = _lesions(session, pid)
    markers = _markers(session, pid)
    tumour = session.exec(select(m.Tumour).where(m.Tumour.patient_id == pid)).first()
    return PatientRecord(
        patient=patient,
        navigator=navigator,
        tumour=tumour,
        state=next((s for s in states if s.end_date is None), None),
        states=states,
        open_items=tuple(i for i in items if i.state in open_states),
        closed_items=tuple(closed[:CLOSED_ITEMS_SHOWN]),
        triggers=tuple(
            session.exec(
                select(m.Trigger)
                .where(m.Trigger.patient_id == pid)
                .order_by(
                    col(m.Trigger.state) == m.TriggerState.RESOLVED,
                    col(m.Trigger.detected_on).desc(),
                )
            ).all()
        ),
        lesions=lesions,
        markers=markers,
        timeline=_timeline(session, pid, states, lesions, markers),
        latest_ki67=_latest_ki67(session, pid, tumour),
        messages=_messages(session, pid),
        stopped_channels=stopped_channels(session.connection(), pid or 0),
        consequences=tuple(
            session.exec(
                select(m.TriggerConsequence)
                .where(m.TriggerConsequence.patient_id == pid)
                .order_by(col(m.TriggerConsequence.id))
            ).all()
        ),
    )


def _latest_ki67(session: Session, pid: int | None, tumour: m.Tumour | None) -> Ki67Reading | None:
    """The newest pathology result with a Ki-67, or the one recorded at enrolment."""
    latest = session.exec(
        select(m.PathologyResult)
        .where(m.PathologyResult.patient_id == pid, col(m.PathologyResult.ki67).is_not(None))
        .order_by(col(m.PathologyResult.date).desc(), col(m.PathologyResult.id).desc())
    ).first()
    base = Differentiation(tumour.differentiation) if tumour else None
    if latest is not None and latest.ki67 is not None:
        seen = Differentiation(latest.differentiation) if latest.differentiation else base
        grade = who_grade(seen, latest.ki67, latest.mitoses)
        return Ki67Reading(latest.ki67, latest.date, grade.value, "pathology result")
    if tumour is not None and tumour.ki67 is not None:
        grade = who_grade(base, tumour.ki67, tumour.mitoses)
        return Ki67Reading(tumour.ki67, tumour.diagnosed_on, grade.value, "at enrolment")
    return None


def _messages(session: Session, pid: int | None) -> tuple[Message, ...]:
    """Every reminder to the patient, newest first: sent, pending, failed or suppressed."""
    rows = session.exec(
        select(m.Reminder, m.FollowUpItem.kind)
        .outerjoin(m.FollowUpItem, col(m.FollowUpItem.id) == m.Reminder.item_id)
        .where(m.Reminder.patient_id == pid)
        .order_by(col(m.Reminder.send_after).desc(), col(m.Reminder.id).desc())
        .limit(MESSAGES_SHOWN)
    ).all()
    replies = replies_to(session.connection(), [r.id for r, _ in rows if r.id is not None])
    return tuple(
        Message(
            at=r.sent_at or r.send_after,
            sent=r.sent_at is not None,
            channel=r.channel,
            state=r.state,
            stage=r.stage,
            about=kind or "",
            suppressed_reason=r.suppressed_reason,
            last_error=r.last_error,
            attempts=r.attempts,
            reply=replies.get(r.id or 0),
        )
        for r, kind in rows
    )


def _lesions(session: Session, pid: int | None) -> tuple[LesionSeries, ...]:
    rows = session.exec(
        select(m.Lesion, m.Measurement)
        .join(m.Measurement, col(m.Measurement.lesion_id) == m.Lesion.id)
        .where(m.Lesion.patient_id == pid, col(m.Measurement.struck_out_at).is_(None))
        .order_by(col(m.Lesion.label), col(m.Measurement.date), col(m.Measurement.id))
    ).all()
    series: dict[str, tuple[m.Lesion, list[tuple[dt.date, float, str]]]] = {}
    for lesion, measurement in rows:
        entry = series.setdefault(lesion.label, (lesion, []))
        entry[1].append((measurement.date, measurement.diameter_mm, measurement.modality))
    return tuple(
        LesionSeries(label=label, location=lesion.location, points=tuple(points))
        for label, (lesion, points) in series.items()
    )


def _markers(session: Session, pid: int | None) -> tuple[MarkerSeries, ...]:
    rows = session.exec(
        select(m.MarkerResult)
        .where(m.MarkerResult.patient_id == pid, col(m.MarkerResult.struck_out_at).is_(None))
        .order_by(col(m.MarkerResult.name), col(m.MarkerResult.date), col(m.MarkerResult.id))
    ).all()
    grouped: dict[str, list[m.MarkerResult]] = {}
    for row in rows:
        grouped.setdefault(row.name, []).append(row)
    return tuple(
        MarkerSeries(
            name=name,
            unit=next((r.unit for r in reversed(results) if r.unit), ""),
            # The most recent upper limit: labs change assays, and the newest is the one to beat.
            uln=next((r.uln for r in reversed(results) if r.uln), None),
            points=tuple((r.date, r.value, r.on_ppi) for r in results),
        )
        for name, results in grouped.items()
    )


def _timeline(
    session: Session,
    pid: int | None,
    states: tuple[m.DiseaseState, ...],
    lesions: tuple[LesionSeries, ...],
    markers: tuple[MarkerSeries, ...],
) -> tuple[TimelineEntry, ...]:
    entries = [
        TimelineEntry(day, None, "result", f"{s.label}: {mm:g} mm ({modality})")
        for s in lesions
        for day, mm, modality in s.points
    ]
    entries += [
        TimelineEntry(day, None, "result", f"{s.name}: {value:g} {s.unit}".rstrip())
        for s in markers
        for day, value, _ in s.points
    ]
    entries += [
        TimelineEntry(s.start_date, None, "state", f"state: {s.kind.replace('_', ' ')}")
        for s in states
    ]
    entries += [
        TimelineEntry(t.started_on, None, "therapy", f"started {t.kind}" + _agent(t.agent))
        for t in session.exec(select(m.Therapy).where(m.Therapy.patient_id == pid))
    ]
    entries += [
        TimelineEntry(p.date, None, "result", f"pathology: Ki-67 {_num(p.ki67)} %")
        for p in session.exec(select(m.PathologyResult).where(m.PathologyResult.patient_id == pid))
    ]
    entries += [
        TimelineEntry(s.date, None, "symptom", s.description)
        for s in session.exec(select(m.Symptom).where(m.Symptom.patient_id == pid))
    ]
    actions = session.exec(
        select(m.AuditEvent)
        .where(
            m.AuditEvent.patient_id == pid,
            # Reads of the record ("patient.viewed", "plan.viewed"...) are not events in it.
            col(m.AuditEvent.action).not_like("%.viewed"),
        )
        .order_by(col(m.AuditEvent.at).desc())
        .limit(TIMELINE_LIMIT)
    ).all()
    entries += [
        TimelineEntry(a.at.date(), a.at, "action", a.detail or a.action, a.actor) for a in actions
    ]
    oldest = dt.datetime.min.replace(tzinfo=dt.UTC)
    entries.sort(key=lambda e: (e.day, e.at or oldest), reverse=True)
    return tuple(entries[:TIMELINE_LIMIT])


def _agent(agent: str | None) -> str:
    return f" ({agent})" if agent else ""


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:g}"
