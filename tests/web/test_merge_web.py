"""The administrators' merge form on the patient page, through the real app (both backends):
the admin merges a duplicate into this record and undoes it, each leaving its audit rows; a
navigator's post is refused (403) and changes nothing; the form is shown to admins only."""

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from surveil.config import DatabaseSettings, Settings, WebSettings
from tests.web.conftest import BASE, World, csrf_of, login
from tests.web.seed import NO_TOTP
from tests.web.test_one_way_in_records_shells import Audit

SHELL_COVERED: frozenset[str] = frozenset({"patients.merge", "patients.unmerge"})
NOT_AUDITED: dict[str, str] = {}


@pytest.fixture
def web_settings(db_url: str) -> Settings:
    return Settings(
        database=DatabaseSettings(url=db_url),
        web=WebSettings(secret_key="test-secret-" + "x" * 32, login_attempts=3),
        security=NO_TOTP,
    )


@pytest.fixture
def ada(app: FastAPI, world: World) -> Iterator[TestClient]:  # noqa: ARG001 - seeds ada (admin)
    with TestClient(app, base_url=BASE) as client:
        login(client, "ada")
        yield client


def _post(client: TestClient, path: str, form: dict[str, str]) -> int:
    token = csrf_of(client, "/worklist")
    return client.post(path, data={"csrf_token": token, **form}).status_code


def test_an_admin_merges_and_unmerges_and_a_navigator_cannot(
    nina: TestClient, ada: TestClient, world: World, web_engine: sa.Engine
) -> None:
    keep, gone = world.north_patient, world.growth_patient
    assert 'action="/patients/merge"' not in nina.get(f"/patients/{keep}").text
    assert 'action="/patients/merge"' in ada.get(f"/patients/{keep}").text
    audit = Audit(web_engine)
    form = {"clinic": "north", "keep": "N-100", "gone": "N-101", "reason": "same person"}
    before = audit.record()
    assert _post(nina, "/patients/merge", form) == 403
    assert audit.new() == [] and audit.record() == before

    assert _post(ada, "/patients/merge", form) == 200
    rows = [(r.action, r.actor, r.patient_id) for r in audit.new()]
    assert rows[0] == ("patient.merged", "ada", keep)
    assert ("plan.stopped", "system", gone) in rows
    page = ada.get(f"/patients/{gone}").text
    assert "merged into MRN N-100" in page and 'action="/patients/unmerge"' in page
    audit.new()

    undo = {"clinic": "north", "gone": "N-101", "reason": "two people"}
    assert _post(nina, "/patients/unmerge", undo) == 403
    assert _post(ada, "/patients/unmerge", undo) == 200
    rows = [(r.action, r.actor, r.patient_id) for r in audit.new()]
    assert rows[0] == ("patient.unmerged", "ada", gone)
