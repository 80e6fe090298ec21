"""Pack 2027.1's tumour details through the JSON API (issue #15), on both backends: sent in the
facts contract's shapes on ``PUT /patients/{mrn}/tumour``, stored, audited before → after, and
every bad detail named in a 422 with nothing written."""

import json

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from surveil.db import models as m
from tests.api.conftest import ApiWorld, audit_rows, bearer

DETAILS = {
    "node_status": "N1",
    "adverse_histology": ["muscularis", "lvi"],
    "carcinoid_type": "atypical",
    "gastric_type": "type_1",
    "carcinoid_heart_disease": True,
}


def _tumour(engine: sa.Engine) -> m.Tumour:
    with Session(engine) as session:
        patient = session.exec(select(m.Patient).where(m.Patient.mrn == "N-100")).one()
        return session.exec(select(m.Tumour).where(m.Tumour.patient_id == patient.id)).one()


def test_details_are_set_in_the_contracts_shapes_and_audited(
    api: TestClient, api_world: ApiWorld, engine: sa.Engine
) -> None:
    headers = bearer(api_world.tokens["write"])
    response = api.put("/api/v1/patients/N-100/tumour", json=DETAILS, headers=headers)
    assert response.status_code == 200, response.text
    tumour = _tumour(engine)
    assert (tumour.node_status, tumour.carcinoid_type, tumour.gastric_type) == (
        "N1",
        "atypical",
        "type_1",
    )
    assert (tumour.adverse_histology, tumour.carcinoid_heart_disease) == ("lvi,muscularis", True)
    with Session(engine) as session:
        event = session.exec(
            select(m.AuditEvent)
            .where(m.AuditEvent.action == "tumour.updated")
            .order_by(col(m.AuditEvent.id).desc())
        ).first()
    assert event is not None and event.after is not None and event.channel == "api"
    assert json.loads(event.after)["node_status"] == "N1"
    cleared = {"adverse_histology": [], "carcinoid_heart_disease": "unknown"}
    response = api.put("/api/v1/patients/N-100/tumour", json=cleared, headers=headers)
    assert response.status_code == 200, response.text
    tumour = _tumour(engine)
    assert (tumour.adverse_histology, tumour.carcinoid_heart_disease) == ("", None)


def test_bad_details_are_all_named_and_nothing_is_written(
    api: TestClient, api_world: ApiWorld, engine: sa.Engine
) -> None:
    headers = bearer(api_world.tokens["write"])
    before = audit_rows(engine)
    wrong = {
        "node_status": "N2",
        "adverse_histology": ["lvi", "perineural"],
        "carcinoid_type": "spindle",
        "gastric_type": "type_4",
        "carcinoid_heart_disease": "perhaps",
    }
    response = api.put("/api/v1/patients/N-100/tumour", json=wrong, headers=headers)
    assert response.status_code == 422
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == set(wrong), fields
    assert audit_rows(engine) == before
    assert _tumour(engine).node_status is None
