"""What the patient page shows of the record kept from its forms: every measurement and marker
(struck-out ones too, marked, so history stays readable), therapies with the doses given,
symptoms and the outreach log. Read on the page's read-only session; the page itself is the
audited read (``registry.record.open_record``)."""

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.db import models as m
from surveil.db.session import session_scope
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.entry import audited_read
from surveil.services.labels import kind_label
from surveil.services.recordkeeping.outreach import Contact, contact_log
from surveil.services.registry.access import patient_by_mrn

SHOWN = 200  # rows per table: a long follow-up stays readable; the charts carry the whole series


@dataclass(frozen=True)
class ResultRow:
    id: int
    what: str  # the lesion label, or the marker's name
    date: dt.date
    value: str  # "14 mm (MRI)", "300 ng/mL (ULN 100, on a PPI)"
    struck: str  # "" when it stands; otherwise who struck it out and why
    replaces: int | None  # the row this one corrects


@dataclass(frozen=True)
class TherapyRow:
    id: int
    kind: str
    label: str  # "SSA: lanreotide 120 mg"
    course: str  # "from 2026-05-10; 3 doses, last 2026-07-05; R0"
    doses: tuple[dt.date, ...]  # newest first
    takes_doses: bool  # SSA, PRRT, chemotherapy: given dose by dose


@dataclass(frozen=True)
class CarePanel:
    patient_id: int
    measurements: tuple[ResultRow, ...]
    markers: tuple[ResultRow, ...]
    therapies: tuple[TherapyRow, ...]
    symptoms: tuple[tuple[dt.date, str], ...]
    contacts: tuple[Contact, ...]


DOSED = frozenset({"ssa", "prrt", "chemotherapy"})
THERAPY_WORDS = {
    "surgery": "Surgery",
    "ssa": "Somatostatin analogue (SSA)",
    "prrt": "PRRT",
    "everolimus": "Everolimus",
    "sunitinib": "Sunitinib",
    "chemotherapy": "Chemotherapy",
    "liver_directed": "Liver-directed therapy",
}


def care_panel(session: Session, *, patient_id: int) -> CarePanel:
    return CarePanel(
        patient_id=patient_id,
        measurements=_measurements(session, patient_id),
        markers=_markers(session, patient_id),
        therapies=_therapies(session, patient_id),
        symptoms=tuple(
            (s.date, s.description)
            for s in session.exec(
                select(m.Symptom)
                .where(m.Symptom.patient_id == patient_id)
                .order_by(col(m.Symptom.date).desc())
                .limit(SHOWN)
            )
        ),
        contacts=contact_log(session, patient_id=patient_id),
    )


def _struck(row: m.Measurement | m.MarkerResult) -> str:
    if row.struck_out_at is None:
        return ""
    return f"struck out by {row.struck_out_by}: {row.struck_out_reason}"


def _measurements(session: Session, pid: int) -> tuple[ResultRow, ...]:
    rows = session.exec(
        select(m.Lesion.label, m.Measurement)
        .join(m.Measurement, col(m.Measurement.lesion_id) == m.Lesion.id)
        .where(m.Lesion.patient_id == pid)
        .order_by(col(m.Measurement.date).desc(), col(m.Measurement.id).desc())
        .limit(SHOWN)
    ).all()
    return tuple(
        ResultRow(
            id=r.id or 0,
            what=label,
            date=r.date,
            value=f"{r.diameter_mm:g} mm ({r.modality.replace('_', ' ')})",
            struck=_struck(r),
            replaces=r.replaces_id,
        )
        for label, r in rows
    )


def _markers(session: Session, pid: int) -> tuple[ResultRow, ...]:
    rows = session.exec(
        select(m.MarkerResult)
        .where(m.MarkerResult.patient_id == pid)
        .order_by(col(m.MarkerResult.date).desc(), col(m.MarkerResult.id).desc())
        .limit(SHOWN)
    ).all()
    return tuple(
        ResultRow(
            id=r.id or 0,
            what=kind_label(r.name),
            date=r.date,
            value=_marker_value(r),
            struck=_struck(r),
            replaces=r.replaces_id,
        )
        for r in rows
    )


def _marker_value(r: m.MarkerResult) -> str:
    notes = [f"ULN {r.uln:g}"] if r.uln else []
    notes += ["on a PPI"] if r.on_ppi else []
    extra = f" ({', '.join(notes)})" if notes else ""
    return f"{r.value:g} {r.unit}".rstrip() + extra


def _therapies(session: Session, pid: int) -> tuple[TherapyRow, ...]:
    therapies = session.exec(
        select(m.Therapy)
        .where(m.Therapy.patient_id == pid)
        .order_by(col(m.Therapy.started_on).desc(), col(m.Therapy.id).desc())
    ).all()
    ids = [t.id for t in therapies]
    doses: dict[int, list[dt.date]] = {}
    if ids:
        for dose in session.exec(
            select(m.TherapyDose)
            .where(col(m.TherapyDose.therapy_id).in_(ids))
            .order_by(col(m.TherapyDose.given_on).desc())
        ):
            doses.setdefault(dose.therapy_id, []).append(dose.given_on)
    return tuple(
        TherapyRow(
            id=t.id or 0,
            kind=t.kind,
            label=THERAPY_WORDS.get(t.kind, t.kind) + (f": {t.agent}" if t.agent else ""),
            course=_course(t),
            doses=tuple(doses.get(t.id or 0, ())),
            takes_doses=t.kind in DOSED and t.ended_on is None,
        )
        for t in therapies
    )


def _course(t: m.Therapy) -> str:
    parts = [f"from {t.started_on}" + (f" to {t.ended_on}" if t.ended_on else "")]
    if t.cycles_given:
        parts.append(f"{t.cycles_given} given, last {t.last_given_on or '?'}")
    if t.resection:
        parts.append(t.resection)
    return "; ".join(parts)


def open_item_choices(session: Session, *, patient_id: int) -> tuple[tuple[str, str], ...]:
    """The patient's open items as a form's choices (id, "MRI, target 2026-09-01")."""
    items = session.exec(
        select(m.FollowUpItem)
        .where(
            m.FollowUpItem.patient_id == patient_id,
            col(m.FollowUpItem.state).in_([s.value for s in m.OPEN_ITEM_STATES]),
        )
        .order_by(col(m.FollowUpItem.target), col(m.FollowUpItem.id))
    ).all()
    return tuple((str(i.id), f"{kind_label(i.kind)}, target {i.target}") for i in items)


@audited_read("results.viewed")
def show_results(engine: sa.Engine, *, actor: Actor, mrn: str, clinic: str) -> CarePanel:
    """The patient's measurements, markers, therapies, symptoms and contacts with their ids (what
    ``surveil result strike|correct`` and ``surveil dose add`` need), the read audited."""
    with session_scope(engine) as session:
        patient = patient_by_mrn(session, actor=actor, mrn=mrn, clinic=clinic)
        panel = care_panel(session, patient_id=patient.id or 0)
        audit(
            session,
            actor=actor,
            action="results.viewed",
            patient_id=patient.id,
            subject=f"patient:{patient.id}",
            detail="results, therapies and contacts listed",
        )
        return panel
