"""``Patient/{id}/$everything``: one patient's record and plan as a FHIR R4 searchset Bundle,
read and audited in one transaction, so nothing leaves unless its audit event is committed.

A patient of another clinic is refused exactly like a missing one (the same NotFound, so a
guessed id confirms nothing); the refusal itself is audited in a transaction of its own.
"""

import datetime as dt
import uuid

import sqlalchemy as sa

from surveil.config import Settings
from surveil.core.zones import today_in
from surveil.db.session import session_scope
from surveil.errors import NotFound
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.entry import audited_read
from surveil.services.export.fhir.record import growth_spacing, patient_record
from surveil.services.export.fhir.refs import Resource, instant
from surveil.services.export.fhir.rows import read_patients
from surveil.services.users.accounts import AccessDenied, visible_patient

EXPORTED = "patient.exported.fhir"


@audited_read(EXPORTED)
def export_patient_bundle(
    engine: sa.Engine, *, actor: Actor, patient_id: int, settings: Settings, now: dt.datetime
) -> Resource:
    """The Bundle for one patient ``actor`` may see; NotFound for any other id."""
    try:
        with session_scope(engine) as session:
            spacing = growth_spacing(session, settings, today_in(settings.clinic.timezone, now))
            patient = visible_patient(session, actor=actor, patient_id=patient_id)
            rows = read_patients(session, [patient])[0]
            resources = patient_record(rows, min_spacing_days=spacing)
            audit(
                session,
                actor=actor,
                action=EXPORTED,
                patient_id=rows.patient_id,
                subject=f"Patient/{rows.patient_id}",
                detail="FHIR Patient/$everything",
                after={"resources": count_by_type(resources)},
            )
    except AccessDenied:
        _audit_refusal(engine, actor=actor, patient_id=patient_id)
        raise NotFound(f"no patient with id {patient_id}") from None
    except NotFound:
        raise NotFound(f"no patient with id {patient_id}") from None
    return everything_bundle(resources, base=fhir_base(settings), patient_id=patient_id, now=now)


def _audit_refusal(engine: sa.Engine, *, actor: Actor, patient_id: int) -> None:
    # The export's own transaction was rolled back with the refusal: record it on its own.
    with session_scope(engine) as session:
        audit(
            session,
            actor=actor,
            action="access.denied",
            patient_id=patient_id,
            detail="FHIR Patient/$everything",
        )


def fhir_base(settings: Settings) -> str:
    """Where the FHIR endpoints live: the public address (``web.public_url``)."""
    return settings.web.public_url.rstrip("/") + "/fhir"


def everything_bundle(
    resources: list[Resource], *, base: str, patient_id: int, now: dt.datetime
) -> Resource:
    """A searchset, as the $everything operation defines it: the patient is the match and the
    rest of the record is included with it. Each entry's fullUrl resolves its references."""
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": instant(now)},
        "type": "searchset",
        "timestamp": instant(now),
        "link": [{"relation": "self", "url": f"{base}/Patient/{patient_id}/$everything"}],
        "entry": [
            {
                "fullUrl": f"{base}/{resource['resourceType']}/{resource['id']}",
                "resource": resource,
                "search": {"mode": "match" if resource["resourceType"] == "Patient" else "include"},
            }
            for resource in resources
        ],
    }


def count_by_type(resources: list[Resource]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for resource in resources:
        counts[resource["resourceType"]] = counts.get(resource["resourceType"], 0) + 1
    return counts
