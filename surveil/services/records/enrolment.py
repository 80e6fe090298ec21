"""Entry points for a patient's identity and disease: enrol, update (details and tumour facts), and
start a new disease-state episode.

Each one opens its own transaction, checks that the actor may touch the patient, validates every
field (``InvalidInput`` lists all problems and nothing is written), writes, re-evaluates triggers
and the plan (``care.refresh_patient``), and records its audit event in the same transaction.
"""

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from surveil.config import Settings
from surveil.db import models as m
from surveil.db.session import session_scope
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.entry import change
from surveil.services.planning import care
from surveil.services.registry import patients as registry
from surveil.services.registry.access import patient_by_mrn, require_clinic
from surveil.services.registry.patients import PatientInput, TumourInput
from surveil.services.registry.summaries import summarise
from surveil.services.registry.tumour_details import DETAIL_FIELDS

# What an update may change, as recorded before → after (the MRN and clinic never change).
PATIENT_FIELDS = frozenset(
    {
        "given_name",
        "family_name",
        "birth_date",
        "sex",
        "timezone",
        "email",
        "phone",
        "preferred_channel",
        "hereditary",
        "deceased_on",
        "opted_out",
        "navigator_id",
        "language",
        "consent_reminders",
    }
)
TUMOUR_FIELDS = frozenset(
    {
        "site",
        "differentiation",
        "ki67",
        "mitoses",
        "grade",
        "stage",
        "size_mm",
        "sstr_status",
        "sstr_date",
        "sstr_method",
        "functional",
        "diagnosed_on",
        *DETAIL_FIELDS,
    }
)


@change("patient.enrolled", *care.CONSEQUENCES)
def enrol_patient(
    engine: sa.Engine,
    *,
    actor: Actor,
    clinic: str,
    data: PatientInput,
    tumour: TumourInput | None,
    state_kind: str | None,
    since: str | None,
    resection: str | None,
    settings: Settings,
    today: dt.date,
    require_navigator: bool = False,
) -> dict[str, Any]:
    """Enrol a patient with their tumour and disease state; returns the patient's summary.
    The web's form passes ``require_navigator`` (every active patient has a named owner)."""
    require_clinic(actor, clinic)
    with session_scope(engine) as session:
        patient = enrol(
            session,
            actor=actor,
            clinic=clinic,
            data=data,
            tumour=tumour,
            state_kind=state_kind,
            since=since,
            resection=resection,
            settings=settings,
            today=today,
            require_navigator=require_navigator,
        )
        # The id lets the web open the new patient's page.
        return {**summarise(session, patient), "id": patient.id}


def enrol(
    session: Session,
    *,
    actor: Actor,
    clinic: str,
    data: PatientInput,
    tumour: TumourInput | None,
    state_kind: str | None,
    since: str | None,
    resection: str | None,
    settings: Settings,
    today: dt.date,
    require_navigator: bool = False,
) -> m.Patient:
    """:func:`enrol_patient` inside the caller's transaction (the HL7 feed's ADT enrolment of
    an unknown patient, when configured, is applied in the message's own transaction)."""
    patient = registry.enrol_patient(
        session,
        clinic=clinic,
        data=data,
        tumour=tumour,
        state_kind=state_kind,
        since=since,
        resection=resection,
        today=today,
        require_navigator=require_navigator,
    )
    audit(
        session,
        actor=actor,
        action="patient.enrolled",
        patient_id=patient.id,
        subject=f"patient:{patient.id}",
        after={"mrn": patient.mrn, "clinic": clinic, "state": state_kind},
        detail=f"enrolled (MRN {patient.mrn})",
    )
    care.refresh_patient(
        session, patient=patient, settings=settings, today=today, channel=actor.channel
    )
    return patient


@change("patient.updated", "tumour.updated", *care.CONSEQUENCES)
def update_patient(
    engine: sa.Engine,
    *,
    actor: Actor,
    mrn: str,
    clinic: str,
    data: PatientInput,
    tumour: TumourInput | None,
    settings: Settings,
    today: dt.date,
) -> dict[str, Any]:
    """Change a patient's details and, if given, the tumour's facts: one audit event for each
    part given, holding only the fields that changed (before → after)."""
    with session_scope(engine) as session:
        patient = patient_by_mrn(session, actor=actor, mrn=mrn, clinic=clinic)
        before = _fields(patient, PATIENT_FIELDS)
        registry.update_patient(session, patient=patient, data=data, today=today)
        if any(value is not None for value in vars(data).values()):
            audit(
                session,
                actor=actor,
                action="patient.updated",
                patient_id=patient.id,
                subject=f"patient:{patient.id}",
                **_changes(before, _fields(patient, PATIENT_FIELDS)),
            )
        if tumour is not None:
            _update_tumour(session, actor=actor, patient=patient, data=tumour, today=today)
        care.refresh_patient(
            session, patient=patient, settings=settings, today=today, channel=actor.channel
        )
        return summarise(session, patient)


def _update_tumour(
    session: Session, *, actor: Actor, patient: m.Patient, data: TumourInput, today: dt.date
) -> None:
    found = session.exec(select(m.Tumour).where(m.Tumour.patient_id == patient.id)).first()
    before = _fields(found, TUMOUR_FIELDS) if found else {}
    tumour = registry.set_tumour(session, patient=patient, data=data, today=today)
    audit(
        session,
        actor=actor,
        action="tumour.updated",
        patient_id=patient.id,
        subject=f"tumour:{tumour.id}",
        **_changes(before, _fields(tumour, TUMOUR_FIELDS)),
    )


@change("state.set", *care.CONSEQUENCES)
def set_disease_state(
    engine: sa.Engine,
    *,
    actor: Actor,
    mrn: str,
    clinic: str,
    kind: str | None,
    since: str | None,
    resection: str | None,
    reason: str,
    settings: Settings,
    today: dt.date,
) -> dict[str, Any]:
    """Start a new disease-state episode; the current one ends that day (history is kept)."""
    with session_scope(engine) as session:
        patient = patient_by_mrn(session, actor=actor, mrn=mrn, clinic=clinic)
        set_state(
            session,
            actor=actor,
            patient=patient,
            kind=kind,
            since=since,
            resection=resection,
            reason=reason,
            settings=settings,
            today=today,
        )
        return summarise(session, patient)


def set_state(
    session: Session,
    *,
    actor: Actor,
    patient: m.Patient,
    kind: str | None,
    since: str | None,
    resection: str | None,
    reason: str,
    settings: Settings,
    today: dt.date,
) -> m.DiseaseState:
    """:func:`set_disease_state` inside the caller's transaction (the HL7 feed's A03 when
    ``[hl7] a03 = "discharge"``)."""
    current = registry.current_state(session, patient_id=patient.id)
    episode = registry.set_state(
        session,
        patient=patient,
        kind=kind,
        since=since,
        resection=resection,
        reason=reason,
        today=today,
    )
    audit(
        session,
        actor=actor,
        action="state.set",
        patient_id=patient.id,
        subject=f"state:{episode.id}",
        before={"kind": current.kind, "since": current.start_date} if current else None,
        after={"kind": episode.kind, "since": episode.start_date, "reason": episode.reason},
        detail=f"state set to {episode.kind.replace('_', ' ')} from {episode.start_date}",
    )
    care.refresh_patient(
        session, patient=patient, settings=settings, today=today, channel=actor.channel
    )
    return episode


def _fields(row: m.Patient | m.Tumour, names: frozenset[str]) -> dict[str, Any]:
    return row.model_dump(include=set(names))


def _changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The audit's before, after and detail, reduced to the fields whose value changed."""
    keys = sorted(k for k in after if before.get(k) != after[k])
    return {
        "before": {k: before.get(k) for k in keys},
        "after": {k: after[k] for k in keys},
        "detail": "changed: " + (", ".join(keys) or "nothing"),
    }
