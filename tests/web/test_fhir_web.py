"""``GET /fhir/Patient/{id}/$everything`` through the real app, on SQLite and PostgreSQL: behind
the login, FHIR JSON, one neutral 404 for whatever this user may not read, and audited."""

import json

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from surveil.config import DatabaseSettings, Settings, WebSettings
from surveil.db import models as m
from tests.fhir_checks import by_type, validate_bundle
from tests.web.conftest import World
from tests.web.seed import NO_TOTP

FHIR_JSON = "application/fhir+json"


@pytest.fixture
def web_settings(db_url: str) -> Settings:
    """The web fixtures of tests/web/conftest.py, on both backends for these tests."""
    return Settings(
        database=DatabaseSettings(url=db_url),
        security=NO_TOTP,
        web=WebSettings(secret_key="test-secret-" + "x" * 32, login_attempts=3),
    )


def everything(patient: int | str) -> str:
    return f"/fhir/Patient/{patient}/$everything"


def audit_rows(engine: sa.Engine, action: str) -> list[m.AuditEvent]:
    with Session(engine) as session:
        return list(session.exec(select(m.AuditEvent).where(m.AuditEvent.action == action)))


def test_a_navigator_reads_her_patient_as_a_valid_bundle(
    nina: TestClient, world: World, web_engine: sa.Engine, web_settings: Settings
) -> None:
    response = nina.get(everything(world.north_patient))
    assert response.status_code == 200
    assert response.headers["content-type"] == FHIR_JSON
    assert response.headers["cache-control"] == "no-store"
    bundle = json.loads(response.text)
    resources = validate_bundle(bundle)
    [patient] = by_type(resources, "Patient")
    assert patient["identifier"][0]["value"] == "N-100"
    base = web_settings.web.public_url.rstrip("/") + "/fhir/"
    assert all(entry["fullUrl"].startswith(base) for entry in bundle["entry"])
    # The world's overdue MRI and due CgA are the open items.
    requests = {r["id"] for r in by_type(resources, "ServiceRequest")}
    assert requests == {str(world.overdue_item), str(world.marker_item)}
    [event] = audit_rows(web_engine, "patient.exported.fhir")
    assert (event.actor, event.patient_id, event.channel) == ("nina", world.north_patient, "web")
    assert event.ip == "testclient"


def test_the_dollar_may_come_percent_encoded(nina: TestClient, world: World) -> None:
    response = nina.get(f"/fhir/Patient/{world.north_patient}/%24everything")
    assert response.status_code == 200
    assert json.loads(response.text)["type"] == "searchset"


def test_whatever_she_may_not_read_is_the_same_404(
    nina: TestClient, world: World, web_engine: sa.Engine
) -> None:
    answers = [
        nina.get(everything(patient))
        for patient in (world.south_patient, 999_999, "abc", "1" * 30, "0", "²")
    ]
    assert {a.status_code for a in answers} == {404}
    assert {a.headers["content-type"] for a in answers} == {FHIR_JSON}
    assert len({a.text for a in answers}) == 1, "the answers must not tell the cases apart"
    outcome = json.loads(answers[0].text)
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "not-found"
    [denied] = audit_rows(web_engine, "access.denied")
    assert (denied.actor, denied.patient_id) == ("nina", world.south_patient)
    assert audit_rows(web_engine, "patient.exported.fhir") == []


def test_without_a_session_it_asks_for_the_login(client: TestClient, world: World) -> None:
    response = client.get(everything(world.north_patient), follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=/fhir/Patient/")
