"""The second factor and passwords through the web (issue 21): the login's extra steps, the
account pages and the administrator's resets, with the default rule (clinicians and admins must
use a second factor), on SQLite and PostgreSQL. Every form post is walked with its audit rows."""

import re
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from httpx import Response
from sqlmodel import Session, select

from surveil.config import DatabaseSettings, Settings, WebSettings
from surveil.db import models as m
from surveil.web.app import create_app
from tests.web.seed import PASSWORD, SECRET_KEY, make_user
from tests.web.totp_helpers import code, recovery_codes_on, secret_on, settle

SHELL_COVERED: frozenset[str] = frozenset(
    {
        "login.second_factor_submit",
        "login.enrol_start",
        "login.enrol_confirm",
        "login.new_password_submit",
        "account.password_submit",
        "account.second_factor_start",
        "account.second_factor_confirm",
        "admin.second_factor_reset",
        "admin.password_reset",
    }
)
NOT_AUDITED: dict[str, str] = {}
BASE = "http://testserver"
NEW = "a brand new passphrase"


@pytest.fixture
def web(engine: sa.Engine) -> Iterator[tuple[sa.Engine, dict[str, int]]]:
    with Session(engine) as session:
        users = {name: make_user(session, name, role=role)
                 for name, role in (("ada", "admin"), ("carl", "clinician"),
                                    ("nina", "navigator"))}  # fmt: skip
        session.commit()
        ids = {name: u.id for name, u in users.items() if u.id}
    yield engine, ids


def app_client(db_url: str, engine: sa.Engine) -> TestClient:
    settings = Settings(
        database=DatabaseSettings(url=db_url),
        web=WebSettings(secret_key=SECRET_KEY, login_attempts=20),
    )
    return TestClient(create_app(settings, engine=engine), base_url=BASE)


def csrf(client: TestClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, (path, page.status_code, page.text[:300])
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, f"no CSRF field on {path}"
    return found.group(1)


def post(client: TestClient, path: str, form_page: str, **data: str) -> Response:
    return client.post(path, data={**data, "csrf_token": csrf(client, form_page)},
                       follow_redirects=False)  # fmt: skip


def password_step(client: TestClient, username: str, password: str = PASSWORD) -> str:
    response = post(client, "/login", "/login", username=username, password=password)
    assert response.status_code == 303
    return str(response.headers["location"])


def actions(engine: sa.Engine, username: str) -> list[str]:
    with Session(engine) as session:
        query = select(m.AuditEvent.action).where(m.AuditEvent.actor == username)
        return list(session.exec(query.order_by(m.AuditEvent.id)))


def enrol_at_login(client: TestClient, username: str) -> tuple[str, list[str]]:
    """Log in as a user who must set up a second factor; their secret and recovery codes."""
    assert password_step(client, username) == "/login/enrol"
    # No session yet: a page needing one turns the visitor back; the parked login waits (it
    # lives in the pre-login session, and still needs the factor set up).
    assert client.get("/worklist", follow_redirects=False).status_code == 303
    assert client.get("/login/enrol", follow_redirects=False).status_code == 200
    assert password_step(client, username) == "/login/enrol"
    start = post(client, "/login/enrol/start", "/login/enrol")
    assert start.headers["location"] == "/login/enrol"
    secret = secret_on(client.get("/login/enrol").text)
    settle()
    wrong = post(client, "/login/enrol/confirm", "/login/enrol", code="123456")
    assert wrong.status_code == 422
    assert "code: is not the current code" in wrong.text
    done = post(client, "/login/enrol/confirm", "/login/enrol", code=code(secret))
    assert done.status_code == 200
    codes = recovery_codes_on(done.text)
    assert len(codes) == 10
    return secret, codes


def test_a_clinician_must_enrol_then_logs_in_with_a_code(
    db_url: str, web: tuple[sa.Engine, dict[str, int]]
) -> None:
    engine, _ = web
    with app_client(db_url, engine) as client:
        secret, codes = enrol_at_login(client, "carl")
        assert client.get("/worklist").status_code == 200  # the session started
        client.post("/logout", data={"csrf_token": csrf(client, "/worklist")})
        assert password_step(client, "carl") == "/login/second-factor"
        assert client.get("/worklist", follow_redirects=False).status_code == 303
        assert password_step(client, "carl") == "/login/second-factor"
        wrong = post(client, "/login/second-factor", "/login/second-factor", code="000000")
        assert wrong.status_code == 401
        good = post(client, "/login/second-factor", "/login/second-factor", code=code(secret, 1))
        assert good.headers["location"] == "/worklist"
        assert client.get("/worklist").status_code == 200
        client.post("/logout", data={"csrf_token": csrf(client, "/worklist")})
        # The same code again is a replay; a recovery code works once.
        password_step(client, "carl")
        again = post(client, "/login/second-factor", "/login/second-factor", code=code(secret, 1))
        assert again.status_code == 401
        rescue = post(client, "/login/second-factor", "/login/second-factor", code=codes[0])
        assert rescue.status_code == 303
    assert actions(engine, "carl") == [
        "login.succeeded", "login.succeeded", "second_factor.enrolment_started",
        "second_factor.enrolled", "login.completed", "logout",
        "login.succeeded", "login.succeeded", "login.second_factor_failed",
        "login.second_factor_passed", "login.completed", "logout",
        "login.succeeded", "login.second_factor_failed", "second_factor.recovery_code_used",
        "login.completed",
    ]  # fmt: skip


def test_five_wrong_codes_end_the_pending_login(
    db_url: str, web: tuple[sa.Engine, dict[str, int]]
) -> None:
    engine, _ = web
    with app_client(db_url, engine) as client:
        enrol_at_login(client, "carl")
        client.post("/logout", data={"csrf_token": csrf(client, "/worklist")})
        password_step(client, "carl")
        for _ in range(4):
            refused = post(client, "/login/second-factor", "/login/second-factor", code="999999")
            assert refused.status_code == 401
        last = post(client, "/login/second-factor", "/login/second-factor", code="999999")
        assert last.headers["location"] == "/login"
        gone = client.get("/login/second-factor", follow_redirects=False)
        assert gone.headers["location"] == "/login"


def test_password_change_refuses_every_problem_at_once_then_ends_the_session(
    db_url: str, web: tuple[sa.Engine, dict[str, int]]
) -> None:
    engine, ids = web
    with app_client(db_url, engine) as client:
        assert password_step(client, "nina") == "/worklist"  # navigators: no second factor
        bad = post(client, "/account/password", "/account/password", current_password="nope",
                   new_password="password", confirm_password="other")  # fmt: skip
        assert bad.status_code == 422
        for problem in ("current_password: is not your current password",
                        "new_password: must be at least 12 characters",
                        "confirm_password: does not match"):  # fmt: skip
            assert problem in bad.text
        common = post(client, "/account/password", "/account/password",
                      current_password=PASSWORD, new_password="1qaz2wsx3edc",
                      confirm_password="1qaz2wsx3edc")  # fmt: skip
        assert "one of the most common passwords" in common.text
        done = post(client, "/account/password", "/account/password", current_password=PASSWORD,
                    new_password=NEW, confirm_password=NEW)  # fmt: skip
        assert done.headers["location"] == "/login"
        assert client.get("/worklist", follow_redirects=False).status_code == 303
        assert password_step(client, "nina", NEW) == "/worklist"
    with Session(engine) as session:
        event = session.exec(
            select(m.AuditEvent).where(m.AuditEvent.action == "user.password_changed")
        ).one()
    assert (event.actor, event.subject, event.channel) == ("nina", f"user:{ids['nina']}", "web")


def test_a_navigator_may_enrol_from_the_account_page(
    db_url: str, web: tuple[sa.Engine, dict[str, int]]
) -> None:
    engine, _ = web
    with app_client(db_url, engine) as client:
        password_step(client, "nina")
        page = client.get("/account/second-factor").text
        assert "You can add a second factor" in page
        post(client, "/account/second-factor/start", "/account/second-factor")
        secret = secret_on(client.get("/account/second-factor").text)
        settle()
        done = post(client, "/account/second-factor/confirm", "/account/second-factor",
                    code=code(secret))  # fmt: skip
        assert len(recovery_codes_on(done.text)) == 10
        assert "10 of your recovery codes are unused" in client.get("/account/second-factor").text
        client.post("/logout", data={"csrf_token": csrf(client, "/worklist")})
        assert password_step(client, "nina") == "/login/second-factor"  # now always asked


def test_admin_resets_force_a_new_password_and_a_new_enrolment(
    db_url: str, web: tuple[sa.Engine, dict[str, int]]
) -> None:
    engine, ids = web
    with app_client(db_url, engine) as carl, app_client(db_url, engine) as ada:
        enrol_at_login(carl, "carl")
        carl.post("/logout", data={"csrf_token": csrf(carl, "/worklist")})
        _, ada_codes = enrol_at_login(ada, "ada")
        users = ada.get("/admin/users").text
        assert f'action="/admin/users/{ids["carl"]}/password"' in users
        weak = post(ada, f"/admin/users/{ids['carl']}/password", "/admin/users",
                    temporary_password="short")  # fmt: skip
        assert weak.status_code == 303
        assert "must be at least 12 characters" in ada.get("/admin/users").text
        post(ada, f"/admin/users/{ids['carl']}/password", "/admin/users",
             temporary_password="temporary passphrase")  # fmt: skip
        post(ada, f"/admin/users/{ids['carl']}/second-factor/reset", "/admin/users")
        # Carl: the temporary password, a new second factor, then his own password.
        assert password_step(carl, "carl", "temporary passphrase") == "/login/enrol"
        post(carl, "/login/enrol/start", "/login/enrol")
        secret = secret_on(carl.get("/login/enrol").text)
        settle()
        done = post(carl, "/login/enrol/confirm", "/login/enrol", code=code(secret))
        assert 'href="/login/new-password"' in done.text
        same = post(carl, "/login/new-password", "/login/new-password",
                    new_password="temporary passphrase",
                    confirm_password="temporary passphrase")  # fmt: skip
        assert same.status_code == 422
        chosen = post(carl, "/login/new-password", "/login/new-password", new_password=NEW,
                      confirm_password=NEW)  # fmt: skip
        assert chosen.headers["location"] == "/worklist"
        assert carl.get("/worklist").status_code == 200
        assert len(ada_codes) == 10
    assert actions(engine, "ada")[-2:] == ["user.password_reset", "second_factor.reset"]
    assert actions(engine, "carl")[-3:] == [
        "second_factor.enrolled",
        "user.password_changed",
        "login.completed",
    ]
