"""A patient in brief, as the command line shows and prints as JSON, and the audited reads that
return it: ``patient show`` (one patient) and ``patient list`` (a search).

Reading a patient's data is audited like a change (HIPAA 164.312(b)); the read actions end in
``.viewed`` so the patient's timeline can leave them out.
"""

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.db import models as m
from surveil.db.session import session_scope
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.entry import audited_read
from surveil.services.registry import patients as registry
from surveil.services.registry.access import patient_by_mrn, require_clinic


@audited_read("patient.viewed")
def show_patient(engine: sa.Engine, *, actor: Actor, mrn: str, clinic: str) -> dict[str, Any]:
    """One patient in full: details, contact, tumour and grade, disease-state history."""
    with session_scope(engine) as session:
        patient = patient_by_mrn(session, actor=actor, mrn=mrn, clinic=clinic)
        audit(
            session,
            actor=actor,
            action="patient.viewed",
            patient_id=patient.id,
            subject=f"patient:{patient.id}",
        )
        return summarise(session, patient, full=True)


@audited_read("patients.viewed")
def find_patients(
    engine: sa.Engine,
    *,
    actor: Actor,
    clinic: str,
    search: str | None,
    limit: int,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Patients of ``clinic`` by family name (a name part or an exact MRN narrows the list).

    One audit event for the list, not one per patient: it names the search and how many
    patients were shown, which is what an auditor needs to ask "who looked for whom"."""
    require_clinic(actor, clinic)
    with session_scope(engine) as session:
        rows = registry.list_patients(
            session, clinic=clinic, search=search, limit=limit, offset=offset
        )
        audit(
            session,
            actor=actor,
            action="patients.viewed",
            subject=f"clinic:{clinic}",
            detail=f"patient list: {len(rows)} shown" + (f", search {search!r}" if search else ""),
        )
        return [summarise(session, row) for row in rows]


def summarise(session: Session, row: m.Patient, *, full: bool = False) -> dict[str, Any]:
    tumour = session.exec(select(m.Tumour).where(m.Tumour.patient_id == row.id)).first()
    current = registry.current_state(session, patient_id=row.id)
    out: dict[str, Any] = {
        "mrn": row.mrn,
        "name": f"{row.given_name} {row.family_name}",
        "birth_date": row.birth_date,
        "clinic": row.clinic,
        "timezone": row.timezone,
        "site": tumour.site if tumour else None,
        "grade": tumour.grade if tumour else None,
        "state": current.kind if current else None,
    }
    if full:
        out["contact"] = {
            "email": row.email,
            "phone": row.phone,
            "channel": row.preferred_channel,
            "opted_out": row.opted_out,
        }
        out["deceased_on"] = row.deceased_on
        out["hereditary"] = row.hereditary
        out["tumour"] = tumour.model_dump(exclude={"id", "patient_id"}) if tumour else None
        out["states"] = [
            s.model_dump(include={"kind", "start_date", "end_date", "resection", "reason"})
            for s in session.exec(
                select(m.DiseaseState)
                .where(m.DiseaseState.patient_id == row.id)
                .order_by(col(m.DiseaseState.start_date))
            )
        ]
    return out
