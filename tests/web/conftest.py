"""Web fixtures: an app on a migrated database, seeded people, and logged-in TestClients."""

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from surveil.config import DatabaseSettings, Settings, WebSettings
from surveil.db.engine import make_engine
from surveil.services.registry import patients as registry
from surveil.web.app import create_app
from tests.web.seed import (
    NO_TOTP,
    PASSWORD,
    SECRET_KEY,
    make_item,
    make_patient,
    make_trigger,
    make_user,
)

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
    growth_patient: int
    growth_item: int


@pytest.fixture
def web_settings(sqlite_url: str) -> Settings:
    return Settings(
        database=DatabaseSettings(url=sqlite_url),
        security=NO_TOTP,
        web=WebSettings(secret_key=SECRET_KEY, login_attempts=3),
    )


@pytest.fixture
def web_engine(web_settings: Settings) -> Iterator[sa.Engine]:
    engine = make_engine(web_settings.database.url)
    yield engine
    engine.dispose()


@pytest.fixture
def world(web_engine: sa.Engine) -> World:
    """Two clinics, a navigator each, an admin; a north patient with an overdue MRI, a due CgA
    and an open growth trigger; a south patient with a due MRI. Each patient's navigator is their
    clinic's (nina, sam)."""
    today = dt.datetime.now(dt.UTC).date()
    day = dt.timedelta(days=1)
    with Session(web_engine, expire_on_commit=False) as session:
        make_user(session, "nina", role="navigator", clinic="north")
        make_user(session, "sam", role="navigator", clinic="south")
        make_user(session, "ada", role="admin", clinic="north")
        north = make_patient(
            session, "N-100", clinic="north", family="Okafor", given="Ada", navigator="nina"
        )
        south = make_patient(
            session, "S-200", clinic="south", family="Lindqvist", given="Bo", navigator="sam"
        )
        overdue = make_item(session, north, earliest=today - 90 * day, latest=today - 12 * day)
        marker = make_item(
            session, north, kind="cga", earliest=today - 5 * day, latest=today + 20 * day
        )
        due = make_item(session, south, earliest=today - 5 * day, latest=today + 20 * day)
        trigger = make_trigger(session, north, detected_on=today - 2 * day)
        # A small G1 pancreatic NET on surveillance, 10 mm a year ago, with its MRI due now.
        growing = make_patient(
            session, "N-101", clinic="north", family="Petrov", given="Ivan", navigator="nina"
        )
        registry.add_measurement(
            session,
            patient=growing,
            lesion="L1",
            date=(today - 365 * day).isoformat(),
            diameter_mm=10,
            modality="mri",
            today=today,
        )
        mri = make_item(session, growing, earliest=today - 3 * day, latest=today + 40 * day)
        session.commit()
        ids = (overdue.id, due.id, marker.id, north.id, south.id, trigger.id, growing.id, mri.id)
        assert all(ids)
        return World(*ids)  # type: ignore[arg-type]


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
def nina(client: TestClient, world: World) -> TestClient:  # noqa: ARG001 (seeds nina's account)
    login(client, "nina")
    return client


# --------------------------------------------------------------------------- real browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, object]) -> dict[str, object]:
    """Debian's chromium, never a downloaded one (ECOSYSTEM.md §5.2); the flags stop its
    background traffic, which this network blocks."""
    return {
        **browser_type_launch_args,
        "executable_path": "/usr/bin/chromium",
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, object]) -> dict[str, object]:
    return {**browser_context_args, "viewport": {"width": 1400, "height": 900}}


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[str]:
    """The app under a real uvicorn on a free loopback port, in a thread."""
    import socket
    import threading
    import time

    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(5)


def screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
