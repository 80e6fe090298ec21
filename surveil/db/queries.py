"""Reads that turn registry rows into the pure core's types."""

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.core import facts as f
from surveil.core.vocab import (
    AdverseHistology,
    CarcinoidType,
    Differentiation,
    Functional,
    GastricType,
    Hereditary,
    ItemKind,
    NodeStatus,
    Resection,
    Site,
    Sstr,
    Stage,
    StateKind,
    TherapyKind,
)
from surveil.db import models as m

# Which item kind a measurement's modality completes (an MRI measurement is an MRI done).
MODALITY_ITEM = {
    "mri": ItemKind.MRI,
    "ct": ItemKind.CT,
    "eus": ItemKind.EUS,
    "sstr_pet": ItemKind.SSTR_PET,
    "fdg_pet": ItemKind.FDG_PET,
    "endoscopy": ItemKind.ENDOSCOPY,
}


def facts_for_patient(session: Session, patient: m.Patient) -> f.Facts:
    """Everything the planner and the triggers need to know about one patient."""
    return facts_for_patients(session, [patient])[patient.id or 0]


def facts_for_patients(session: Session, patients: list[m.Patient]) -> dict[int, f.Facts]:
    """Facts for many patients with one query per table (replanning 100k patients must not
    cost a dozen round trips each)."""
    ids = [p.id for p in patients if p.id is not None]
    tumours = {t.patient_id: t for t in _rows(session, m.Tumour, m.Tumour.patient_id, ids)}
    states = _grouped(_rows(session, m.DiseaseState, m.DiseaseState.patient_id, ids))
    # Struck-out results (a mistyped value kept in history) never reach the planner or triggers
    # (``_rows`` leaves them out).
    markers = _grouped(_rows(session, m.MarkerResult, m.MarkerResult.patient_id, ids))
    therapies = _grouped(_rows(session, m.Therapy, m.Therapy.patient_id, ids))
    symptoms = _grouped(_rows(session, m.Symptom, m.Symptom.patient_id, ids))
    pathology = _grouped(_rows(session, m.PathologyResult, m.PathologyResult.patient_id, ids))
    measurements: dict[int, list[f.Measurement]] = {}
    for chunk in _chunks(ids):
        query = (
            sa.select(
                col(m.Lesion.patient_id),
                col(m.Lesion.label),
                col(m.Measurement.date),
                col(m.Measurement.diameter_mm),
                col(m.Measurement.modality),
            )
            .join(m.Measurement, col(m.Measurement.lesion_id) == m.Lesion.id)
            .where(col(m.Lesion.patient_id).in_(chunk), col(m.Measurement.struck_out_at).is_(None))
        )
        for pid, label, day, mm, modality in session.execute(query):
            measurements.setdefault(pid, []).append(
                f.Measurement(lesion=label, date=day, mm=mm, modality=modality)
            )
    done: dict[int, set[tuple[ItemKind, dt.date, str | None]]] = {}
    for chunk in _chunks(ids):
        done_query = select(
            m.FollowUpItem.patient_id,
            m.FollowUpItem.kind,
            col(m.FollowUpItem.completed_on),
            col(m.FollowUpItem.region),
        ).where(
            col(m.FollowUpItem.patient_id).in_(chunk),
            m.FollowUpItem.state == m.ItemState.DONE,
            col(m.FollowUpItem.completed_on).is_not(None),
        )
        for pid, kind, day, region in session.exec(done_query):
            if day is not None:  # always, by the query; this tells the type checker
                done.setdefault(pid, set()).add((ItemKind(kind), day, region or None))
    out = {}
    for patient in patients:
        pid = patient.id or 0
        out[pid] = _assemble(
            patient,
            tumours.get(pid),
            states.get(pid, []),
            measurements.get(pid, []),
            markers.get(pid, []),
            therapies.get(pid, []),
            symptoms.get(pid, []),
            pathology.get(pid, []),
            done.get(pid, set()),
        )
    return out


def _chunks(ids: list[int], size: int = 900) -> list[list[int]]:
    # SQLite caps bound parameters; 900 stays well inside every backend's limit.
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def _rows(session: Session, model: Any, column: Any, ids: list[int]) -> list[Any]:
    """``model``'s rows for ``ids`` as plain Core rows with the same attribute names: the facts
    only read them, and building ORM objects to be read once was half of a replan's time."""
    table = model.__table__
    query = sa.select(*plain_columns(table))
    if "struck_out_at" in table.c:  # a mistyped value kept in history: never planned on
        query = query.where(table.c.struck_out_at.is_(None))
    rows: list[Any] = []
    for chunk in _chunks(ids):
        rows.extend(session.execute(query.where(table.c[column.key].in_(chunk))).all())
    return rows


def plain_columns(table: sa.Table) -> list[sa.Column[Any]]:
    """``table``'s columns but its timestamps (created, updated, booked at): the planner never
    reads them, and each would be turned into an aware datetime for nothing."""
    return [column for column in table.c if not _is_timestamp(column)]


def _is_timestamp(column: sa.Column[Any]) -> bool:
    try:
        return column.type.python_type is dt.datetime
    except NotImplementedError:
        return False


def _grouped(rows: list[Any]) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = {}
    for row in rows:
        out.setdefault(row.patient_id, []).append(row)
    return out


def _assemble(
    patient: m.Patient,
    tumour: m.Tumour | None,
    states: list[m.DiseaseState],
    measurement_list: list[f.Measurement],
    marker_rows: list[m.MarkerResult],
    therapy_rows: list[m.Therapy],
    symptom_rows: list[m.Symptom],
    pathology_rows: list[m.PathologyResult],
    done: set[tuple[ItemKind, dt.date, str | None]],
) -> f.Facts:
    states = sorted(states, key=lambda s: (s.start_date, s.id or 0), reverse=True)
    current = next((s for s in states if s.end_date is None), None)
    state = (
        f.State(
            kind=StateKind(current.kind),
            since=current.start_date,
            resection=Resection(current.resection) if current.resection else None,
        )
        if current
        else f.State(
            kind=StateKind.ACTIVE_SURVEILLANCE,
            since=(
                tumour.diagnosed_on if tumour and tumour.diagnosed_on else patient.created_at.date()
            ),
        )
    )
    markers = tuple(
        sorted(
            (
                f.Marker(
                    name=ItemKind(r.name), date=r.date, value=r.value, uln=r.uln, on_ppi=r.on_ppi
                )
                for r in marker_rows
            ),
            key=lambda x: (x.name, x.date, x.value),
        )
    )
    therapies = tuple(
        sorted(
            (
                f.Therapy(
                    kind=TherapyKind(t.kind),
                    agent=t.agent,
                    started_on=t.started_on,
                    ended_on=t.ended_on,
                    cycles_given=t.cycles_given,
                    last_given_on=t.last_given_on,
                )
                for t in therapy_rows
            ),
            key=lambda x: (x.started_on, x.kind),
        )
    )
    measurements = tuple(sorted(measurement_list, key=lambda x: (x.lesion, x.date, x.mm)))
    completed: set[tuple[ItemKind, dt.date, str | None]] = set(done)
    completed |= {(mk.name, mk.date, None) for mk in markers}
    completed |= {  # a measured lesion is the tumour's own imaging: no separate body region
        (MODALITY_ITEM[ms.modality], ms.date, None)
        for ms in measurements
        if ms.modality in MODALITY_ITEM
    }
    return f.Facts(
        patient=f.Patient(
            id=str(patient.id),
            birth_date=patient.birth_date,
            timezone=patient.timezone,
            deceased_on=patient.deceased_on,
            hereditary=Hereditary(patient.hereditary),
        ),
        tumour=_tumour(tumour),
        state=state,
        measurements=measurements,
        markers=markers,
        therapies=therapies,
        completed=completed_facts(completed),
        symptoms=tuple(
            sorted(
                (f.Symptom(date=s.date, description=s.description) for s in symptom_rows),
                key=lambda x: (x.date, x.description),
            )
        ),
        pathology=tuple(
            sorted(
                (
                    f.Pathology(
                        date=p.date,
                        ki67=p.ki67,
                        mitoses=p.mitoses,
                        differentiation=Differentiation(p.differentiation)
                        if p.differentiation
                        else None,
                    )
                    for p in pathology_rows
                ),
                key=lambda x: x.date,
            )
        ),
    )


def completed_facts(done: set[tuple[ItemKind, dt.date, str | None]]) -> tuple[f.Completed, ...]:
    """(kind, date, region) triples as facts, in a fixed order (the facts are compared)."""
    ordered = sorted(done, key=lambda t: (t[0], t[1], t[2] or ""))
    return tuple(f.Completed(kind=kind, date=day, region=region) for kind, day, region in ordered)


def _tumour(row: m.Tumour | None) -> f.Tumour | None:
    if row is None:
        return None
    return f.Tumour(
        site=Site(row.site),
        differentiation=Differentiation(row.differentiation),
        ki67=row.ki67,
        mitoses=row.mitoses,
        stage=Stage(row.stage) if row.stage else None,
        functional=Functional(row.functional),
        sstr=Sstr(row.sstr_status),
        diagnosed_on=row.diagnosed_on,
        size_mm=row.size_mm,
        node_status=NodeStatus(row.node_status) if row.node_status else None,
        adverse_histology=_adverse(row.adverse_histology),
        carcinoid_type=CarcinoidType(row.carcinoid_type) if row.carcinoid_type else None,
        gastric_type=GastricType(row.gastric_type) if row.gastric_type else None,
        carcinoid_heart_disease=row.carcinoid_heart_disease,
    )


def _adverse(stored: str | None) -> frozenset[AdverseHistology] | None:
    """The stored comma list as facts: None is not recorded, "" is reported with none seen."""
    if stored is None:
        return None
    return frozenset(AdverseHistology(v) for v in stored.split(",") if v)
