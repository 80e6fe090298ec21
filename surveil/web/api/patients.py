"""Patients through the API: search, read, enrol, update, tumour facts, disease states and
results (measurements, markers, therapies), each route one service entry point."""

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from surveil.services.feeds.manage import find_patient
from surveil.services.records import enrolment, results
from surveil.services.registry import result_lists, summaries
from surveil.services.registry.patients import PatientInput, TumourInput
from surveil.services.reminders.history import message_history
from surveil.services.users.api_tokens import TokenHolder
from surveil.web.api import paging
from surveil.web.api.deps import EngineDep, ReaderDep, SettingsDep, TodayDep, WriterDep
from surveil.web.api.problems import READ_RESPONSES, WRITE_RESPONSES
from surveil.web.api.schemas import (
    Changed,
    MarkerOut,
    MeasurementOut,
    MessageOut,
    NewMarker,
    NewMeasurement,
    NewPatient,
    NewState,
    NewTherapy,
    Page,
    PatientDetail,
    PatientFields,
    PatientSummary,
    TherapyOut,
    TumourFields,
    text,
    tumour_text,
)

router = APIRouter(tags=["patients"])

Mrn = Annotated[str, Path(min_length=1, max_length=64, description="The patient's MRN.")]


@router.get("/patients", name="api.patients", responses=READ_RESPONSES)
def search_patients(
    engine: EngineDep,
    holder: ReaderDep,
    q: Annotated[str | None, Query(max_length=100, description="Name part or MRN.")] = None,
    limit: paging.LimitQuery = 50,
    cursor: paging.CursorQuery = None,
) -> Page[PatientSummary]:
    """Patients of the token's clinic by family name (audited as one list view)."""
    position = paging.decode(cursor)
    rows = summaries.find_patients(
        engine,
        actor=holder.actor,
        clinic=holder.actor.clinic,
        search=q.strip() if q and q.strip() else None,
        limit=limit + 1,
        offset=position,
    )
    more = len(rows) > limit
    return Page[PatientSummary](
        items=[PatientSummary(**row) for row in rows[:limit]],
        next_cursor=paging.next_cursor(position, limit, more=more),
    )


@router.post("/patients", name="api.patient_enrol", status_code=201, responses=WRITE_RESPONSES)
def enrol(
    body: NewPatient,
    engine: EngineDep,
    settings: SettingsDep,
    holder: WriterDep,
    today: TodayDep,
) -> PatientSummary:
    """Enrol a patient with their tumour and disease state; triggers and plan are computed."""
    summary = enrolment.enrol_patient(
        engine,
        actor=holder.actor,
        clinic=holder.actor.clinic,
        data=PatientInput(mrn=body.mrn, **_patient_fields(body)),
        tumour=_tumour(body.tumour) if body.tumour else None,
        state_kind=body.state,
        since=body.since,
        resection=body.resection,
        settings=settings,
        today=today,
    )
    return PatientSummary(**summary)


@router.get("/patients/{mrn}", name="api.patient", responses=READ_RESPONSES)
def read_patient(mrn: Mrn, engine: EngineDep, holder: ReaderDep) -> PatientDetail:
    """One patient in full: details, contact, tumour and grade, disease-state history."""
    found = summaries.show_patient(engine, actor=holder.actor, mrn=mrn, clinic=holder.actor.clinic)
    return PatientDetail(**found)


@router.patch("/patients/{mrn}", name="api.patient_update", responses=WRITE_RESPONSES)
def update(
    mrn: Mrn,
    body: PatientFields,
    engine: EngineDep,
    settings: SettingsDep,
    holder: WriterDep,
    today: TodayDep,
) -> PatientSummary:
    """Change the fields sent (the others stay); audited before → after."""
    return _update(engine, settings, holder, today, mrn, PatientInput(**_patient_fields(body)))


@router.put("/patients/{mrn}/tumour", name="api.tumour_update", responses=WRITE_RESPONSES)
def update_tumour(
    mrn: Mrn,
    body: TumourFields,
    engine: EngineDep,
    settings: SettingsDep,
    holder: WriterDep,
    today: TodayDep,
) -> PatientSummary:
    """Set the primary tumour's facts; the WHO grade is re-derived and the plan re-made."""
    return _update(engine, settings, holder, today, mrn, PatientInput(), _tumour(body))


def _update(
    engine: EngineDep,
    settings: SettingsDep,
    holder: TokenHolder,
    today: TodayDep,
    mrn: str,
    data: PatientInput,
    tumour: TumourInput | None = None,
) -> PatientSummary:
    summary = enrolment.update_patient(
        engine,
        actor=holder.actor,
        mrn=mrn,
        clinic=holder.actor.clinic,
        data=data,
        tumour=tumour,
        settings=settings,
        today=today,
    )
    return PatientSummary(**summary)


@router.post(
    "/patients/{mrn}/states", name="api.state_set", status_code=201, responses=WRITE_RESPONSES
)
def set_state(
    mrn: Mrn,
    body: NewState,
    engine: EngineDep,
    settings: SettingsDep,
    holder: WriterDep,
    today: TodayDep,
) -> PatientSummary:
    """Start a new disease-state episode (the current one ends that day)."""
    summary = enrolment.set_disease_state(
        engine,
        actor=holder.actor,
        mrn=mrn,
        clinic=holder.actor.clinic,
        kind=body.kind,
        since=body.since,
        resection=body.resection,
        reason=body.reason,
        settings=settings,
        today=today,
    )
    return PatientSummary(**summary)


@router.post(
    "/patients/{mrn}/measurements",
    name="api.measurement_add",
    status_code=201,
    responses=WRITE_RESPONSES,
)
def add_measurement(
    mrn: Mrn,
    body: NewMeasurement,
    engine: EngineDep,
    settings: SettingsDep,
    holder: WriterDep,
    today: TodayDep,
) -> Changed:
    """A lesion's diameter on a scan; growth triggers and the plan are re-evaluated."""
    outcome = results.record_measurement(
        engine,
        actor=holder.actor,
        mrn=mrn,
        clinic=holder.actor.clinic,
        lesion=body.lesion,
        date=body.date,
        diameter_mm=text(body.diameter_mm),
        modality=body.modality,
        settings=settings,
        today=today,
    )
    return Changed(message=outcome.message, new_triggers=list(outcome.new_triggers))


@router.post(
    "/patients/{mrn}/markers", name="api.marker_add", status_code=201, responses=WRITE_RESPONSES
)
def add_marker(
    mrn: Mrn,
    body: NewMarker,
    engine: EngineDep,
    settings: SettingsDep,
    holder: WriterDep,
    today: TodayDep,
) -> Changed:
    """A tumour-marker result (CgA, 5-HIAA, ...); marker triggers and the plan re-evaluated."""
    outcome = results.record_marker(
        engine,
        actor=holder.actor,
        mrn=mrn,
        clinic=holder.actor.clinic,
        name=body.name,
        value=text(body.value),
        date=body.date,
        unit=body.unit,
        uln=text(body.uln),
        on_ppi=body.on_ppi,
        settings=settings,
        today=today,
    )
    return Changed(message=outcome.message, new_triggers=list(outcome.new_triggers))


@router.post(
    "/patients/{mrn}/therapies",
    name="api.therapy_add",
    status_code=201,
    responses=WRITE_RESPONSES,
)
def add_therapy(
    mrn: Mrn,
    body: NewTherapy,
    engine: EngineDep,
    settings: SettingsDep,
    holder: WriterDep,
    today: TodayDep,
) -> Changed:
    """A therapy started (somatostatin analogue, PRRT, ...); the plan follows it."""
    outcome = results.record_therapy(
        engine,
        actor=holder.actor,
        mrn=mrn,
        clinic=holder.actor.clinic,
        kind=body.kind,
        started_on=body.started_on,
        agent=body.agent,
        ended_on=body.ended_on,
        cycles_given=text(body.cycles_given),
        last_given_on=body.last_given_on,
        settings=settings,
        today=today,
    )
    return Changed(message=outcome.message, new_triggers=list(outcome.new_triggers))


def _patient_fields(body: PatientFields) -> dict[str, Any]:
    return {name: getattr(body, name) for name in PatientFields.model_fields}


def _tumour(body: TumourFields) -> TumourInput:
    fields = TumourFields.model_fields
    return TumourInput(**{name: tumour_text(getattr(body, name)) for name in fields})


def _results(
    engine: EngineDep, holder: TokenHolder, mrn: str, kind: str, position: int, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    rows = result_lists.read_results(
        engine, actor=holder.actor, mrn=mrn, clinic=holder.actor.clinic, kind=kind
    )
    shown, after = paging.page_of(rows, position, limit)
    return list(shown), after


@router.get("/patients/{mrn}/measurements", name="api.measurements", responses=READ_RESPONSES)
def measurements(
    mrn: Mrn,
    engine: EngineDep,
    holder: ReaderDep,
    limit: paging.LimitQuery = 50,
    cursor: paging.CursorQuery = None,
) -> Page[MeasurementOut]:
    """Lesion diameters, oldest first (audited view)."""
    rows, after = _results(engine, holder, mrn, "measurements", paging.decode(cursor), limit)
    return Page[MeasurementOut](items=[MeasurementOut(**r) for r in rows], next_cursor=after)


@router.get("/patients/{mrn}/markers", name="api.markers", responses=READ_RESPONSES)
def markers(
    mrn: Mrn,
    engine: EngineDep,
    holder: ReaderDep,
    limit: paging.LimitQuery = 50,
    cursor: paging.CursorQuery = None,
) -> Page[MarkerOut]:
    """Marker results, oldest first (audited view)."""
    rows, after = _results(engine, holder, mrn, "markers", paging.decode(cursor), limit)
    return Page[MarkerOut](items=[MarkerOut(**r) for r in rows], next_cursor=after)


@router.get("/patients/{mrn}/therapies", name="api.therapies", responses=READ_RESPONSES)
def therapies(
    mrn: Mrn,
    engine: EngineDep,
    holder: ReaderDep,
    limit: paging.LimitQuery = 50,
    cursor: paging.CursorQuery = None,
) -> Page[TherapyOut]:
    """Therapies, oldest first (audited view)."""
    rows, after = _results(engine, holder, mrn, "therapies", paging.decode(cursor), limit)
    return Page[TherapyOut](items=[TherapyOut(**r) for r in rows], next_cursor=after)


@router.get("/patients/{mrn}/messages", name="api.messages", responses=READ_RESPONSES)
def messages(
    mrn: Mrn,
    engine: EngineDep,
    holder: ReaderDep,
    limit: paging.LimitQuery = 50,
    cursor: paging.CursorQuery = None,
) -> Page[MessageOut]:
    """Every reminder to the patient, newest first: channel, state, why it was not sent, each
    attempt, and the patient's reply (audited view; no address and no message body)."""
    position = paging.decode(cursor)
    patient_id = find_patient(engine, actor=holder.actor, mrn=mrn, clinic=holder.actor.clinic)
    entries = message_history(engine, actor=holder.actor, patient_id=patient_id)
    shown, after = paging.page_of(entries, position, limit)
    return Page[MessageOut](
        items=[MessageOut(**dataclasses.asdict(entry)) for entry in shown], next_cursor=after
    )
