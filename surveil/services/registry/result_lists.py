"""A patient's recorded results as another system reads them (the JSON API): measurements,
marker results or therapies, oldest first. Reading them is audited as a view of the patient."""

from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from surveil.db import models as m
from surveil.db.session import session_scope
from surveil.errors import InvalidInput, Problem
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.entry import audited_read
from surveil.services.registry.access import patient_by_mrn

KINDS = ("measurements", "markers", "therapies")


@audited_read("results.viewed")
def read_results(
    engine: sa.Engine, *, actor: Actor, mrn: str, clinic: str, kind: str
) -> list[dict[str, Any]]:
    if kind not in KINDS:
        raise InvalidInput(Problem("kind", f"must be one of: {', '.join(KINDS)}"))
    with session_scope(engine) as session:
        patient = patient_by_mrn(session, actor=actor, mrn=mrn, clinic=clinic)
        if kind == "measurements":
            rows = [
                {
                    "lesion": lesion.label,
                    **row.model_dump(include={"id", "date", "diameter_mm", "modality"}),
                }
                for row, lesion in session.exec(
                    select(m.Measurement, m.Lesion)
                    .join(m.Lesion, col(m.Lesion.id) == m.Measurement.lesion_id)
                    .where(m.Lesion.patient_id == patient.id)
                    .order_by(col(m.Measurement.date), col(m.Measurement.id))
                )
            ]
        elif kind == "markers":
            rows = [
                r.model_dump(include={"id", "name", "value", "unit", "uln", "date", "on_ppi"})
                for r in session.exec(
                    select(m.MarkerResult)
                    .where(m.MarkerResult.patient_id == patient.id)
                    .order_by(col(m.MarkerResult.date), col(m.MarkerResult.id))
                )
            ]
        else:
            rows = [
                r.model_dump(exclude={"patient_id", "created_at"})
                for r in session.exec(
                    select(m.Therapy)
                    .where(m.Therapy.patient_id == patient.id)
                    .order_by(col(m.Therapy.started_on), col(m.Therapy.id))
                )
            ]
        audit(
            session,
            actor=actor,
            action="results.viewed",
            patient_id=patient.id,
            subject=f"patient:{patient.id}",
            detail=f"{kind}: {len(rows)} shown",
        )
        return rows
