"""Reads that turn registry rows into the pure core's types."""

import datetime as dt

from sqlmodel import Session, col, select

from surveil.core import facts as f
from surveil.core.vocab import (
    Differentiation,
    Functional,
    Hereditary,
    ItemKind,
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
    pid = patient.id
    tumour = session.exec(select(m.Tumour).where(m.Tumour.patient_id == pid)).first()
    states = session.exec(
        select(m.DiseaseState)
        .where(m.DiseaseState.patient_id == pid)
        .order_by(col(m.DiseaseState.start_date).desc(), col(m.DiseaseState.id).desc())
    ).all()
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
    rows = session.exec(
        select(m.Measurement, m.Lesion.label).join(m.Lesion).where(m.Lesion.patient_id == pid)
    ).all()
    measurements = tuple(
        f.Measurement(lesion=label, date=row.date, mm=row.diameter_mm, modality=row.modality)
        for row, label in rows
    )
    markers = tuple(
        f.Marker(name=ItemKind(r.name), date=r.date, value=r.value, uln=r.uln, on_ppi=r.on_ppi)
        for r in session.exec(select(m.MarkerResult).where(m.MarkerResult.patient_id == pid))
    )
    therapies = tuple(
        f.Therapy(
            kind=TherapyKind(t.kind),
            agent=t.agent,
            started_on=t.started_on,
            ended_on=t.ended_on,
            cycles_given=t.cycles_given,
            last_given_on=t.last_given_on,
        )
        for t in session.exec(select(m.Therapy).where(m.Therapy.patient_id == pid))
    )
    done = session.exec(
        select(m.FollowUpItem.kind, m.FollowUpItem.completed_on).where(
            m.FollowUpItem.patient_id == pid,
            m.FollowUpItem.state == m.ItemState.DONE,
            col(m.FollowUpItem.completed_on).is_not(None),
        )
    ).all()
    completed = {(ItemKind(kind), day) for kind, day in done if day is not None}
    completed |= {(mk.name, mk.date) for mk in markers}
    completed |= {
        (MODALITY_ITEM[ms.modality], ms.date) for ms in measurements if ms.modality in MODALITY_ITEM
    }
    symptoms = tuple(
        f.Symptom(date=s.date, description=s.description)
        for s in session.exec(select(m.Symptom).where(m.Symptom.patient_id == pid))
    )
    pathology = tuple(
        f.Pathology(
            date=p.date,
            ki67=p.ki67,
            mitoses=p.mitoses,
            differentiation=Differentiation(p.differentiation) if p.differentiation else None,
        )
        for p in session.exec(select(m.PathologyResult).where(m.PathologyResult.patient_id == pid))
    )
    return f.Facts(
        patient=f.Patient(
            id=str(pid),
            birth_date=patient.birth_date,
            timezone=patient.timezone,
            deceased_on=patient.deceased_on,
            hereditary=Hereditary(patient.hereditary),
        ),
        tumour=_tumour(tumour),
        state=state,
        measurements=tuple(sorted(measurements, key=lambda x: (x.lesion, x.date, x.mm))),
        markers=tuple(sorted(markers, key=lambda x: (x.name, x.date, x.value))),
        therapies=tuple(sorted(therapies, key=lambda x: (x.started_on, x.kind))),
        completed=tuple(f.Completed(kind=k, date=d) for k, d in sorted(completed)),
        symptoms=tuple(sorted(symptoms, key=lambda x: (x.date, x.description))),
        pathology=tuple(sorted(pathology, key=lambda x: x.date)),
    )


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
    )


def today_in(timezone: str, now: dt.datetime) -> dt.date:
    """The calendar date at ``now`` in a time zone (a due date is a date where the patient is)."""
    from zoneinfo import ZoneInfo

    return now.astimezone(ZoneInfo(timezone)).date()
