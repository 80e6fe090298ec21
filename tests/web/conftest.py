"""Web fixtures: an app on a migrated database, seeded people, and logged-in TestClients."""

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from surveil.config import DatabaseSettings, Settings, WebSettings
from surveil.db.session import make_engine
from surveil.web.app import create_app
from tests.web.seed import PASSWORD, make_item, make_patient, make_trigger, make_user

BASE = "http://testserver"


@dataclass(frozen=True)
class World:
    """What the web tests find in the registry (ids only: rows belong to their session)."""

    overdue_item: int
    due_item: int
    marker_item: int
    north_patient: int
    south_patient: int
    trigger: int


@pytest.fixture
def web_settings(sqlite_url: str) -> Settings:
    return Settings(
        database=DatabaseSettings(url=sqlite_url),
        web=WebSettings(secret_key="test-secret-" + "x" * 32, login_attempts=3),
    )


@pytest.fixture
def web_engine(web_settings: Settings) -> Iterator[sa.Engine]:
    engine = make_engine(web_settings.database.url)
    yield engine
    engine.dispose()


@pytest.fixture
def world(web_engine: sa.Engine) -> World:
    """Two clinics, a navigator each, an admin; a north patient with an overdue MRI, a due CgA
    and an open growth trigger; a south patient with a due MRI."""
    today = dt.datetime.now(dt.UTC).date()
    day = dt.timedelta(days=1)
    with Session(web_engine, expire_on_commit=False) as session:
        make_user(session, "nina", role="navigator", clinic="north")
        make_user(session, "sam", role="navigator", clinic="south")
        make_user(session, "ada", role="admin", clinic="north")
        north = make_patient(session, "N-100", clinic="north", family="Okafor", given="Ada")
        south = make_patient(session, "S-200", clinic="south", family="Lindqvist", given="Bo")
        overdue = make_item(session, north, earliest=today - 90 * day, latest=today - 12 * day)
        marker = make_item(
            session, north, kind="cga", earliest=today - 5 * day, latest=today + 20 * day
        )
        due = make_item(session, south, earliest=today - 5 * day, latest=today + 20 * day)
        trigger = make_trigger(session, north, detected_on=today - 2 * day)
        session.commit()
        assert overdue.id and due.id and marker.id and north.id and south.id and trigger.id
        return World(overdue.id, due.id, marker.id, north.id, south.id, trigger.id)


@pytest.fixture
def app(web_settings: Settings, web_engine: sa.Engine) -> FastAPI:
    return create_app(web_settings, engine=web_engine)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url=BASE) as client:
        yield client


def csrf_of(client: TestClient, path: str = "/login") -> str:
    """The CSRF token the page at ``path`` put in its forms."""
    import re

    html = client.get(path).text
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, f"no CSRF field on {path}"
    return found.group(1)


def login(client: TestClient, username: str, password: str = PASSWORD) -> None:
    token = csrf_of(client)
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


@pytest.fixture
def nina(client: TestClient, world: World) -> TestClient:
    login(client, "nina")
    return client
