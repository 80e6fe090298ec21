"""Pack 2027.1's tumour details in the browser (issue #15), through the real app on both
backends: selects on the enrolment form and the patient page's tumour form, a 422 with every
bad detail beside its field and nothing written, and the value shown back once saved."""

import re

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from surveil.config import DatabaseSettings, Settings, WebSettings
from surveil.db import models as m
from tests.web.conftest import World, csrf_of
from tests.web.seed import NO_TOTP, SECRET_KEY
from tests.web.test_enrol_form import GOOD

DETAILS = ("node_status", "adverse_histology", "carcinoid_type", "gastric_type")
DETAILS += ("carcinoid_heart_disease",)
BAD = {
    "node_status": "N2",
    "adverse_histology": "perineural",
    "carcinoid_type": "spindle",
    "gastric_type": "type_9",
    "carcinoid_heart_disease": "perhaps",
}
TUMOUR = {"site": "lung", "differentiation": "well", "sstr_status": "unknown", "functional": "none"}


@pytest.fixture
def web_settings(db_url: str) -> Settings:
    return Settings(
        database=DatabaseSettings(url=db_url),
        web=WebSettings(secret_key=SECRET_KEY, login_attempts=3),
        security=NO_TOTP,
    )


def _tumour_of(engine: sa.Engine, mrn: str) -> m.Tumour:
    with Session(engine) as session:
        patient = session.exec(select(m.Patient).where(m.Patient.mrn == mrn)).one()
        return session.exec(select(m.Tumour).where(m.Tumour.patient_id == patient.id)).one()


def _enrol(client: TestClient, form: dict[str, str]) -> object:
    token = csrf_of(client, "/patients/new")
    return client.post("/patients/new", data={"csrf_token": token, **form}, follow_redirects=False)


def test_the_enrolment_form_offers_selects_and_saves_the_details(
    nina: TestClient, web_engine: sa.Engine
) -> None:
    html = nina.get("/patients/new").text
    for name in DETAILS:
        assert re.search(rf'<select id="f-{name}" name="{name}"', html), name
    assert '<option value="lvi,muscularis">' in html
    form = {**GOOD, "site": "lung", "carcinoid_type": "atypical", "node_status": "N0"}
    form |= {"adverse_histology": "none", "gastric_type": "unknown"}
    response = _enrol(nina, form)
    assert response.status_code == 303, response.text  # type: ignore[attr-defined]
    tumour = _tumour_of(web_engine, "N-900")
    assert (tumour.carcinoid_type, tumour.node_status) == ("atypical", "N0")
    assert (tumour.adverse_histology, tumour.gastric_type) == ("", None)
    assert tumour.carcinoid_heart_disease is None


def test_enrolment_refuses_every_bad_detail_beside_its_field(
    nina: TestClient, web_engine: sa.Engine
) -> None:
    response = _enrol(nina, {**GOOD, **BAD})
    assert response.status_code == 422  # type: ignore[attr-defined]
    html = response.text  # type: ignore[attr-defined]
    for name in DETAILS:
        assert re.search(rf'id="f-{name}"[^>]*aria-invalid="true"', html), name
    with Session(web_engine) as session:
        assert session.exec(select(m.Patient).where(m.Patient.mrn == "N-900")).first() is None


def test_the_patient_pages_tumour_form_saves_shows_and_refuses_details(
    nina: TestClient, world: World, web_engine: sa.Engine
) -> None:
    patient = world.growth_patient
    token = csrf_of(nina, f"/patients/{patient}")
    bad = nina.post(f"/patients/{patient}/tumour", data={"csrf_token": token, **TUMOUR, **BAD})
    assert bad.status_code == 422
    for name in DETAILS:
        assert re.search(rf'id="tumour-{name}"[^>]*aria-invalid="true"', bad.text), name
    good = {**TUMOUR, "carcinoid_type": "typical", "node_status": "N1"}
    good |= {"adverse_histology": "lvi", "carcinoid_heart_disease": "yes"}
    token = csrf_of(nina, f"/patients/{patient}")
    saved = nina.post(
        f"/patients/{patient}/tumour",
        data={"csrf_token": token, **good},
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    with Session(web_engine) as session:
        tumour = session.exec(select(m.Tumour).where(m.Tumour.patient_id == patient)).one()
    assert (tumour.carcinoid_type, tumour.node_status) == ("typical", "N1")
    assert (tumour.adverse_histology, tumour.carcinoid_heart_disease) == ("lvi", True)
    page = nina.get(f"/patients/{patient}").text
    form = page[page.index('id="form-tumour"') :]
    assert re.search(r'<option value="typical" selected>', form)
    assert re.search(r'<option value="lvi" selected>', form)
    token = csrf_of(nina, f"/patients/{patient}")
    cleared = nina.post(
        f"/patients/{patient}/tumour",
        data={"csrf_token": token, **good, "carcinoid_type": "unknown"},
        follow_redirects=False,
    )
    assert cleared.status_code == 303
    with Session(web_engine) as session:
        tumour = session.exec(select(m.Tumour).where(m.Tumour.patient_id == patient)).one()
    assert tumour.carcinoid_type is None and tumour.node_status == "N1"
