"""Enrolment in the browser (issue 13): ``GET/POST /patients/new`` through the real app, logged in,
on both backends. Every problem comes back at once beside its field (422) with nothing written;
a duplicate MRN links to the patient who has it; a good form enrols, audits and plans, and the
patient page shows the plan."""

import re

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from surveil.config import DatabaseSettings, Settings, WebSettings
from surveil.db import models as m
from surveil.services.labels import kind_label
from tests.web.conftest import World, csrf_of
from tests.web.seed import NO_TOTP, SECRET_KEY

SHELL_COVERED: frozenset[str] = frozenset({"patients.enrol"})

GOOD = {
    "mrn": "N-900",
    "given_name": "Grace",
    "family_name": "Hopper",
    "birth_date": "1961-12-09",
    "sex": "female",
    "hereditary": "none",
    "phone": "+447700900123",
    "email": "grace@example.org",
    "preferred_channel": "email",
    "language": "en",
    "timezone": "Europe/London",
    "navigator": "nina",
    "consent_reminders": "yes",
    "site": "pancreas",
    "differentiation": "well",
    "ki67": "2",
    "mitoses": "",
    "stage": "localized",
    "size_mm": "14",
    "functional": "none",
    "diagnosed_on": "2025-01-10",
    "state": "active_surveillance",
    "since": "",
    "resection": "",
}


@pytest.fixture
def web_settings(db_url: str) -> Settings:
    return Settings(
        database=DatabaseSettings(url=db_url),
        web=WebSettings(secret_key=SECRET_KEY, login_attempts=3),
        security=NO_TOTP,
    )


def _post(client: TestClient, form: dict[str, str]) -> "object":
    token = csrf_of(client, "/patients/new")
    return client.post("/patients/new", data={"csrf_token": token, **form}, follow_redirects=False)


def _counts(engine: sa.Engine) -> tuple[int, int, int]:
    with Session(engine) as session:
        return (
            len(session.exec(select(m.Patient.id)).all()),
            len(session.exec(select(m.AuditEvent.id)).all()),
            len(session.exec(select(m.FollowUpItem.id)).all()),
        )


def test_the_form_offers_the_clinics_navigators_and_defaults(nina: TestClient) -> None:
    html = nina.get("/patients/new").text
    assert 'name="mrn"' in html and 'href="/patients/new"' in html
    assert re.search(r'<option value="nina" selected>', html)  # a navigator owns what she enrols
    assert 'value="sam"' not in html  # another clinic's navigator is not offered
    assert 'value="ada"' not in html  # nor an administrator
    assert "New patient" in nina.get("/patients").text


def test_three_mistakes_are_all_shown_beside_their_fields_and_nothing_is_written(
    nina: TestClient, web_engine: sa.Engine
) -> None:
    before = _counts(web_engine)
    bad = {**GOOD, "birth_date": "1961-13-40", "phone": "0770 0900", "ki67": "140"}
    response = _post(nina, bad)
    assert response.status_code == 422  # type: ignore[attr-defined]
    html = response.text  # type: ignore[attr-defined]
    assert "3 problems" in html
    for field in ("birth_date", "phone", "ki67"):
        assert re.search(rf'id="f-{field}"[^>]*aria-invalid="true"', html), field
        assert f'id="f-{field}-error-1"' in html, field
    assert 'value="Hopper"' in html  # what was typed is kept
    assert _counts(web_engine) == before


def test_a_duplicate_mrn_is_refused_with_a_link_to_the_patient_who_has_it(
    nina: TestClient, world: World, web_engine: sa.Engine
) -> None:
    before = _counts(web_engine)
    response = _post(nina, {**GOOD, "mrn": "N-100"})
    assert response.status_code == 422  # type: ignore[attr-defined]
    assert f'href="/patients/{world.north_patient}"' in response.text  # type: ignore[attr-defined]
    assert _counts(web_engine) == before


def test_a_missing_navigator_is_refused(nina: TestClient, web_engine: sa.Engine) -> None:
    before = _counts(web_engine)
    response = _post(nina, {**GOOD, "navigator": ""})
    assert response.status_code == 422  # type: ignore[attr-defined]
    assert 'id="f-navigator-error-1"' in response.text  # type: ignore[attr-defined]
    assert _counts(web_engine) == before


def test_a_good_form_enrols_audits_plans_and_shows_the_plan(
    nina: TestClient, web_engine: sa.Engine
) -> None:
    seen = _counts(web_engine)[1]
    response = _post(nina, GOOD)
    assert response.status_code == 303  # type: ignore[attr-defined]
    where = response.headers["location"]  # type: ignore[attr-defined]
    with Session(web_engine) as session:
        patient = session.exec(select(m.Patient).where(m.Patient.mrn == "N-900")).one()
        items = session.exec(
            select(m.FollowUpItem).where(m.FollowUpItem.patient_id == patient.id)
        ).all()
        rows = session.exec(
            select(m.AuditEvent).where(col(m.AuditEvent.id) > seen).order_by(col(m.AuditEvent.id))
        ).all()
        navigator = session.get(m.User, patient.navigator_id)
    assert where == f"/patients/{patient.id}"
    assert navigator is not None and navigator.username == "nina"
    assert (patient.language, patient.consent_reminders, patient.phone) == (
        "en",
        True,
        "+447700900123",
    )
    assert items, "the plan is made in the same transaction"
    assert [(r.action, r.actor, r.channel, r.patient_id) for r in rows][:1] == [
        ("patient.enrolled", "nina", "web", patient.id)
    ]
    page = nina.get(where).text
    assert "Enrolled: the follow-up plan" in page
    plan = page[page.index('id="plan"') : page.index('id="h-charts"')]
    for item in items:
        assert kind_label(item.kind) in plan and str(item.target) in plan
