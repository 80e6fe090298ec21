"""What the clinic did about the demo's past findings: triggers from the synthetic past end the
way the clinic's clinicians would have ended them.

Planning the demo registry evaluates every patient's triggers on today's facts, and years of
synthetic history hold years of findings: a grade change in 2015, a new liver lesion in 2023.
Left open they made a worklist no clinic has (42 open triggers in 200 patients, the oldest found
4,067 days ago). A real finding was acted on soon after it was found, so each one here gets the
course it would have had, on plausible dates, from a stream seeded by (seed, patient, finding):

* the patient's navigator acknowledged it within a few days;
* the tumour board met, or the ordered scan was done, within the pack's deadline: the trigger's
  escalation items are done on that day;
* a clinician (at the Northern NET Centre, which has no demo clinician, its navigator) resolved it
  some days later with an outcome in a clinician's words, naming the treatment the patient was
  on where that is what continued;
* a growth or size finding moved the patient out of surveillance on the day it was found: the
  move it proposed was confirmed by the clinic's clinician (issue 14), dated when found, not on
  the day the demo was made.

Each step is recorded in the audit trail as the person who did it, at the time it happened. What
is too recent for a step stays undone: a finding of two days ago is still unseen, one of last week
waits for its tumour board, one of a month ago may wait for the clinic visit where the decision is
discussed with the patient. A missed somatostatin-analogue dose is never settled: the facts say it
is still missed today, so it stays on the worklist, acknowledged, until an injection is recorded.
"""

import datetime as dt
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.config import Settings
from surveil.core.vocab import Channel
from surveil.db import models as m
from surveil.db.session import session_scope
from surveil.demo.history import HISTORY_NOTE
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.entry import change
from surveil.services.labels import kind_label
from surveil.services.planning.plans import replan_patients
from surveil.services.protocols import active_profile
from surveil.services.triggers.consequences import apply_consequence, consequences_of
from surveil.services.triggers.escalation import TRIGGER_RULE

# Findings whose facts are still true today: settling them would hide a live problem.
STILL_TRUE = frozenset({"ssa_overdue"})
ACK_DAYS = (0, 3)  # the navigator sees a new finding within this many days
DECISION_DAYS = (3, 14)  # the board meets (or the scan is done) this long after the finding
WRITE_UP_DAYS = (1, 21)  # and the outcome is written once discussed with the patient in clinic
WORKING_HOURS = (8, 17)  # acknowledgements and resolutions happen in the clinic's day
_NEW_GRADE = re.compile(r"→ (G[123X]|NEC)\b")


@dataclass(frozen=True)
class Course:
    """What happened after a finding, and when; a step on or after today did not happen yet."""

    acknowledged_on: dt.date
    acted_on: dt.date  # the tumour board, or the ordered scan
    resolved_on: dt.date


@dataclass
class SettleResult:
    acknowledged: int = 0
    resolved: int = 0
    items_done: int = 0
    still_open: int = 0  # not resolved: too recent, or still true today


def course_of(trigger: m.Trigger, *, seed: int, mrn: str, deadline_days: int) -> Course:
    """The dates of what followed ``trigger``, drawn from its own stream (the same seed gives
    the same course whatever else is in the registry)."""
    rng = random.Random(f"surveil-demo-settle/{seed}/{mrn}/{trigger.fingerprint}")
    found = trigger.detected_on
    acknowledged = found + dt.timedelta(days=rng.randint(*ACK_DAYS))
    latest = max(deadline_days, DECISION_DAYS[0])
    acted = found + dt.timedelta(days=rng.randint(DECISION_DAYS[0], min(DECISION_DAYS[1], latest)))
    resolved = acted + dt.timedelta(days=rng.randint(*WRITE_UP_DAYS))
    return Course(acknowledged, max(acted, acknowledged), max(resolved, acted, acknowledged))


def outcome_of(trigger: m.Trigger, *, acted_on: dt.date, therapy: m.Therapy | None) -> str:
    """The outcome a clinician would have written, in the clinic's words; ``therapy`` is the
    treatment the patient was on when the finding was made, if any."""
    board = f"tumour board {acted_on:%d %b %Y}"
    if trigger.confounded:
        return f"CgA repeated off the proton-pump inhibitor on {acted_on:%d %b %Y}: no true rise"
    if trigger.kind in ("growth_rate", "size"):
        return f"{board}: left active surveillance, referred for surgical review"
    if trigger.kind == "recist":
        if therapy is not None:
            what = therapy.agent or therapy.kind.replace("_", " ")
            return f"{board}: progression confirmed; {what} continued"
        return f"{board}: progression confirmed; options discussed, watch and wait agreed"
    if trigger.kind == "grade_change":
        grade = _NEW_GRADE.search(trigger.explanation)
        higher = grade.group(1) if grade else "the higher grade"
        return f"{board}: {higher} confirmed; follow-up as for {higher}"
    if trigger.kind == "marker_rise":
        return f"SSTR PET {acted_on:%d %b %Y}: no new disease; markers repeated as planned"
    if trigger.kind == "symptoms":
        return f"seen in clinic {acted_on:%d %b %Y}: symptoms explained, surveillance continued"
    return f"reviewed {acted_on:%d %b %Y}: no change to the plan"


@change("trigger.acknowledged", "item.done", "trigger.resolved", "state.set")
def settle_past_triggers(
    engine: sa.Engine, *, settings: Settings, today: dt.date, now: dt.datetime, seed: int
) -> SettleResult:
    """Give every unresolved trigger the course it would have had by ``today`` (see the module
    docstring), then replan the patients whose triggers changed; one transaction."""
    _, profile = active_profile(settings)
    moving = {kind for kind, then in profile.on_trigger.items() if then.set_state is not None}
    zone = ZoneInfo(settings.clinic.timezone)
    with session_scope(engine) as session:
        settling = _Settling(session, seed=seed, clock=_Clock(zone=zone, today=today, now=now))
        unresolved = session.exec(
            select(m.Trigger, m.Patient)
            .join(m.Patient)
            .where(m.Trigger.state != m.TriggerState.RESOLVED)
            .order_by(col(m.Trigger.id))
        ).all()
        for trigger, patient in unresolved:
            if trigger.kind in moving:
                _confirm_move(session, trigger, settling.staff.clinician(patient), today)
            settling.follow(trigger, patient)
        for patient_id, found in _first_moves(unresolved, moving).items():
            if _date_pathway_change(session, patient_id, found):
                settling.touched[patient_id] = session.get_one(m.Patient, patient_id)
        session.flush()
        if settling.touched:
            patients = list(settling.touched.values())
            replan_patients(session, patients=patients, settings=settings, today=today)
        return settling.result


class _Settling:
    """One trigger at a time: the steps of its course that happened before today."""

    def __init__(self, session: Session, *, seed: int, clock: "_Clock") -> None:
        self.session, self.seed, self.clock = session, seed, clock
        self.staff = _Staff(session)
        self.result = SettleResult()
        self.touched: dict[int, m.Patient] = {}

    def follow(self, trigger: m.Trigger, patient: m.Patient) -> None:
        session, clock, done = self.session, self.clock, self.result
        items = _escalation_items(session, trigger)
        deadline = max(((i.latest - i.earliest).days for i in items), default=14)
        course = course_of(trigger, seed=self.seed, mrn=patient.mrn, deadline_days=deadline)
        clock.rng.seed(f"surveil-demo-settle-clock/{self.seed}/{trigger.fingerprint}")
        navigator = self.staff.navigator(patient)
        if clock.happened(course.acknowledged_on) and trigger.state == m.TriggerState.OPEN:
            _acknowledge(session, trigger, navigator, clock.at(course.acknowledged_on))
            done.acknowledged += 1
        if trigger.kind in STILL_TRUE:
            done.still_open += 1  # seen, and still true today: it stays on the worklist
            return
        if clock.happened(course.acted_on):
            done.items_done += _close_items(session, trigger, items, course, navigator, clock)
            self.touched[patient.id or 0] = patient
        if not clock.happened(course.resolved_on):
            done.still_open += 1  # too recent: the outcome is not written yet
            return
        therapy = _therapy_on(session, trigger)
        outcome = outcome_of(trigger, acted_on=course.acted_on, therapy=therapy)
        _resolve(session, trigger, self.staff.clinician(patient), outcome, course, clock)
        done.resolved += 1


def _confirm_move(session: Session, trigger: m.Trigger, clinician: Actor, today: dt.date) -> None:
    """Leaving surveillance is a proposal until a clinician confirms it (issue 14): in the
    demo's past the clinic's clinician did, and ``_date_pathway_change`` dates it when found."""
    for row in consequences_of(session, trigger.id):
        if row.kind == m.ConsequenceKind.SET_STATE and row.status == m.ConsequenceStatus.PROPOSED:
            apply_consequence(session, row=row, record=trigger, actor=clinician, today=today)


def _first_moves(
    unresolved: Sequence[tuple[m.Trigger, m.Patient]], moving: set[str]
) -> dict[int, dt.date]:
    """Per patient, the day of the first unresolved finding whose consequence moves the patient
    to another pathway: the day recording that scan would have moved them."""
    first: dict[int, dt.date] = {}
    for trigger, _ in unresolved:
        if trigger.kind in moving:
            day = first.get(trigger.patient_id, trigger.detected_on)
            first[trigger.patient_id] = min(day, trigger.detected_on)
    return first


# --------------------------------------------------------------------------- steps


@dataclass
class _Clock:
    """Turns a day of the course into a time in the clinic's working day, never after ``now``;
    reseeded for each trigger, so a trigger's times do not depend on the others."""

    zone: ZoneInfo
    today: dt.date
    now: dt.datetime
    rng: random.Random = field(default_factory=random.Random)

    def happened(self, day: dt.date) -> bool:
        return day < self.today

    def at(self, day: dt.date) -> dt.datetime:
        minute = self.rng.randint(WORKING_HOURS[0] * 60, WORKING_HOURS[1] * 60 - 1)
        local = dt.datetime.combine(day, dt.time(minute // 60, minute % 60), tzinfo=self.zone)
        return min(local.astimezone(dt.UTC), self.now)


class _Staff:
    """Who did it: the patient's navigator acknowledges; a clinician of the patient's clinic
    resolves (its navigator where the clinic has no clinician)."""

    def __init__(self, session: Session) -> None:
        self.users = list(session.exec(select(m.User).order_by(col(m.User.id))).all())

    def navigator(self, patient: m.Patient) -> Actor:
        own = [u for u in self.users if u.id == patient.navigator_id]
        return self._actor(own or self._at(patient.clinic, m.Role.NAVIGATOR), patient)

    def clinician(self, patient: m.Patient) -> Actor:
        at_clinic = self._at(patient.clinic, m.Role.CLINICIAN)
        return self._actor(at_clinic, patient) if at_clinic else self.navigator(patient)

    def _at(self, clinic: str, role: m.Role) -> list[m.User]:
        return [u for u in self.users if u.clinic == clinic and u.role == role]

    def _actor(self, users: Sequence[m.User], patient: m.Patient) -> Actor:
        if not users:
            return Actor.system(Channel.WEB, clinic=patient.clinic)
        return Actor.of(users[0], channel=Channel.WEB)


def _escalation_items(session: Session, trigger: m.Trigger) -> list[m.FollowUpItem]:
    prefix = TRIGGER_RULE.format(id=trigger.id, kind="")
    return list(
        session.exec(
            select(m.FollowUpItem)
            .where(
                col(m.FollowUpItem.rule_id).startswith(prefix),
                col(m.FollowUpItem.state).in_(m.OPEN_ITEM_STATES),
            )
            .order_by(col(m.FollowUpItem.id))
        ).all()
    )


def _acknowledge(session: Session, trigger: m.Trigger, actor: Actor, at: dt.datetime) -> None:
    trigger.state = m.TriggerState.ACKNOWLEDGED
    trigger.acknowledged_by, trigger.acknowledged_at = actor.username, at
    session.add(trigger)
    _audit(session, actor, "trigger.acknowledged", trigger, at, "acknowledged", "open")


def _close_items(
    session: Session,
    trigger: m.Trigger,
    items: list[m.FollowUpItem],
    course: Course,
    actor: Actor,
    clock: _Clock,
) -> int:
    """The escalation items done on the day the board met (or the scan was done), recorded by
    the navigator; their window counted from the finding, as it was when it was recorded."""
    for item in items:
        span = item.latest - item.earliest
        item.earliest = trigger.detected_on
        item.target = item.latest = trigger.detected_on + span
        item.state = m.ItemState.DONE
        item.completed_on = min(course.acted_on, item.latest)
        item.outcome_note = HISTORY_NOTE
        item.created_at = clock.at(trigger.detected_on)
        item.updated_at = _not_before(clock.at(item.completed_on), trigger.acknowledged_at)
        session.add(item)
        event = audit(
            session,
            actor=actor,
            action="item.done",
            patient_id=item.patient_id,
            subject=f"item {item.id}",
            detail=f"{kind_label(item.kind)} done on {item.completed_on}",
            before={"state": "planned"},
            after={"state": "done", "completed_on": item.completed_on},
        )
        event.at = item.updated_at
    return len(items)


def _date_pathway_change(session: Session, patient_id: int, found: dt.date) -> bool:
    """Date the move out of a pathway that planning the demo made today (an episode opened by a
    trigger) on ``found``, the day the first such finding was recorded; True if it moved."""
    moved = session.exec(
        select(m.DiseaseState)
        .where(
            m.DiseaseState.patient_id == patient_id,
            col(m.DiseaseState.reason).startswith("trigger #"),
            col(m.DiseaseState.start_date) > found,
        )
        .order_by(col(m.DiseaseState.start_date), col(m.DiseaseState.id))
    ).first()
    if moved is None:
        return False
    before = session.exec(
        select(m.DiseaseState).where(
            m.DiseaseState.patient_id == patient_id,
            m.DiseaseState.end_date == moved.start_date,
            m.DiseaseState.id != moved.id,
        )
    ).first()
    day = max(found, before.start_date) if before is not None else found
    if before is not None:
        before.end_date = day
        session.add(before)
    moved.start_date = day
    session.add(moved)
    return True


def _therapy_on(session: Session, trigger: m.Trigger) -> m.Therapy | None:
    """The treatment the patient was on when the finding was made (the latest started)."""
    found = trigger.detected_on
    return session.exec(
        select(m.Therapy)
        .where(
            m.Therapy.patient_id == trigger.patient_id,
            col(m.Therapy.started_on) <= found,
            sa.or_(col(m.Therapy.ended_on).is_(None), col(m.Therapy.ended_on) >= found),
            m.Therapy.kind != "surgery",
        )
        .order_by(col(m.Therapy.started_on).desc(), col(m.Therapy.id).desc())
    ).first()


def _resolve(
    session: Session,
    trigger: m.Trigger,
    actor: Actor,
    outcome: str,
    course: Course,
    clock: _Clock,
) -> None:
    at = _not_before(clock.at(course.resolved_on), trigger.acknowledged_at)
    before = trigger.state
    trigger.state = m.TriggerState.RESOLVED
    trigger.resolved_by, trigger.resolved_at, trigger.outcome = actor.username, at, outcome[:300]
    session.add(trigger)
    _audit(session, actor, "trigger.resolved", trigger, at, f"resolved: {outcome}", before)


def _audit(
    session: Session,
    actor: Actor,
    action: str,
    trigger: m.Trigger,
    at: dt.datetime,
    words: str,
    before: str,
) -> None:
    """The audit event the web form would have written, dated when it happened."""
    event = audit(
        session,
        actor=actor,
        action=action,
        patient_id=trigger.patient_id,
        subject=f"trigger {trigger.id}",
        detail=f"trigger {trigger.id}: Trigger {trigger.kind.replace('_', ' ')} {words}",
        before={"state": before},
        after={"state": trigger.state, "outcome": trigger.outcome},
    )
    event.at = at


def _not_before(moment: dt.datetime, earlier: dt.datetime | None) -> dt.datetime:
    """``moment``, moved to ``earlier`` if that is later: nothing follows a finding before it
    was acknowledged. (SQLite hands back UTC times without their zone.)"""
    if earlier is None:
        return moment
    return max(moment, earlier if earlier.tzinfo else earlier.replace(tzinfo=dt.UTC))
