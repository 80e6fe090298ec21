"""The trigger-decision forms through the real app (both backends): a clinician confirms what a
growth trigger proposed, resolves it as a false alarm (the state comes back) and re-opens it,
each leaving its audit rows; the navigator's posts of the same forms are refused (403) and
change nothing."""

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from surveil.config import DatabaseSettings, Settings, WebSettings
from surveil.db import models as m
from tests.web.conftest import BASE, World, csrf_of, login
from tests.web.seed import NO_TOTP, make_user
from tests.web.test_one_way_in_records_shells import Audit, post

SHELL_COVERED: frozenset[str] = frozenset(
    {"triggers.resolve", "triggers.confirm", "triggers.reopen", "triggers.note"}
)
NOT_AUDITED: dict[str, str] = {}


@pytest.fixture
def web_settings(db_url: str) -> Settings:
    return Settings(
        database=DatabaseSettings(url=db_url),
        web=WebSettings(secret_key="test-secret-" + "x" * 32, login_attempts=3),
        security=NO_TOTP,
    )


@pytest.fixture
def dora(app: FastAPI, world: World, web_engine: sa.Engine) -> Iterator[TestClient]:  # noqa: ARG001
    with Session(web_engine) as session:
        make_user(session, "dora", role="clinician", clinic="north")
        session.commit()
    with TestClient(app, base_url=BASE) as client:
        login(client, "dora")
        yield client


@pytest.fixture
def audit(nina: TestClient, dora: TestClient, web_engine: sa.Engine) -> Audit:  # noqa: ARG001
    return Audit(web_engine)


def _refused(client: TestClient, audit: Audit, path: str, form: dict[str, str]) -> None:
    before = audit.record()
    token = csrf_of(client, "/worklist")
    response = client.post(path, data={"csrf_token": token, **form})
    assert response.status_code == 403, path
    assert audit.new() == [] and audit.record() == before, path


def _current_state(engine: sa.Engine, patient: int) -> str:
    with Session(engine) as session:
        return session.exec(
            select(m.DiseaseState.kind).where(
                m.DiseaseState.patient_id == patient, col(m.DiseaseState.end_date).is_(None)
            )
        ).one()


def test_a_clinician_decides_and_the_navigator_is_refused(
    nina: TestClient, dora: TestClient, audit: Audit, world: World, web_engine: sa.Engine
) -> None:
    patient = world.growth_patient
    form = {"lesion": "L1", "diameter_mm": "16", "modality": "mri"}
    post(nina, audit, f"/items/{world.growth_item}/done", form)
    with Session(web_engine) as session:
        trigger = session.exec(select(m.Trigger).where(m.Trigger.patient_id == patient)).one()
    base = f"/triggers/{trigger.id}"
    subject = f"trigger:{trigger.id}"
    page = dora.get(f"/patients/{patient}").text
    assert "leave active surveillance for advanced" in page and f"{base}/confirm" in page
    audit.new()

    rows = post(nina, audit, f"{base}/note", {"note": "patient called"})
    assert rows == [("trigger.noted", "nina", "web", patient, subject)]
    _refused(nina, audit, f"{base}/confirm", {})
    _refused(nina, audit, f"{base}/resolve", {"outcome": "benign", "false_alarm": "yes"})

    rows = post(dora, audit, f"{base}/confirm", {})
    assert [(a, who, s) for a, who, _, _, s in rows] == [
        ("state.set", "dora", rows[0][4]),
        ("trigger.confirmed", "dora", subject),
    ]
    assert _current_state(web_engine, patient) == "advanced"

    rows = post(
        dora, audit, f"{base}/resolve", {"outcome": "measurement error", "false_alarm": "yes"}
    )
    assert [(a, who) for a, who, *_ in rows] == [
        ("state.reverted", "dora"),
        ("trigger.resolved", "dora"),
    ]
    assert _current_state(web_engine, patient) == "active_surveillance"

    _refused(nina, audit, f"{base}/reopen", {"reason": "second look"})
    assert f"{base}/reopen" in dora.get(f"/patients/{patient}").text
    audit.new()
    rows = post(dora, audit, f"{base}/reopen", {"reason": "re-read: the growth is real"})
    assert rows == [("trigger.reopened", "dora", "web", patient, subject)]
