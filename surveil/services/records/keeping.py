"""Entry points behind the patient page's small forms: details (contact, consent, preferences,
date of death), the navigator, the tumour's facts, a pathology report and a disease-state change.

Each names the patient by id (the page's), opens its own transaction, checks that the actor may
see the patient, validates every field (nothing is written otherwise), writes, audits, re-runs the
triggers and the plan, and tells what changed in the plan: the open items before and after, in
the same transaction (``planning.changes``).
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlmodel import Session, select

from surveil.config import Settings
from surveil.db import models as m
from surveil.db.session import session_scope
from surveil.errors import InvalidInput, Problem
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.entry import change
from surveil.services.outcome import Outcome
from surveil.services.planning import care
from surveil.services.planning.changes import PlanChange, compare, open_plan
from surveil.services.records.enrolment import PATIENT_FIELDS, TUMOUR_FIELDS, _changes, _fields
from surveil.services.registry import patients as registry
from surveil.services.registry.patients import PatientInput, TumourInput
from surveil.services.users.accounts import visible_patient

# Writes the change to the patient's record (validating first) and returns its words.
Writer = Callable[[Session, m.Patient], str]


@dataclass(frozen=True)
class KeptOutcome(Outcome):
    """A change to the record and what it did to the plan."""

    plan: PlanChange = field(default_factory=PlanChange)


@change("patient.updated", *care.CONSEQUENCES)
def update_details(
    engine: sa.Engine,
    *,
    actor: Actor,
    patient_id: int,
    data: PatientInput,
    settings: Settings,
    today: dt.date,
) -> KeptOutcome:
    """Contact details, consent and opt-out, language, channel, time zone, date of death: the
    fields given (not None) change; one audit event holds those whose value changed. The
    navigator is not changed here (``reassign_navigator`` is audited on its own)."""
    if data.navigator is not None or data.mrn is not None:
        raise InvalidInput(Problem("navigator", "not changed by this form"), what="patient")

    def write(session: Session, patient: m.Patient) -> str:
        before = _fields(patient, PATIENT_FIELDS)
        registry.update_patient(session, patient=patient, data=data, today=today)
        changed = _changes(before, _fields(patient, PATIENT_FIELDS))
        if changed["after"]:
            audit(
                session,
                actor=actor,
                action="patient.updated",
                patient_id=patient.id,
                subject=f"patient:{patient.id}",
                **changed,
            )
        return str(changed["detail"]).replace("_", " ")

    return _keep(engine, actor, patient_id, write, settings=settings, today=today)


@change("navigator.reassigned", *care.CONSEQUENCES)
def reassign_navigator(
    engine: sa.Engine,
    *,
    actor: Actor,
    patient_id: int,
    navigator: str,
    settings: Settings,
    today: dt.date,
) -> KeptOutcome:
    """Give the patient another owner: an active account of the patient's clinic. A living
    patient always keeps a named navigator (the worklist's safety net is for mistakes)."""

    def write(session: Session, patient: m.Patient) -> str:
        username = navigator.strip()
        user = session.exec(select(m.User).where(m.User.username == username)).first()
        if not username:
            problem = "choose a navigator: every living patient keeps a named one"
        elif user is None or not user.active:
            problem = f"no active user called {username!r}"
        elif user.clinic != patient.clinic:
            problem = f"{username} works for clinic {user.clinic!r}, not {patient.clinic!r}"
        else:
            problem = ""
        if problem or user is None:
            raise InvalidInput(Problem("navigator", problem), what="navigator")
        before = patient.navigator_id
        previous = session.get(m.User, before) if before is not None else None
        patient.navigator_id = user.id
        session.add(patient)
        audit(
            session,
            actor=actor,
            action="navigator.reassigned",
            patient_id=patient.id,
            subject=f"patient:{patient.id}",
            before={"navigator": previous.username if previous else None},
            after={"navigator": user.username},
            detail=f"navigator now {user.username}",
        )
        return f"navigator now {user.display_name or user.username}"

    return _keep(engine, actor, patient_id, write, settings=settings, today=today)


@change("tumour.updated", *care.CONSEQUENCES)
def update_tumour(
    engine: sa.Engine,
    *,
    actor: Actor,
    patient_id: int,
    data: TumourInput,
    settings: Settings,
    today: dt.date,
) -> KeptOutcome:
    """Change the primary tumour's facts (or record it); the WHO grade is re-derived."""

    def write(session: Session, patient: m.Patient) -> str:
        found = session.exec(select(m.Tumour).where(m.Tumour.patient_id == patient.id)).first()
        before = _fields(found, TUMOUR_FIELDS) if found else {}
        tumour = registry.set_tumour(session, patient=patient, data=data, today=today)
        changed = _changes(before, _fields(tumour, TUMOUR_FIELDS))
        audit(
            session,
            actor=actor,
            action="tumour.updated",
            patient_id=patient.id,
            subject=f"tumour:{tumour.id}",
            **changed,
        )
        return "tumour " + str(changed["detail"]).replace("_", " ")

    return _keep(engine, actor, patient_id, write, settings=settings, today=today)


@change("pathology.recorded", *care.CONSEQUENCES)
def record_pathology(
    engine: sa.Engine,
    *,
    actor: Actor,
    patient_id: int,
    date: str | None,
    ki67: str | None,
    mitoses: str | None,
    differentiation: str | None,
    settings: Settings,
    today: dt.date,
) -> KeptOutcome:
    """A pathology report (Ki-67, mitoses, differentiation): the grade it gives counts if it is
    higher than any recorded before."""

    def write(session: Session, patient: m.Patient) -> str:
        row = registry.add_pathology(
            session,
            patient=patient,
            date=date,
            ki67=ki67,
            mitoses=mitoses,
            differentiation=differentiation or None,
            today=today,
        )
        words = f"pathology on {row.date}" + (f" (Ki-67 {row.ki67:g} %)" if row.ki67 else "")
        audit(
            session,
            actor=actor,
            action="pathology.recorded",
            patient_id=patient.id,
            subject=f"pathology:{row.id}",
            after={"date": row.date, "ki67": row.ki67, "mitoses": row.mitoses},
            detail=f"recorded {words}",
        )
        return words

    return _keep(engine, actor, patient_id, write, settings=settings, today=today)


@change("state.set", *care.CONSEQUENCES)
def change_state(
    engine: sa.Engine,
    *,
    actor: Actor,
    patient_id: int,
    kind: str | None,
    since: str | None,
    resection: str | None,
    reason: str,
    settings: Settings,
    today: dt.date,
) -> KeptOutcome:
    """Start a new disease-state episode, with the reason for it (kept in the history)."""

    def write(session: Session, patient: m.Patient) -> str:
        # A missing reason is listed with the other fields' problems; when it is the only one,
        # the episode written below is rolled back with the transaction.
        problems = [] if reason.strip() else [Problem("reason", "say why the state changed")]
        current = registry.current_state(session, patient_id=patient.id)
        try:
            episode = registry.set_state(
                session,
                patient=patient,
                kind=kind,
                since=since,
                resection=resection or None,
                reason=reason,
                today=today,
            )
        except InvalidInput as error:
            raise InvalidInput(problems + error.problems, what="disease state") from None
        if problems:
            raise InvalidInput(problems, what="disease state")
        words = f"state set to {episode.kind.replace('_', ' ')} from {episode.start_date}"
        audit(
            session,
            actor=actor,
            action="state.set",
            patient_id=patient.id,
            subject=f"state:{episode.id}",
            before={"kind": current.kind, "since": current.start_date} if current else None,
            after={"kind": episode.kind, "since": episode.start_date, "reason": episode.reason},
            detail=words,
        )
        return words

    return _keep(engine, actor, patient_id, write, settings=settings, today=today)


def _keep(
    engine: sa.Engine,
    actor: Actor,
    patient_id: int,
    write: Writer,
    *,
    settings: Settings,
    today: dt.date,
) -> KeptOutcome:
    with session_scope(engine) as session:
        patient = visible_patient(session, actor=actor, patient_id=patient_id)
        before = open_plan(session, patient_id)
        words = write(session, patient)
        refresh = care.refresh_patient(
            session, patient=patient, settings=settings, today=today, channel=actor.channel
        )
        return KeptOutcome(
            message=words,
            patient_id=patient_id,
            new_triggers=tuple(t.kind for t in refresh.new_triggers),
            plan=compare(before, open_plan(session, patient_id)),
        )
