"""The patient page's growth chart and the FHIR export read the trigger thresholds of the protocol
IN FORCE for the clinic (an activated pack version or profile), not the baseline profile (issue
15), on SQLite and PostgreSQL. A copy of the shipped packs whose 2027.1 default profile has its
own thresholds (size 15 mm, growth 3 mm/yr, readings at least 400 days apart) makes the
difference visible: before the activation the page draws 20 mm and 5 mm/yr and the export has a
growth rate from two scans a year apart; after it, 15 mm and 3 mm/yr and no growth rate."""

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session

from surveil.config import ClinicSettings, DatabaseSettings, PathSettings, Settings, WebSettings
from surveil.core.zones import today_in
from surveil.db.engine import make_engine
from surveil.resources import resource_dir
from surveil.services.actor import Actor
from surveil.services.export.fhir.bundle import export_patient_bundle
from surveil.services.registry import patients as registry
from surveil.services.rollout.activation import activate_protocol
from surveil.web.app import create_app
from tests.fhir_checks import by_type, validate_bundle
from tests.web.conftest import BASE, SECRET_KEY, login
from tests.web.seed import NO_TOTP, make_patient, make_user

OWN = """[profiles.default.thresholds]
growth_mm_per_year = 3.0
min_spacing_days = 400
"""


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    folder = tmp_path / "schedules"
    shutil.copytree(resource_dir("schedules"), folder)
    pack = folder / "net-default-2027.1.toml"
    text = pack.read_text(encoding="utf-8")
    old = "[profiles.default.thresholds]\ngrowth_mm_per_year = 5.0\n"
    assert old in text
    text = text.replace(old, OWN).replace(
        "size_mm = 20.0", "size_mm = 15.0", 1
    )  # the first: the default profile's thresholds
    pack.write_text(text, encoding="utf-8")
    return Settings(
        database=DatabaseSettings(url=db_url),
        security=NO_TOTP,
        web=WebSettings(secret_key=SECRET_KEY),
        clinic=ClinicSettings(name="north"),
        paths=PathSettings(schedules=folder),
    )


@pytest.fixture
def world(settings: Settings) -> Iterator[tuple[sa.Engine, int, dt.date]]:
    engine = make_engine(settings.database.url)
    today = today_in(settings.clinic.timezone, dt.datetime.now(dt.UTC))
    with Session(engine, expire_on_commit=False) as session:
        make_user(session, "nina", role="navigator", clinic="north")
        make_user(session, "dr.ada", role="clinician", clinic="north")
        patient = make_patient(session, "N-1", clinic="north", navigator="nina")
        for days_ago, mm in ((400, 12), (35, 18)):  # 365 days apart: a rate under the baseline
            registry.add_measurement(
                session, patient=patient, lesion="L1", diameter_mm=mm, modality="mri",
                date=(today - dt.timedelta(days=days_ago)).isoformat(), today=today,
            )  # fmt: skip
        session.commit()
        assert patient.id is not None
        pid = patient.id
    yield engine, pid, today
    engine.dispose()


def page(settings: Settings, engine: sa.Engine, patient_id: int) -> str:
    with TestClient(create_app(settings, engine=engine), base_url=BASE) as client:
        login(client, "nina")
        response = client.get(f"/patients/{patient_id}")
        assert response.status_code == 200
        return response.text


def growth_rates(settings: Settings, engine: sa.Engine, patient_id: int) -> int:
    nina = Actor(username="nina", role="navigator", clinic="north")
    bundle = export_patient_bundle(
        engine, actor=nina, patient_id=patient_id, settings=settings, now=dt.datetime.now(dt.UTC)
    )
    observations = by_type(validate_bundle(bundle), "Observation")
    return sum(o["id"].startswith("growth-rate-") for o in observations)


def test_page_and_export_follow_the_activated_protocol(
    settings: Settings, world: tuple[sa.Engine, int, dt.date]
) -> None:
    engine, pid, today = world
    before = page(settings, engine, pid)
    assert "20 mm" in before and "5 mm/yr" in before
    assert "15 mm" not in before and "3 mm/yr" not in before
    assert growth_rates(settings, engine, pid) == 1

    activate_protocol(
        engine, actor=Actor.system(clinic="north"), settings=settings, version="2027.1",
        approved_by="dr.ada", effective_on=today, today=today,
    )  # fmt: skip
    after = page(settings, engine, pid)
    assert "15 mm" in after and "3 mm/yr" in after
    assert "5 mm/yr" not in after
    assert growth_rates(settings, engine, pid) == 0  # 365 days apart: under 400, no rate
