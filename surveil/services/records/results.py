"""Entry points for recording a result: a measurement, a marker, a pathology report, a therapy or a
symptom. Each records one row and re-evaluates the patient's triggers and plan in the same
transaction, with one audit event naming the new row and its values (the consequences, a new
trigger or a change of disease state, are audited by ``services.triggers.escalation``)."""

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session

from surveil.config import Settings
from surveil.db import models as m
from surveil.db.session import session_scope
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.entry import change
from surveil.services.outcome import Outcome
from surveil.services.planning import care
from surveil.services.records.plan_diff import open_plan, plan_changes
from surveil.services.registry import patients as registry
from surveil.services.registry.access import patient_by_mrn
from surveil.services.users.accounts import visible_patient

# Writes (and audits) one change for the patient and returns the words for the person who typed it.
Recorder = Callable[[Session, Actor, m.Patient], str]


@change("measurement.recorded", *care.CONSEQUENCES)
def record_measurement(
    engine: sa.Engine,
    *,
    actor: Actor,
    mrn: str = "",
    clinic: str = "",
    patient_id: int | None = None,
    lesion: str | None,
    date: str | None,
    diameter_mm: str | None,
    modality: str | None,
    settings: Settings,
    today: dt.date,
) -> Outcome:
    def add(session: Session, actor: Actor, patient: m.Patient) -> str:
        row = registry.add_measurement(
            session,
            patient=patient,
            lesion=lesion,
            date=date,
            diameter_mm=diameter_mm,
            modality=modality,
            today=today,
        )
        return "recorded " + audit_measurement(session, actor=actor, patient=patient, row=row)

    where = Which(mrn=mrn, clinic=clinic, patient_id=patient_id)
    return record_and_replan(engine, actor, where, add, settings=settings, today=today)


@change("marker.recorded", *care.CONSEQUENCES)
def record_marker(
    engine: sa.Engine,
    *,
    actor: Actor,
    mrn: str = "",
    clinic: str = "",
    patient_id: int | None = None,
    name: str | None,
    value: str | None,
    date: str | None,
    unit: str = "",
    uln: str | None = None,
    on_ppi: bool = False,
    settings: Settings,
    today: dt.date,
) -> Outcome:
    def add(session: Session, actor: Actor, patient: m.Patient) -> str:
        row = registry.add_marker(
            session,
            patient=patient,
            name=name,
            value=value,
            date=date,
            unit=unit,
            uln=uln,
            on_ppi=on_ppi,
            today=today,
        )
        return "recorded " + audit_marker(session, actor=actor, row=row)

    where = Which(mrn=mrn, clinic=clinic, patient_id=patient_id)
    return record_and_replan(engine, actor, where, add, settings=settings, today=today)


@change("pathology.recorded", *care.CONSEQUENCES)
def record_pathology(
    engine: sa.Engine,
    *,
    actor: Actor,
    mrn: str = "",
    clinic: str = "",
    patient_id: int | None = None,
    date: str | None,
    ki67: str | None,
    mitoses: str | None,
    differentiation: str | None = None,
    settings: Settings,
    today: dt.date,
) -> Outcome:
    def add(session: Session, actor: Actor, patient: m.Patient) -> str:
        row = registry.add_pathology(
            session,
            patient=patient,
            date=date,
            ki67=ki67,
            mitoses=mitoses,
            differentiation=differentiation,
            today=today,
        )
        words = f"pathology on {row.date}"
        after = {"date": row.date, "ki67": row.ki67, "mitoses": row.mitoses}
        _audit_row(session, actor, "pathology", row.patient_id, row.id, after, words)
        return "recorded " + words

    where = Which(mrn=mrn, clinic=clinic, patient_id=patient_id)
    return record_and_replan(engine, actor, where, add, settings=settings, today=today)


@change("therapy.recorded", *care.CONSEQUENCES)
def record_therapy(
    engine: sa.Engine,
    *,
    actor: Actor,
    mrn: str = "",
    clinic: str = "",
    patient_id: int | None = None,
    kind: str | None,
    started_on: str | None,
    agent: str | None = None,
    ended_on: str | None = None,
    cycles_given: str | None = None,
    last_given_on: str | None = None,
    resection: str | None = None,
    settings: Settings,
    today: dt.date,
) -> Outcome:
    def add(session: Session, actor: Actor, patient: m.Patient) -> str:
        row = registry.add_therapy(
            session,
            patient=patient,
            kind=kind,
            started_on=started_on,
            agent=agent,
            ended_on=ended_on,
            cycles_given=cycles_given,
            last_given_on=last_given_on,
            resection=resection,
            today=today,
        )
        words = f"{row.kind} from {row.started_on}" + (
            f" ({row.resection})" if row.resection else ""
        )
        after = {
            "kind": row.kind,
            "agent": row.agent,
            "started_on": row.started_on,
            "cycles_given": row.cycles_given,
            "last_given_on": row.last_given_on,
            "resection": row.resection,
        }
        _audit_row(session, actor, "therapy", row.patient_id, row.id, after, words)
        return "recorded " + words

    where = Which(mrn=mrn, clinic=clinic, patient_id=patient_id)
    return record_and_replan(engine, actor, where, add, settings=settings, today=today)


@change("symptom.recorded", *care.CONSEQUENCES)
def record_symptom(
    engine: sa.Engine,
    *,
    actor: Actor,
    mrn: str = "",
    clinic: str = "",
    patient_id: int | None = None,
    date: str | None,
    description: str | None,
    settings: Settings,
    today: dt.date,
) -> Outcome:
    def add(session: Session, actor: Actor, patient: m.Patient) -> str:
        row = registry.add_symptom(
            session, patient=patient, date=date, description=description, today=today
        )
        words = f"symptom on {row.date}"
        after = {"date": row.date, "description": row.description}
        _audit_row(session, actor, "symptom", row.patient_id, row.id, after, words)
        return "recorded " + words

    where = Which(mrn=mrn, clinic=clinic, patient_id=patient_id)
    return record_and_replan(engine, actor, where, add, settings=settings, today=today)


@dataclass(frozen=True)
class Which:
    """The patient a change is for: by MRN in a clinic (the CLI) or by id (the patient page)."""

    mrn: str = ""
    clinic: str = ""
    patient_id: int | None = None


def find_patient(session: Session, actor: Actor, where: Which) -> m.Patient:
    if where.patient_id is not None:
        return visible_patient(session, actor=actor, patient_id=where.patient_id)
    return patient_by_mrn(session, actor=actor, mrn=where.mrn, clinic=where.clinic)


def record_and_replan(
    engine: sa.Engine,
    actor: Actor,
    where: Which,
    add: Recorder,
    *,
    settings: Settings,
    today: dt.date,
) -> Outcome:
    """The shape every change to a patient's results shares: find the patient (refusing another
    clinic's), write through ``add`` (which validates and audits), re-run triggers and the plan,
    and say what changed in the plan, all in one transaction."""
    with session_scope(engine) as session:
        patient = find_patient(session, actor, where)
        pid = patient.id or 0
        before = open_plan(session, pid)
        words = add(session, actor, patient)
        refresh = care.refresh_patient(
            session, patient=patient, settings=settings, today=today, channel=actor.channel
        )
        return Outcome(
            message=words,
            patient_id=pid,
            new_triggers=tuple(t.kind for t in refresh.new_triggers),
            plan_changes=plan_changes(before, open_plan(session, pid)),
        )


# --------------------------------------------------------------------------- shared audit words


def audit_measurement(
    session: Session, *, actor: Actor, patient: m.Patient, row: m.Measurement
) -> str:
    """Audit a stored measurement (also recorded by the worklist's 'done'); returns its words."""
    lesion = session.get(m.Lesion, row.lesion_id)
    label = lesion.label if lesion else "?"
    words = f"{label} {row.diameter_mm:g} mm on {row.date} ({row.modality})"
    after = {"lesion": label, "date": row.date, "mm": row.diameter_mm, "modality": row.modality}
    _audit_row(session, actor, "measurement", patient.id or 0, row.id, after, words)
    return words


def audit_marker(session: Session, *, actor: Actor, row: m.MarkerResult) -> str:
    """Audit a stored marker result (also recorded by the worklist's 'done'); returns its words."""
    words = f"{row.name} {row.value:g} {row.unit}".rstrip() + f" on {row.date}"
    after = {"name": row.name, "value": row.value, "unit": row.unit, "date": row.date}
    _audit_row(session, actor, "marker", row.patient_id, row.id, after, words)
    return words


def _audit_row(
    session: Session,
    actor: Actor,
    what: str,
    patient_id: int,
    row_id: int | None,
    after: Mapping[str, object],
    words: str,
) -> None:
    audit(
        session,
        actor=actor,
        action=f"{what}.recorded",
        patient_id=patient_id,
        subject=f"{what}:{row_id}",
        after=after,
        detail=f"recorded {words}",
    )
