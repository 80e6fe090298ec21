"""What the FHIR export reads: each patient's rows, many patients at a time.

One query per table for a whole batch of patients (``--all`` over a large registry must not
cost a dozen round trips per patient), then grouped by patient in memory.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlmodel import Session, col, select

from surveil.db import models as m

BATCH = 500  # patients per round of queries: well under every driver's parameter limit

Row = TypeVar("Row", m.Tumour, m.DiseaseState, m.MarkerResult, m.FollowUpItem)


@dataclass(frozen=True)
class LesionRows:
    lesion: m.Lesion
    measurements: tuple[m.Measurement, ...]  # oldest first


@dataclass(frozen=True)
class PatientRows:
    """One patient's record as the export needs it."""

    patient: m.Patient
    navigator: m.User | None
    tumour: m.Tumour | None
    state: m.DiseaseState | None  # the current episode (no end date)
    lesions: tuple[LesionRows, ...]
    markers: tuple[m.MarkerResult, ...]  # by name, then oldest first
    open_items: tuple[m.FollowUpItem, ...]  # by window start

    @property
    def patient_id(self) -> int:
        assert self.patient.id is not None
        return self.patient.id


def read_patients(session: Session, patients: Sequence[m.Patient]) -> list[PatientRows]:
    """The rows of ``patients``, in the order given."""
    out: list[PatientRows] = []
    for start in range(0, len(patients), BATCH):
        out += _read_batch(session, list(patients[start : start + BATCH]))
    return out


def _read_batch(session: Session, patients: list[m.Patient]) -> Iterator[PatientRows]:
    ids = [p.id for p in patients if p.id is not None]
    tumours = {t.patient_id: t for t in _of(session, m.Tumour, ids)}
    states = _grouped(_of(session, m.DiseaseState, ids, m.DiseaseState.start_date))
    markers = _grouped(
        # A struck-out result was entered in error: it leaves surveil with no other system.
        [
            r
            for r in _of(session, m.MarkerResult, ids, m.MarkerResult.name, m.MarkerResult.date)
            if r.struck_out_at is None
        ]
    )
    items = _grouped(_open_items(session, ids))
    lesions = _lesions(session, ids)
    navigators = _navigators(session, {p.navigator_id for p in patients if p.navigator_id})
    for patient in patients:
        pid = patient.id or 0
        yield PatientRows(
            patient=patient,
            navigator=navigators.get(patient.navigator_id or 0),
            tumour=tumours.get(pid),
            state=next((s for s in states.get(pid, ()) if s.end_date is None), None),
            lesions=lesions.get(pid, ()),
            markers=tuple(markers.get(pid, ())),
            open_items=tuple(items.get(pid, ())),
        )


def _of(session: Session, table: type[Row], ids: list[int], *order: Any) -> list[Row]:
    query = select(table).where(col(table.patient_id).in_(ids)).order_by(*order, col(table.id))
    return list(session.exec(query).all())


def _grouped(rows: list[Row]) -> dict[int, list[Row]]:
    grouped: dict[int, list[Row]] = {}
    for row in rows:
        grouped.setdefault(row.patient_id, []).append(row)
    return grouped


def _open_items(session: Session, ids: list[int]) -> list[m.FollowUpItem]:
    query = (
        select(m.FollowUpItem)
        .where(
            col(m.FollowUpItem.patient_id).in_(ids),
            col(m.FollowUpItem.state).in_([s.value for s in m.OPEN_ITEM_STATES]),
        )
        .order_by(col(m.FollowUpItem.earliest), col(m.FollowUpItem.id))
    )
    return list(session.exec(query).all())


def _lesions(session: Session, ids: list[int]) -> dict[int, tuple[LesionRows, ...]]:
    query = (
        select(m.Lesion, m.Measurement)
        .join(m.Measurement, col(m.Measurement.lesion_id) == m.Lesion.id)
        .where(col(m.Lesion.patient_id).in_(ids), col(m.Measurement.struck_out_at).is_(None))
        .order_by(col(m.Lesion.label), col(m.Measurement.date), col(m.Measurement.id))
    )
    series: dict[int, tuple[m.Lesion, list[m.Measurement]]] = {}
    for lesion, measurement in session.exec(query):
        series.setdefault(lesion.id or 0, (lesion, []))[1].append(measurement)
    grouped: dict[int, list[LesionRows]] = {}
    for lesion, measurements in series.values():
        grouped.setdefault(lesion.patient_id, []).append(LesionRows(lesion, tuple(measurements)))
    return {pid: tuple(rows) for pid, rows in grouped.items()}


def _navigators(session: Session, ids: set[int]) -> dict[int, m.User]:
    if not ids:
        return {}
    users = session.exec(select(m.User).where(col(m.User.id).in_(sorted(ids)))).all()
    return {user.id or 0: user for user in users}


def patients_by_id(session: Session, ids: Sequence[int]) -> list[m.Patient]:
    """The patients with these ids, in id order (one query)."""
    if not ids:
        return []
    query = select(m.Patient).where(col(m.Patient.id).in_(ids)).order_by(col(m.Patient.id))
    return list(session.exec(query).all())


def visible_patient_ids(session: Session, *, clinic: str | None) -> list[int]:
    """Every patient id of one clinic (or of all clinics for ``None``), in id order."""
    query = select(m.Patient.id).order_by(col(m.Patient.id))
    if clinic is not None:
        query = query.where(m.Patient.clinic == clinic)
    return [pid for pid in session.exec(query) if pid is not None]
