"""The web's side of one way in, for accounts and everything around the record: every form post
of the login, admin and calendar-feed pages, and the worklist export, through the real app
logged in, on SQLite and PostgreSQL, with the audit rows each leaves (channel web, the client's
address). Refusals (another clinic's patient, a forged form) are audited as such and change
nothing else. No route here holds a request-wide write session.
"""

import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from surveil.config import DatabaseSettings, Settings, WebSettings
from surveil.db import models as m
from surveil.web import deps
from surveil.web.app import create_app
from tests.web.conftest import BASE, csrf_of, login
from tests.web.seed import NO_TOTP, PASSWORD, make_item, make_patient, make_user

SHELL_COVERED: frozenset[str] = frozenset(
    {
        "auth.login_submit",
        "auth.logout",
        "admin.users_add",
        "admin.users_active",
        "feeds.issue",
        "feeds.rotate",
        "feeds.revoke",
        "worklist.csv",  # a GET, but an export: an audited read
    }
)
NOT_AUDITED: dict[str, str] = {}  # every form post of these pages is audited

CLIENT_IP = "testclient"  # what Starlette's TestClient reports as the client address
Row = tuple[str, str, str, int | None]  # action, actor, channel, patient


@pytest.fixture
def web(db_url: str, engine: sa.Engine) -> Iterator[tuple[TestClient, sa.Engine, dict[str, int]]]:
    """The app on a registry with an admin and a navigator of the north clinic, a navigator of
    the south, and a patient of each clinic (the north one with an overdue MRI)."""
    settings = Settings(
        database=DatabaseSettings(url=db_url),
        security=NO_TOTP,
        web=WebSettings(secret_key="test-secret-" + "x" * 32, login_attempts=3),
    )
    with Session(engine) as session:
        make_user(session, "ada", role="admin", clinic="north")
        nina = make_user(session, "nina", role="navigator", clinic="north")
        make_user(session, "sam", role="navigator", clinic="south")
        north = make_patient(session, "N-1", clinic="north")
        south = make_patient(session, "S-1", clinic="south", family="Lindqvist")
        day = dt.datetime.now(dt.UTC).date()
        make_item(session, north, earliest=day - dt.timedelta(days=60),
                  latest=day - dt.timedelta(days=5))  # fmt: skip
        session.commit()
        ids = {"nina": nina.id or 0, "north": north.id or 0, "south": south.id or 0}
    with TestClient(create_app(settings, engine=engine), base_url=BASE) as client:
        yield client, engine, ids


def last_audit(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(sa.select(sa.func.max(m.AuditEvent.id))).scalar() or 0


def audit_since(engine: sa.Engine, after: int) -> list[Row]:
    with Session(engine) as session:
        events = session.exec(
            select(m.AuditEvent).where(m.AuditEvent.id > after).order_by(m.AuditEvent.id)
        ).all()
        assert all(e.ip == CLIENT_IP for e in events if e.actor != "-")
        return [(e.action, e.actor, e.channel, e.patient_id) for e in events]


def post(client: TestClient, path: str, **data: str) -> httpx.Response:
    token = csrf_of(client, "/worklist")
    return client.post(path, data={"csrf_token": token, **data}, follow_redirects=False)


def test_no_route_holds_a_write_session() -> None:
    """Routes that write call entry points; the only session a request gets is the read-only
    snapshot, and the web layer has no way to open another (``web.deps`` offers none)."""
    assert not hasattr(deps, "get_db")
    from surveil.web.app import ROUTERS

    routes = [r for router in ROUTERS for r in _flat(router.routes)]
    assert routes
    for route in routes:
        if isinstance(route, APIRoute):
            calls = _dependencies(route.dependant)
            sessions = {c for c in calls if getattr(c, "__name__", "").endswith("_db")}
            assert sessions <= {deps.get_read_db}, route.name


def _flat(routes: list[Any]) -> list[Any]:
    """Routes, including those of routers included in a router (FastAPI wraps them)."""
    found: list[Any] = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        found += _flat(inner.routes) if inner is not None else [route]
    return found


def _dependencies(dependant: object) -> set[object]:
    found: set[object] = set()
    for sub in getattr(dependant, "dependencies", []):
        found.add(sub.call)
        found |= _dependencies(sub)
    return found


def test_login_and_logout(web: tuple[TestClient, sa.Engine, dict[str, int]]) -> None:
    client, engine, _ = web
    start = last_audit(engine)
    token = csrf_of(client, "/login")
    refused = client.post(
        "/login", data={"username": "nina", "password": "nope", "csrf_token": token}
    )
    assert refused.status_code == 401
    login(client, "nina")
    assert client.post("/logout", data={"csrf_token": csrf_of(client, "/worklist")},
                       follow_redirects=False).status_code == 303  # fmt: skip
    assert audit_since(engine, start) == [
        ("login.failed", "nina", "web", None),
        ("login.succeeded", "nina", "web", None),
        ("logout", "nina", "web", None),
    ]


def test_calendar_feed_forms(web: tuple[TestClient, sa.Engine, dict[str, int]]) -> None:
    client, engine, ids = web
    login(client, "nina")
    page = f"/patients/{ids['north']}"
    start = last_audit(engine)
    issued = post(client, f"{page}/feeds", label="iPhone")
    assert issued.status_code == 200 and "Give these to the patient now" in issued.text
    (first,) = _feed_ids(engine)
    rotated = post(client, f"{page}/feeds/{first}/rotate")
    assert rotated.status_code == 200
    (second,) = _feed_ids(engine, active=True)
    revoked = post(client, f"{page}/feeds/{second}/revoke")
    assert revoked.status_code == 303
    north = ("nina", "web", ids["north"])
    assert audit_since(engine, start) == [
        ("feed.issued", *north),
        ("feed.issued", *north),
        ("feed.rotated", *north),
        ("feed.revoked", *north),
    ]
    # Another clinic's patient: answered as not found, the refusal audited, nothing issued.
    start = last_audit(engine)
    other = post(client, f"/patients/{ids['south']}/feeds", label="x")
    assert other.status_code == 404
    assert audit_since(engine, start) == [("access.denied", "nina", "web", ids["south"])]
    long_label = post(client, f"{page}/feeds", label="x" * 65)
    assert long_label.status_code == 303 and len(_feed_ids(engine)) == 2


def _feed_ids(engine: sa.Engine, *, active: bool = False) -> list[str]:
    with Session(engine) as session:
        query = select(m.FeedToken.public_id).order_by(m.FeedToken.id)
        if active:
            query = query.where(m.FeedToken.revoked_at == None)  # noqa: E711 (SQL IS NULL)
        return list(session.exec(query))


def test_admin_forms(web: tuple[TestClient, sa.Engine, dict[str, int]]) -> None:
    client, engine, ids = web
    login(client, "ada")
    start = last_audit(engine)
    added = post(client, "/admin/users", username="tom", display_name="Tom", role="clinician",
                 clinic="north", password=PASSWORD)  # fmt: skip
    assert added.status_code == 303
    bad = post(client, "/admin/users", username="T!", role="boss", clinic="", password="x")
    assert bad.status_code == 303
    assert "The user was not added" in client.get("/admin/users").text
    off = post(client, f"/admin/users/{ids['nina']}/active", active="no")
    assert off.status_code == 303
    assert audit_since(engine, start) == [
        ("user.added", "ada", "web", None),
        ("user.deactivated", "ada", "web", None),
    ]
    # A navigator may not: refused before anything is read or written.
    login(client, "sam")
    start = last_audit(engine)
    assert post(client, "/admin/users", username="una", role="admin", clinic="south",
                password=PASSWORD).status_code == 403  # fmt: skip
    assert audit_since(engine, start) == []


def test_worklist_export_and_a_forged_form(
    web: tuple[TestClient, sa.Engine, dict[str, int]],
) -> None:
    client, engine, _ = web
    login(client, "nina")
    start = last_audit(engine)
    exported = client.get("/worklist.csv")
    assert exported.status_code == 200 and "N-1" in exported.text
    forged = client.post("/logout", data={"csrf_token": "forged"}, follow_redirects=False)
    assert forged.status_code == 403
    assert audit_since(engine, start) == [
        ("worklist.exported", "nina", "web", None),
        ("csrf.rejected", "nina", "web", None),
    ]
