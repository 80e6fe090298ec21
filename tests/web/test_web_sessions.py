"""Server-side sessions through the real app, on SQLite and PostgreSQL (issue 21, point 1): a
cookie copied before logout is refused after it; deactivating then reactivating a user does not
revive their old cookies; an admin signs a user out everywhere; users see and end their own
sessions; two app instances (two web workers) share the same sessions."""

import re
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from surveil.config import DatabaseSettings, Settings, WebSettings
from surveil.db import models as m
from surveil.web.app import create_app
from surveil.web.security import cookie_name
from tests.web.conftest import BASE, csrf_of, login
from tests.web.seed import NO_TOTP
from tests.web.test_one_way_in_accounts_shells import audit_since, last_audit, post, web

__all__ = ["web"]  # the fixture: an admin (ada), nina and sam, a patient per clinic

SHELL_COVERED: frozenset[str] = frozenset(
    {"account.sessions_end", "account.sessions_end_others", "admin.users_sign_out"}
)
NOT_AUDITED: dict[str, str] = {}

Web = tuple[TestClient, sa.Engine, dict[str, int]]
COOKIE = cookie_name(WebSettings(secret_key="x" * 40))


def settings_for(db_url: str) -> Settings:
    return Settings(
        database=DatabaseSettings(url=db_url),
        web=WebSettings(secret_key="test-secret-" + "x" * 32, login_attempts=3),
        security=NO_TOTP,
    )


@pytest.fixture
def second_browser(web: Web, db_url: str) -> Iterator[TestClient]:
    """Another browser on another instance of the app (another web worker), same database."""
    _, engine, _ = web
    with TestClient(create_app(settings_for(db_url), engine=engine), base_url=BASE) as client:
        yield client


def signed_in(client: TestClient) -> bool:
    return client.get("/worklist", follow_redirects=False).status_code == 200


def copy_cookie(source: TestClient, target: TestClient) -> None:
    value = source.cookies.get(COOKIE)
    assert value
    target.cookies.set(COOKIE, value)


def test_a_copied_cookie_is_refused_after_logout(web: Web, second_browser: TestClient) -> None:
    client, _, _ = web
    login(client, "nina")
    copy_cookie(client, second_browser)  # the thief's copy, used through another worker
    assert signed_in(second_browser)
    logout = post(client, "/logout")
    assert logout.status_code == 303 and "cookies" in logout.headers["clear-site-data"]
    assert not signed_in(second_browser) and not signed_in(client)


def test_the_cookie_holds_only_an_id(web: Web) -> None:
    client, _, _ = web
    login(client, "nina")
    value = client.cookies.get(COOKIE) or ""
    assert len(value) == 43 and "." not in value  # 32 random bytes; nothing signed, no data


def test_sessions_are_shared_between_app_instances(web: Web, second_browser: TestClient) -> None:
    client, _, _ = web
    login(client, "nina")
    copy_cookie(client, second_browser)
    # A flash written on one worker is read on the other: the data is on the server.
    assert post(client, "/account/sessions/999999/end").status_code == 303
    assert "That session had already ended." in second_browser.get("/account/sessions").text


def test_deactivating_then_reactivating_does_not_revive_a_session(
    web: Web, second_browser: TestClient
) -> None:
    client, _, ids = web
    login(client, "nina")
    login(second_browser, "ada")
    post(second_browser, f"/admin/users/{ids['nina']}/active", active="no")
    assert not signed_in(client)
    post(second_browser, f"/admin/users/{ids['nina']}/active", active="yes")
    assert not signed_in(client)  # the old cookie stays dead
    login(client, "nina")
    assert signed_in(client)


def test_an_admin_signs_a_user_out_everywhere(web: Web, second_browser: TestClient) -> None:
    client, engine, ids = web
    login(client, "nina")
    login(second_browser, "ada")
    start = last_audit(engine)
    response = post(second_browser, f"/admin/users/{ids['nina']}/sessions/end")
    assert response.status_code == 303
    assert "Signed out of 1 session." in second_browser.get("/admin/users").text
    assert audit_since(engine, start) == [("sessions.ended", "ada", "web", None)]
    assert not signed_in(client) and signed_in(second_browser)
    # Only administrators may.
    login(client, "nina")
    start = last_audit(engine)
    refused = post(client, f"/admin/users/{ids['nina']}/sessions/end")
    assert refused.status_code == 403 and audit_since(engine, start) == []
    assert signed_in(client)


def test_users_see_their_sessions_and_sign_one_out(web: Web, second_browser: TestClient) -> None:
    client, engine, _ = web
    login(client, "nina")
    login(second_browser, "nina")
    page = client.get("/account/sessions").text
    ends = re.findall(r'action="/account/sessions/(\d+)/end"', page)
    assert len(ends) == 1 and "this browser" in page  # the other one has the button
    other = ends[0]
    start = last_audit(engine)
    response = client.post(
        f"/account/sessions/{other}/end",
        data={"csrf_token": csrf_of(client, "/account/sessions")},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert audit_since(engine, start) == [("session.ended", "nina", "web", None)]
    assert not signed_in(second_browser) and signed_in(client)
    assert not re.findall(r"/account/sessions/\d+/end", client.get("/account/sessions").text)


def test_another_users_session_cannot_be_ended(web: Web, second_browser: TestClient) -> None:
    client, engine, _ = web
    login(client, "nina")
    login(second_browser, "sam")
    with Session(engine) as session:
        sams = session.exec(
            select(m.WebSession.id).join(m.User).where(m.User.username == "sam")
        ).one()
    # Nina posts the id of Sam's session: not hers, so nothing ends and nothing is audited.
    start = last_audit(engine)
    assert post(client, f"/account/sessions/{sams}/end").status_code == 303
    assert "That session had already ended." in client.get("/account/sessions").text
    assert audit_since(engine, start) == [] and signed_in(second_browser)


def test_users_sign_out_all_their_other_sessions(web: Web, second_browser: TestClient) -> None:
    client, engine, _ = web
    login(client, "nina")
    login(second_browser, "nina")
    start = last_audit(engine)
    response = client.post(
        "/account/sessions/end-others",
        data={"csrf_token": csrf_of(client, "/account/sessions")},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert "Signed out of 1 other session." in client.get("/account/sessions").text
    assert audit_since(engine, start) == [("sessions.ended", "nina", "web", None)]
    assert signed_in(client) and not signed_in(second_browser)


def test_only_the_login_form_opens_a_session_for_a_visitor(web: Web) -> None:
    client, engine, _ = web
    for path in ("/no-such-page", "/worklist", "/static/surveil.css", "/feeds/x.ics"):
        assert "set-cookie" not in client.get(path, follow_redirects=False).headers, path
    with Session(engine) as session:
        assert session.exec(select(m.WebSession.id)).all() == []
    assert COOKIE in client.get("/login").headers["set-cookie"]
