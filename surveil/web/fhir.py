"""FHIR R4 read access for the hospital's systems: ``GET /fhir/Patient/{id}/$everything``.

Behind the web login like every page (no session: a redirect to the login page), with the same
clinic isolation: another clinic's patient, a missing one and an id that is not a number all
get the same 404 OperationOutcome. The export is an audited read of patient data
(``services.export.fhir.bundle``); this module only parses the id and shows the result.
"""

import json
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends
from fastapi.responses import Response

from surveil.core.digits import is_digits
from surveil.errors import NotFound
from surveil.services.export.fhir.bundle import export_patient_bundle
from surveil.web.deps import ReaderActorDep, SettingsDep, get_engine, utc_now

router = APIRouter()

FHIR_JSON = "application/fhir+json"
_LARGEST_ID = 2**63 - 1  # a bigger "id" is no row's: refuse it before it reaches the database

EngineDep = Annotated[sa.Engine, Depends(get_engine)]


@router.get("/fhir/Patient/{patient_id}/$everything", name="fhir.everything")
def everything(
    patient_id: str, engine: EngineDep, settings: SettingsDep, actor: ReaderActorDep
) -> Response:
    """One patient's record and plan as a searchset Bundle (docs/fhir.md)."""
    number = _row_id(patient_id)
    if number is None:
        return not_found()
    try:
        bundle = export_patient_bundle(
            engine, actor=actor, patient_id=number, settings=settings, now=utc_now()
        )
    except NotFound:
        return not_found()
    return Response(json.dumps(bundle, ensure_ascii=False), media_type=FHIR_JSON)


def _row_id(text: str) -> int | None:
    if not is_digits(text) or len(text) > 19:
        return None
    number = int(text)
    return number if 0 < number <= _LARGEST_ID else None


def not_found() -> Response:
    """The one answer for every patient this user may not read, whatever the reason."""
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": "not-found",
                "diagnostics": "no such patient",
            }
        ],
    }
    return Response(json.dumps(outcome), status_code=404, media_type=FHIR_JSON)
