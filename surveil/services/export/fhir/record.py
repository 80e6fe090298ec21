"""One patient's whole record as FHIR resources, and the patient lookups every export shares."""

import datetime as dt

from sqlmodel import Session, col, select

from surveil.config import Settings
from surveil.db import models as m
from surveil.errors import Conflict, NotFound
from surveil.services.actor import Actor
from surveil.services.export.fhir.clinical import condition_resource, observations, patient_resource
from surveil.services.export.fhir.plan import plan_resources
from surveil.services.export.fhir.refs import Resource
from surveil.services.export.fhir.rows import PatientRows
from surveil.services.export.fhir.tumour_facts import tumour_fact_resources
from surveil.services.protocols import protocol_in_force

# The order resources appear in a bundle, and the ndjson files a bulk export writes.
RESOURCE_TYPES = ("Patient", "Condition", "CarePlan", "ServiceRequest", "Task", "Observation")


def growth_spacing(session: Session, settings: Settings, today: dt.date) -> int:
    """The shortest gap between two readings that makes a growth rate: that of the protocol in
    force for the clinic on ``today`` (an activated version or profile, else the baseline), so
    the exported rate is the one the growth trigger judged."""
    _, profile = protocol_in_force(session, settings, today)
    return profile.thresholds.min_spacing_days


def patient_record(rows: PatientRows, *, min_spacing_days: int) -> list[Resource]:
    """Patient, Condition, the plan (CarePlan, ServiceRequests, Tasks), then Observations; the
    2027.1 tumour facts (Observations, and the carcinoid heart disease Condition) last."""
    resources = [patient_resource(rows)]
    condition = condition_resource(rows)
    if condition is not None:
        resources.append(condition)
    resources += plan_resources(rows)
    resources += observations(rows, min_spacing_days=min_spacing_days)
    resources += tumour_fact_resources(rows.patient, rows.tumour)
    return resources


def patient_by_mrn(session: Session, *, actor: Actor, mrn: str) -> m.Patient:
    """The patient with this MRN among those ``actor`` may see: their own clinic, or any for an
    administrator (who must then be unambiguous)."""
    query = select(m.Patient).where(m.Patient.mrn == mrn).order_by(col(m.Patient.id))
    if not actor.is_admin:
        query = query.where(m.Patient.clinic == actor.clinic)
    found = list(session.exec(query).all())
    if not found:
        raise NotFound(f"no patient with MRN {mrn!r}")
    if len(found) > 1:
        clinics = ", ".join(p.clinic for p in found)
        raise Conflict(f"MRN {mrn!r} exists in several clinics ({clinics})")
    return found[0]
