"""One import row applied through the registry's building blocks (the same checks as the
forms), after a look-up by its natural key: a row already stored with the same values is
skipped, so re-importing a file changes nothing; the same key with other values is a problem.

Natural keys: a patient by MRN (in the clinic); a measurement by patient + lesion + date; a
marker by patient + marker + date; a pathology report by patient + date; a therapy by
patient + kind + start date.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, select

from surveil.db import models as m
from surveil.errors import InvalidInput, Problem
from surveil.services.actor import Actor
from surveil.services.registry import patients as registry
from surveil.services.registry.access import patient_by_mrn
from surveil.services.registry.patients import PatientInput, TumourInput
from surveil.services.registry.tumour_details import DETAIL_FIELDS


@dataclass
class Applied:
    patient: m.Patient
    created: list[tuple[str, int]] = field(default_factory=list)  # (table, id), in order made
    new_patient: bool = False

    @property
    def skipped(self) -> bool:
        return not self.created


Cells = dict[str, str]
Applier = Callable[[Session, Actor, str, Cells, dt.date], Applied]


def _iso(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def _number(value: str) -> float | None:
    try:
        return float(value.replace(",", "."))
    except ValueError:
        return None


def _differs(column: str, stored: object) -> InvalidInput:
    return InvalidInput(
        Problem(column, f"differs from the value already stored for this key ({stored})")
    )


def _patient(session: Session, actor: Actor, clinic: str, cells: Cells) -> m.Patient:
    """The row's patient, looked up once per import (the session lives as long as the import;
    a refusal is not kept, so each of its rows is reported)."""
    mrn = cells.get("mrn", "")
    known: dict[str, m.Patient] = session.info.setdefault("import_patients", {})
    if mrn not in known:
        known[mrn] = patient_by_mrn(session, actor=actor, mrn=mrn, clinic=clinic)
    return known[mrn]


def _id(row: object) -> int:
    value = getattr(row, "id", None)
    assert isinstance(value, int)
    return value


def measurement(
    session: Session, actor: Actor, clinic: str, cells: Cells, today: dt.date
) -> Applied:
    patient = _patient(session, actor, clinic, cells)
    label, day = cells.get("lesion", ""), _iso(cells.get("date", ""))
    lesion = session.exec(
        select(m.Lesion).where(m.Lesion.patient_id == patient.id, m.Lesion.label == label)
    ).first()
    if lesion is not None and day is not None:
        stored = session.exec(
            select(m.Measurement).where(
                m.Measurement.lesion_id == lesion.id, m.Measurement.date == day
            )
        ).first()
        if stored is not None:
            if _number(cells.get("diameter_mm", "")) != stored.diameter_mm:
                raise _differs("diameter_mm", f"{stored.diameter_mm:g} mm")
            return Applied(patient)
    row = registry.add_measurement(
        session,
        patient=patient,
        lesion=label,
        date=cells.get("date"),
        diameter_mm=cells.get("diameter_mm"),
        modality=cells.get("modality"),
        today=today,
    )
    made = [] if lesion is not None else [("lesion", row.lesion_id)]
    return Applied(patient, [*made, ("measurement", _id(row))])


def marker(session: Session, actor: Actor, clinic: str, cells: Cells, today: dt.date) -> Applied:
    patient = _patient(session, actor, clinic, cells)
    name, day = cells.get("marker", "").strip().lower(), _iso(cells.get("date", ""))
    stored = session.exec(
        select(m.MarkerResult).where(
            m.MarkerResult.patient_id == patient.id,
            m.MarkerResult.name == name,
            m.MarkerResult.date == day,
        )
    ).first()
    if stored is not None:
        if _number(cells.get("value", "")) != stored.value:
            raise _differs("value", f"{stored.value:g}")
        return Applied(patient)
    try:
        row = registry.add_marker(
            session,
            patient=patient,
            name=name,
            value=cells.get("value"),
            date=cells.get("date"),
            unit=cells.get("unit", ""),
            uln=cells.get("uln") or None,
            on_ppi=cells.get("on_ppi", "").lower() in {"yes", "true", "1", "y"},
            today=today,
        )
    except InvalidInput as error:  # the registry calls the marker's column "name"
        renamed = [
            Problem("marker" if p.field == "name" else p.field, p.message) for p in error.problems
        ]
        raise InvalidInput(renamed) from error
    return Applied(patient, [("marker_result", _id(row))])


def pathology(session: Session, actor: Actor, clinic: str, cells: Cells, today: dt.date) -> Applied:
    patient = _patient(session, actor, clinic, cells)
    day = _iso(cells.get("date", ""))
    stored = session.exec(
        select(m.PathologyResult).where(
            m.PathologyResult.patient_id == patient.id, m.PathologyResult.date == day
        )
    ).first()
    if stored is not None:
        if _number(cells.get("ki67", "")) != stored.ki67:
            raise _differs("ki67", stored.ki67)
        return Applied(patient)
    row = registry.add_pathology(
        session,
        patient=patient,
        date=cells.get("date"),
        ki67=cells.get("ki67") or None,
        mitoses=cells.get("mitoses") or None,
        differentiation=cells.get("differentiation") or None,
        today=today,
    )
    return Applied(patient, [("pathology_result", _id(row))])


def therapy(session: Session, actor: Actor, clinic: str, cells: Cells, today: dt.date) -> Applied:
    patient = _patient(session, actor, clinic, cells)
    kind, day = cells.get("kind", "").strip().lower(), _iso(cells.get("started_on", ""))
    stored = session.exec(
        select(m.Therapy).where(
            m.Therapy.patient_id == patient.id, m.Therapy.kind == kind, m.Therapy.started_on == day
        )
    ).first()
    if stored is not None:
        return Applied(patient)
    row = registry.add_therapy(
        session,
        patient=patient,
        kind=kind,
        started_on=cells.get("started_on"),
        agent=cells.get("agent") or None,
        ended_on=cells.get("ended_on") or None,
        cycles_given=cells.get("cycles_given") or None,
        last_given_on=cells.get("last_given_on") or None,
        today=today,
    )
    return Applied(patient, [("therapy", _id(row))])


PATIENT_COLUMNS = ("given_name", "family_name", "birth_date", "sex", "timezone", "email",
                   "phone", "preferred_channel", "hereditary", "navigator")  # fmt: skip
TUMOUR_COLUMNS = ("site", "differentiation", "ki67", "mitoses", "stage", "size_mm",
                  "functional", "diagnosed_on", *DETAIL_FIELDS)  # fmt: skip


def patient(session: Session, _actor: Actor, clinic: str, cells: Cells, today: dt.date) -> Applied:
    """A new patient (the clinic was checked for the actor by the entry point)."""
    mrn = cells.get("mrn", "")
    stored = session.exec(
        select(m.Patient).where(m.Patient.clinic == clinic, m.Patient.mrn == mrn)
    ).first()
    if stored is not None:
        same = (stored.family_name, stored.given_name, str(stored.birth_date)) == (
            cells.get("family_name"),
            cells.get("given_name"),
            cells.get("birth_date"),
        )
        if not same:
            raise InvalidInput(
                Problem("mrn", "is already a patient with another name or birth date")
            )
        return Applied(stored)
    fields: dict[str, Any] = {c: cells.get(c) or None for c in PATIENT_COLUMNS}
    data = PatientInput(mrn=mrn, **fields)
    tumour = TumourInput(**{c: cells.get(c) or None for c in TUMOUR_COLUMNS})
    row = registry.enrol_patient(
        session,
        clinic=clinic,
        data=data,
        tumour=tumour,
        state_kind=cells.get("state"),
        since=cells.get("since"),
        resection=cells.get("resection") or None,
        today=today,
    )
    return Applied(row, [("patient", _id(row))], new_patient=True)


APPLIERS: dict[str, Applier] = {
    "patients": patient,
    "pathology": pathology,
    "measurements": measurement,
    "markers": marker,
    "therapies": therapy,
}
# The tables a rollback deletes from, children before parents.
DELETE_ORDER = ("measurement", "lesion", "marker_result", "pathology_result", "therapy", "patient")
TABLES = {
    "measurement": m.Measurement,
    "lesion": m.Lesion,
    "marker_result": m.MarkerResult,
    "pathology_result": m.PathologyResult,
    "therapy": m.Therapy,
    "patient": m.Patient,
}
