"""Login, sessions, CSRF, headers and throttling through the real app (TestClient)."""

import dataclasses
import datetime as dt

import pytest
import sqlalchemy as sa
import time_machine
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from surveil.config import Settings
from surveil.db import models as m
from surveil.web.app import create_app
from tests.web.conftest import BASE, World, csrf_of, login
from tests.web.seed import PASSWORD


def actions_of(engine: sa.Engine, prefix: str) -> list[tuple[str, str]]:
    with Session(engine) as session:
        rows = session.exec(select(m.AuditEvent).order_by(m.AuditEvent.id)).all()  # type: ignore[arg-type]
        return [(a.actor, a.action) for a in rows if a.action.startswith(prefix)]


@pytest.mark.usefixtures("world")
def test_pages_need_a_login_and_remember_where_you_were(client: TestClient) -> None:
    response = client.get("/worklist?kind=mri", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/worklist%3Fkind%3Dmri"


@pytest.mark.usefixtures("world")
def test_wrong_password_is_refused_and_recorded(client: TestClient, web_engine: sa.Engine) -> None:
    token = csrf_of(client)
    response = client.post(
        "/login", data={"username": "nina", "password": "wrong password", "csrf_token": token}
    )
    assert response.status_code == 401
    assert "Wrong username or password." in response.text
    unknown = client.post(
        "/login", data={"username": "nobody", "password": "wrong password", "csrf_token": token}
    )
    assert "Wrong username or password." in unknown.text  # same words: no user enumeration
    assert actions_of(web_engine, "login.") == [
        ("nina", "login.failed"),
        ("nobody", "login.failed"),
    ]
    assert client.get("/worklist", follow_redirects=False).status_code == 303


@pytest.mark.usefixtures("world")
def test_login_sets_a_strict_httponly_cookie_and_shows_the_worklist(
    client: TestClient, web_engine: sa.Engine
) -> None:
    token = csrf_of(client)
    response = client.post(
        "/login",
        data={
            "username": "Nina",
            "password": PASSWORD,
            "csrf_token": token,
            "next": "//evil.example",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/worklist"  # never an open redirect
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    # Only an id, and no Max-Age: idle and absolute expiry are kept on the server.
    assert "max-age" not in cookie and len(cookie.split(";")[0].split("=", 1)[1]) == 43
    page = client.get("/worklist")
    assert "Welcome, Nina." in page.text and "Open triggers" in page.text
    assert csrf_of(client, "/worklist") != token  # a new session (and token) at login
    assert actions_of(web_engine, "login.") == [("nina", "login.succeeded")]


@pytest.mark.usefixtures("world")
def test_repeated_failures_are_throttled_even_with_the_right_password(client: TestClient) -> None:
    token = csrf_of(client)
    for _ in range(3):  # web_settings: login_attempts=3
        client.post("/login", data={"username": "nina", "password": "nope", "csrf_token": token})
    response = client.post(
        "/login", data={"username": "nina", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 429
    assert "Too many failed attempts" in response.text


def test_logout_ends_the_session(nina: TestClient, web_engine: sa.Engine) -> None:
    token = csrf_of(nina, "/worklist")
    nina.post("/logout", data={"csrf_token": token})
    assert nina.get("/worklist", follow_redirects=False).status_code == 303
    assert actions_of(web_engine, "logout") == [("nina", "logout")]


@pytest.mark.usefixtures("world")
def test_sessions_have_an_absolute_lifetime(web_settings: Settings, web_engine: sa.Engine) -> None:
    long_idle = dataclasses.replace(
        web_settings, web=dataclasses.replace(web_settings.web, session_minutes=24 * 60)
    )
    start = dt.datetime(2026, 6, 15, 8, 0, tzinfo=dt.UTC)
    app = create_app(long_idle, engine=web_engine)
    with (
        time_machine.travel(start, tick=False) as clock,
        TestClient(app, base_url=BASE) as client,
    ):
        login(client, "nina")
        clock.shift(dt.timedelta(hours=11, minutes=59))
        assert client.get("/worklist", follow_redirects=False).status_code == 200
        clock.shift(dt.timedelta(minutes=2))
        assert client.get("/worklist", follow_redirects=False).status_code == 303


@pytest.mark.usefixtures("world")
def test_idle_sessions_expire(client: TestClient) -> None:
    with time_machine.travel(dt.datetime.now(dt.UTC), tick=False) as clock:
        login(client, "nina")
        clock.shift(dt.timedelta(minutes=479))
        assert client.get("/worklist", follow_redirects=False).status_code == 200
        clock.shift(dt.timedelta(minutes=481))  # 8 h of inactivity since the last request
        assert client.get("/worklist", follow_redirects=False).status_code == 303


@pytest.mark.usefixtures("world")
def test_security_headers_on_every_page(client: TestClient) -> None:
    for path in ("/login", "/static/surveil.css"):
        headers = client.get(path).headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
    assert client.get("/login").headers["cache-control"] == "no-store"


def test_csrf_token_and_origin_are_checked_on_every_post(
    nina: TestClient, world: World, web_engine: sa.Engine
) -> None:
    url = f"/items/{world.overdue_item}/ordered"
    assert nina.post(url, data={}).status_code == 403
    assert nina.post(url, data={"csrf_token": "forged"}).status_code == 403
    token = csrf_of(nina, "/worklist")
    forged = nina.post(url, data={"csrf_token": token}, headers={"origin": "https://evil.example"})
    assert forged.status_code == 403
    with Session(web_engine) as session:
        assert session.get(m.FollowUpItem, world.overdue_item).state == "planned"  # type: ignore[union-attr]
    assert [a for _, a in actions_of(web_engine, "csrf.")] == ["csrf.rejected"] * 3
    ok = nina.post(
        url, data={"csrf_token": token}, headers={"origin": BASE}, follow_redirects=False
    )
    assert ok.status_code == 303
