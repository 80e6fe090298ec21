"""A form fuzzer over every POST route of the web app (issue 21, point 9), on SQLite and
PostgreSQL: 0 answers of 500 or more.

Routes are discovered from the app itself, so a form added later is fuzzed without anyone
remembering to list it. Each is posted, signed in as an administrator (who reaches every page)
with a valid CSRF token, with hypothesis-drawn values: NUL and other control characters, huge
and negative numbers, dates outside any calendar surveil accepts, long and odd Unicode text,
missing fields, and ids that exist, do not, or overflow 64 bits. The login form is fuzzed from
an address of its own, so its throttle does not shut the administrator out. Bounded to well
under a minute per backend (see ``EXAMPLES``).
"""

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from surveil.db import models as m
from surveil.services.users.accounts import hash_password
from surveil.web.app import create_app
from tests.web.conftest import BASE, csrf_of, login
from tests.web.seed import PASSWORD
from tests.web.test_one_way_in_accounts_shells import web
from tests.web.test_web_sessions import settings_for

__all__ = ["web"]

EXAMPLES = 8  # per route; about 60 routes, a few milliseconds each
BUDGET_SECONDS = 300  # a guard on the suite's length on a loaded 2-core machine, not a benchmark
# Routes after which the administrator may have signed herself out.
ENDS_SESSIONS = {"auth.logout", "admin.users_sign_out", "account.sessions_end"}

EDGE_TEXT = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x1b[31mred",
    "\r\nSet-Cookie: x=1",
    "\u202eevil",
    "0",
    "-1",
    "1e309",
    "NaN",
    "inf",
    str(2**31),
    str(2**63),
    str(2**64 + 1),
    "9" * 40,
    "0.0000000000000000000001",
    "9999-12-31",
    "0001-01-01",
    "1899-12-31",
    "2200-01-02",
    "2026-02-30",
    "2026-13-01",
    "2026-06-15T25:61",
    "25:61",
    "yes",
    "no",
    "admin",
    "navigator",
    "//evil.example",
    "/\\evil.example",
    "javascript:alert(1)",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "x" * 5000,
    "¹",  # str.isdigit() says yes, int() refuses: found by this fuzzer as a 500
    "٣",  # Eastern Arabic three: isdigit() and int() both accept it
    "１２",  # fullwidth digits
    "12:3٠",
)
EDGE_IDS = (0, -1, 2**31, 2**31 - 1, 2**63, 2**64 + 1, 10**30)

texts = st.one_of(
    st.sampled_from(EDGE_TEXT),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=60),
)
ids = st.one_of(st.integers(1, 8), st.sampled_from(EDGE_IDS))


def post_routes(app: FastAPI) -> list[APIRoute]:
    """Every route that takes a POST (or PUT, PATCH, DELETE), including those of routers
    included inside routers."""

    def walk(routes: list[Any]) -> Iterator[Any]:
        for route in routes:
            inner = getattr(route, "original_router", None)
            yield from walk(inner.routes) if inner is not None else (route,)

    return [
        route
        for route in walk(app.routes)
        if isinstance(route, APIRoute) and route.methods & {"POST", "PUT", "PATCH", "DELETE"}
    ]


def params_of(dependant: Any, kind: str) -> list[Any]:
    found = list(getattr(dependant, kind))
    for sub in dependant.dependencies:
        found += params_of(sub, kind)
    return found


@st.composite
def requests(draw: st.DrawFn, route: APIRoute) -> tuple[str, dict[str, str]]:
    """A path for ``route`` with drawn path parameters, and a drawn form."""
    path = route.path
    for param in params_of(route.dependant, "path_params"):
        numeric = param.field_info.annotation is int
        value = str(draw(ids)) if numeric and draw(st.integers(0, 9)) else draw(texts)
        path = path.replace("{" + param.alias + "}", quote(value, safe="") or "x")
    form = {
        param.alias: draw(texts)
        for param in params_of(route.dependant, "body_params")
        if draw(st.integers(0, 5))  # now and then a field is missing
    }
    return path, form


class Poster:
    """Posts as the administrator, signing in again when a route ended her session.

    The fuzzed admin routes may act on her own account (her id is among the drawn ones): a
    drawn password that passes the policy, or a deactivation, would lock her out, and every
    replay of the failing example would then count towards the login throttle. So she is
    restored before each sign-in: the fuzzer looks for server errors, not for a way back in."""

    def __init__(self, client: TestClient, engine: sa.Engine) -> None:
        self.client = client
        self.engine = engine
        self.sign_in()

    def sign_in(self) -> None:
        with Session(self.engine) as session:
            ada = session.exec(select(m.User).where(m.User.username == "ada")).one()
            ada.password_hash = hash_password(PASSWORD)
            ada.active, ada.must_change_password = True, False
            session.add(ada)
            session.commit()
        login(self.client, "ada")
        self.token = csrf_of(self.client, "/admin/users")

    def signed_in(self) -> bool:
        return self.client.get("/account/sessions", follow_redirects=False).status_code == 200

    def post(self, route: APIRoute, path: str, form: dict[str, str]) -> int:
        response = self.client.post(
            path, data={**form, "csrf_token": self.token}, follow_redirects=False
        )
        to_login = response.headers.get("location", "").startswith("/login")
        if (route.name in ENDS_SESSIONS or to_login) and not self.signed_in():
            self.sign_in()
        return response.status_code


def test_no_post_route_answers_a_server_error(web: tuple[Any, sa.Engine, Any], db_url: str) -> None:
    _, engine, _ = web
    app = create_app(settings_for(db_url), engine=engine)
    routes = post_routes(app)
    assert {"auth.login_submit", "items.done", "admin.users_add"} <= {r.name for r in routes}
    errors: list[str] = []
    statuses: list[int] = []
    started = time.monotonic()
    with (
        TestClient(app, base_url=BASE, raise_server_exceptions=False) as admin_client,
        TestClient(
            app, base_url=BASE, raise_server_exceptions=False, client=("192.0.2.99", 1)
        ) as anonymous,
    ):
        poster = Poster(admin_client, engine)
        for route in routes:
            fuzz_route(route, poster, anonymous, errors, statuses)
    elapsed = time.monotonic() - started
    assert not errors, "server errors:\n" + "\n".join(errors[:20])
    # Not vacuous: the forms were reached (redirects after a change or a flashed refusal) and
    # bad values were answered as such (404 unknown ids, 422 bad values, 429 throttled login).
    assert len(statuses) >= EXAMPLES * len(routes) // 2
    assert 303 in statuses and {404, 422} <= set(statuses)
    assert elapsed < BUDGET_SECONDS, f"the fuzzer took {elapsed:.0f} s"


def fuzz_route(
    route: APIRoute,
    poster: Poster,
    anonymous: TestClient,
    errors: list[str],
    statuses: list[int],
) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
    )
    @given(drawn=requests(route))
    def one(drawn: tuple[str, dict[str, str]]) -> None:
        path, form = drawn
        if route.name == "auth.login_submit":
            token = csrf_of(anonymous)
            status = anonymous.post(
                path, data={**form, "csrf_token": token}, follow_redirects=False
            ).status_code
        else:
            status = poster.post(route, path, form)
        statuses.append(status)
        if status >= 500:
            errors.append(f"{status} {route.name} POST {path!r} {form!r}")

    one()
