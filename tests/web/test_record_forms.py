"""The patient page's small forms (issue 13) through the real app, logged in, on both backends:
each good form leaves its audit row by the navigator on the web channel and comes back to the
page saying what changed in the plan; each bad one is shown again (422) with its problems beside
their fields and nothing written; another clinic's patient is not found."""

import re

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, SQLModel, col, select

from surveil.config import DatabaseSettings, Settings, WebSettings
from surveil.db import models as m
from surveil.web.deps import clinic_today
from tests.web.conftest import World, csrf_of, login
from tests.web.seed import NO_TOTP, SECRET_KEY, make_user

# form, good values, bad values, the fields the bad values are refused on, the audit action
FORMS = [
    ("tumour", {"site": "pancreas", "stage": "regional", "size_mm": "15", "differentiation": "well",
                "sstr_status": "positive", "functional": "none"},
     {"site": "pancreas", "size_mm": "-3", "diagnosed_on": "2999-01-01", "differentiation": "well",
      "sstr_status": "positive", "functional": "none"},
     {"size_mm", "diagnosed_on"}, "tumour.updated"),
    ("pathology", {"date": "today", "ki67": "2.5"}, {"date": "2999-01-01", "ki67": "140"},
     {"date", "ki67"}, "pathology.recorded"),
    ("state", {"kind": "resected", "since": "today", "resection": "R0", "reason": "Whipple"},
     {"kind": "", "since": "", "reason": ""}, {"kind", "since", "reason"}, "state.set"),
    ("contact", {"phone": "+447700900123", "email": "ada@example.org"},
     {"phone": "0770", "email": "not an address"}, {"phone", "email"}, "patient.updated"),
    ("consent", {"opted_out": "yes"}, None, set(), "patient.updated"),
    ("preferences", {"language": "cy", "preferred_channel": "sms", "timezone": "Europe/Lisbon"},
     {"language": "x", "preferred_channel": "pigeon", "timezone": "Mars/Base"},
     {"language", "preferred_channel", "timezone"}, "patient.updated"),
    ("hours", {"send_window_start": "17:00", "send_window_end": "19:30", "language": "es"},
     {"send_window_start": "19:00", "send_window_end": "21:00", "language": "not a tag!"},
     {"send_window_start", "language"}, "patient.send_window"),
    ("navigator", {"navigator": "nora"}, {"navigator": ""}, {"navigator"}, "navigator.reassigned"),
    ("deceased", {"deceased_on": "today"}, {"deceased_on": "1900-01-01"}, {"deceased_on"},
     "patient.updated"),
]  # fmt: skip

SHELL_COVERED: frozenset[str] = frozenset(f"patients.{name}" for name, *_ in FORMS)


@pytest.fixture
def web_settings(db_url: str) -> Settings:
    return Settings(
        database=DatabaseSettings(url=db_url),
        web=WebSettings(secret_key=SECRET_KEY, login_attempts=3),
        security=NO_TOTP,
    )


@pytest.fixture
def nora(web_engine: sa.Engine, world: World) -> None:  # noqa: ARG001 - after the world's users
    with Session(web_engine) as session:
        make_user(session, "nora", role="navigator", clinic="north")
        session.commit()


def _today(settings: Settings) -> str:
    return str(clinic_today(settings))


def _post(client: TestClient, patient: int, name: str, form: dict[str, str]) -> object:
    token = csrf_of(client, f"/patients/{patient}")
    return client.post(
        f"/patients/{patient}/{name}",
        data={"csrf_token": token, **form},
        follow_redirects=False,
    )


def _record(engine: sa.Engine) -> dict[str, list[tuple[object, ...]]]:
    with engine.connect() as connection:
        return {
            t.name: [tuple(r) for r in connection.execute(sa.select(t)).all()]
            for t in SQLModel.metadata.sorted_tables
            if t.name not in {"login_attempt", "audit_event", "web_session", "rate_limit"}
        }


def _audit_after(engine: sa.Engine, seen: int) -> list[tuple[str, str, str, int | None]]:
    with Session(engine) as session:
        rows = session.exec(
            select(m.AuditEvent).where(col(m.AuditEvent.id) > seen).order_by(col(m.AuditEvent.id))
        ).all()
    return [(r.action, r.actor, r.channel, r.patient_id) for r in rows]


def _last(engine: sa.Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(sa.func.max(m.AuditEvent.id))).one() or 0


@pytest.mark.usefixtures("nora")
def test_each_form_refuses_with_problems_beside_fields_then_saves_and_audits(
    nina: TestClient, world: World, web_engine: sa.Engine, web_settings: Settings
) -> None:
    patient = world.growth_patient
    today = _today(web_settings)
    for name, good, bad, fields, action in FORMS:
        if bad is not None:
            before = _record(web_engine)
            response = _post(nina, patient, name, bad)
            assert response.status_code == 422, name  # type: ignore[attr-defined]
            html = response.text  # type: ignore[attr-defined]
            for field in fields:
                assert re.search(rf'id="{name}-{field}"[^>]*aria-invalid="true"', html), (
                    name,
                    field,
                )
            assert _record(web_engine) == before, name
        seen = _last(web_engine)
        filled = {k: today if v == "today" else v for k, v in good.items()}
        response = _post(nina, patient, name, filled)
        assert response.status_code == 303, (name, response.text)  # type: ignore[attr-defined]
        assert response.headers["location"] == f"/patients/{patient}"  # type: ignore[attr-defined]
        rows = [r for r in _audit_after(web_engine, seen) if r[0] != "patient.viewed"]
        expected = [(action, "nina", "web", patient)]
        if name == "deceased":  # a death stops every open item at once, done by surveil itself
            expected.append(("plan.stopped", "system", "web", patient))
        assert rows == expected, name
        page = nina.get(f"/patients/{patient}").text
        assert "Plan: " in page or "The plan did not change." in page, name


def test_another_clinics_patient_is_not_found(
    nina: TestClient, world: World, web_engine: sa.Engine
) -> None:
    before = _record(web_engine)
    token = csrf_of(nina, f"/patients/{world.north_patient}")
    response = nina.post(
        f"/patients/{world.south_patient}/contact",
        data={"csrf_token": token, "phone": "+447700900123"},
    )
    assert response.status_code == 404
    assert _record(web_engine) == before


def test_a_ki67_that_raises_the_grade_shows_the_trigger_and_the_plan_change(
    nina: TestClient, world: World, web_settings: Settings
) -> None:
    patient = world.growth_patient
    today = _today(web_settings)
    response = _post(nina, patient, "pathology", {"date": today, "ki67": "8"})
    assert response.status_code == 303  # type: ignore[attr-defined]
    page = nina.get(f"/patients/{patient}").text
    assert "New trigger: " in page and "Plan: " in page
    latest = page[page.index('id="latest-ki67"') :][:300]
    assert "8 %" in latest and "G2" in latest


def test_consent_withdrawn_turns_reminders_off_on_the_page(nina: TestClient, world: World) -> None:
    patient = world.growth_patient
    assert "on, " in _reminders(nina, patient) or "no " in _reminders(nina, patient)
    response = _post(nina, patient, "consent", {})  # both boxes unticked
    assert response.status_code == 303  # type: ignore[attr-defined]
    assert _reminders(nina, patient) == "off: no consent to reminders"


def _reminders(client: TestClient, patient: int) -> str:
    found = re.search(r'id="reminders-now">([^<]*)<', client.get(f"/patients/{patient}").text)
    assert found
    return found.group(1)


def test_an_administrator_is_offered_the_patients_clinics_navigators(
    client: TestClient, world: World, web_engine: sa.Engine
) -> None:
    login(client, "ada")  # an administrator of clinic north
    before = _record(web_engine)
    response = _post(client, world.south_patient, "navigator", {"navigator": ""})
    assert response.status_code == 422  # type: ignore[attr-defined]
    html = response.text  # type: ignore[attr-defined]
    assert '<option value="sam"' in html and '<option value="nina"' not in html
    assert _record(web_engine) == before
