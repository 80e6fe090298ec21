"""Input at the edges, on SQLite and PostgreSQL: control characters in any field, ids beyond 64
bits, dates outside 1900-2200, the 422 and 405 pages, and one 404 for missing and forbidden."""

import datetime as dt

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, SQLModel, select

from surveil.config import DatabaseSettings, Settings, WebSettings
from surveil.db import models as m
from surveil.services.actor import Actor
from surveil.services.feeds import tokens as feeds
from tests.web.conftest import World, csrf_of, login
from tests.web.routes import RouteSpec, app_routes
from tests.web.seed import NO_TOTP, SECRET_KEY

HUGE_IDS = (str(2**31), str(2**63), str(2**64), "9" * 30)


@pytest.fixture
def web_settings(db_url: str) -> Settings:
    """The web fixtures (app, client, world) on both backends for this module."""
    return Settings(
        database=DatabaseSettings(url=db_url),
        security=NO_TOTP,
        web=WebSettings(secret_key=SECRET_KEY, login_attempts=3),
    )


@pytest.fixture
def path_values(world: World, web_engine: sa.Engine) -> dict[str, str]:
    """A real value for every path parameter of the app."""
    with Session(web_engine, expire_on_commit=False) as session:
        nina = session.exec(select(m.User).where(m.User.username == "nina")).one()
        issued = feeds.issue_feed(
            session,
            patient_id=world.north_patient,
            label="phone",
            actor=Actor.system(),
            base_url="https://x.example",
        )
        session.commit()
    return {
        "patient_id": str(world.north_patient),
        "item_id": str(world.overdue_item),
        "trigger_id": str(world.trigger),
        "user_id": str(nina.id),
        "public_id": issued.feed.public_id,
        # The record-keeping routes (issue 13 B-2): refused at the edge, before any row is read.
        "therapy_id": "1",
        "row_id": "1",
        "message_id": "1",  # an HL7 message (issue 17); none is stored here
        "reply_id": "1",  # a patient's reply (issue 18); none is stored here
    }


@pytest.fixture
def ada(client: TestClient, world: World) -> TestClient:  # noqa: ARG001 - seeds first
    """The admin: every route is open to her."""
    login(client, "ada")
    return client


def row_counts(engine: sa.Engine) -> dict[str, object]:
    with engine.connect() as connection:
        counts: dict[str, object] = {
            t.name: connection.execute(sa.select(sa.func.count()).select_from(t)).scalar()
            for t in SQLModel.metadata.sorted_tables
        }
        counts["states"] = sorted(
            connection.execute(sa.text("SELECT id, state FROM followup_item")).all()
        )
    return counts


def posts(app: FastAPI) -> list[RouteSpec]:
    return [r for r in app_routes(app) if r.method == "POST"]


def test_every_form_field_refuses_control_characters(
    ada: TestClient, app: FastAPI, path_values: dict[str, str], web_engine: sa.Engine
) -> None:
    token = csrf_of(ada, "/worklist")
    before = row_counts(web_engine)
    tried = 0
    for route in posts(app):
        for field in route.form_fields:
            for bad in ("a\x00b", "\x1b[2J"):
                data = {"csrf_token": token, field: bad}
                answer = ada.post(route.url(path_values), data=data, follow_redirects=False)
                assert answer.status_code == 422, (route.path, field, answer.status_code)
                assert f"{field}: contains a control character" in answer.text, route.path
                tried += 1
    assert tried >= 2 * 30  # every POST route's fields, not a handful
    assert row_counts(web_engine) == before


@pytest.mark.usefixtures("web_engine")
def test_notes_keep_their_line_breaks(nina: TestClient, world: World) -> None:
    token = csrf_of(nina, "/worklist")
    done = nina.post(
        f"/items/{world.overdue_item}/ordered",
        data={"csrf_token": token, "note": "line one\r\n\tline two"},
        follow_redirects=False,
    )
    assert done.status_code == 303


@pytest.mark.parametrize(
    "url",
    ["/worklist?q=PHI%00", "/worklist?navigator=%1b", "/admin/audit?actor=a%00"],
)
def test_query_values_refuse_control_characters(ada: TestClient, url: str) -> None:
    answer = ada.get(url)
    assert answer.status_code == 422 and "contains a control character" in answer.text


def test_a_control_character_in_a_path_segment_is_refused(
    ada: TestClient, path_values: dict[str, str]
) -> None:
    token = csrf_of(ada, "/worklist")
    patient = path_values["patient_id"]
    answer = ada.post(f"/patients/{patient}/feeds/ab%00cd/revoke", data={"csrf_token": token})
    assert answer.status_code == 422 and "public_id: contains a control character" in answer.text


def test_ids_beyond_64_bits_are_not_found(
    ada: TestClient, app: FastAPI, path_values: dict[str, str]
) -> None:
    token = csrf_of(ada, "/worklist")
    tried = 0
    for route in app_routes(app):
        for name in route.path_params:
            if name == "public_id":
                continue
            for huge in HUGE_IDS:
                url = route.url({**path_values, name: huge})
                answer = (
                    ada.get(url)
                    if route.method == "GET"
                    else ada.post(url, data={"csrf_token": token}, follow_redirects=False)
                )
                assert answer.status_code == 404, (route.method, url, answer.status_code)
                tried += 1
    assert tried >= 4 * 10
    assert ada.get(f"/patients/{2**31 - 1}").status_code == 404  # the largest id: just absent


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "1899-12-31", "2201-01-01"])
def test_worklist_dates_outside_1900_2200_are_a_422_page(ada: TestClient, day: str) -> None:
    answer = ada.get(f"/worklist?date={day}")
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert "date:" in answer.text and "is outside 1900-01-01 to 2200-12-31" in answer.text


@pytest.mark.parametrize("day", ["1900-01-01", "2200-12-31"])
def test_worklist_dates_at_the_edges_are_shown(ada: TestClient, day: str) -> None:
    assert ada.get(f"/worklist?date={day}").status_code == 200


@pytest.mark.parametrize(
    ("action", "field"),
    [("snooze", "until"), ("booked", "date"), ("done", "completed_on")],
)
@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_form_dates_outside_the_range_say_so_and_change_nothing(
    nina: TestClient, world: World, web_engine: sa.Engine, action: str, field: str, day: str
) -> None:
    token = csrf_of(nina, "/worklist")
    before = row_counts(web_engine)
    answer = nina.post(
        f"/items/{world.overdue_item}/{action}",
        data={"csrf_token": token, field: day, "reason": "travel", "next": "/worklist"},
    )
    assert answer.status_code == 200  # the worklist, after the redirect
    assert "Nothing was changed." in answer.text
    assert f"{field}: {day} is outside 1900-01-01 to 2200-12-31" in answer.text
    assert row_counts(web_engine) == before


@pytest.mark.parametrize(
    ("url", "field"),
    [("/worklist?page=0", "page"), ("/patients/abc", "patient_id"), ("/worklist?page=x", "page")],
)
def test_a_value_the_route_cannot_take_is_a_422_page(ada: TestClient, url: str, field: str) -> None:
    answer = ada.get(url)
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert "Please check" in answer.text and f"{field}:" in answer.text
    assert "Log out" in answer.text  # the page keeps the navigation


def test_a_wrong_method_is_a_405_page_with_allow(ada: TestClient) -> None:
    answer = ada.get("/logout")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "POST"
    assert answer.headers["content-type"].startswith("text/html")
    assert "Method Not Allowed" in answer.text
    put = ada.put("/worklist")
    assert put.status_code == 405 and put.headers["allow"] == "GET"


def test_missing_and_forbidden_patients_get_the_same_404(nina: TestClient, world: World) -> None:
    nina.get("/worklist")  # takes the welcome message, which would differ between the pages
    forbidden = nina.get(f"/patients/{world.south_patient}")
    missing = nina.get(f"/patients/{world.south_patient + 1000}")
    nowhere = nina.get("/no/such/page")
    assert forbidden.status_code == missing.status_code == nowhere.status_code == 404
    assert forbidden.text == missing.text
    assert "There is no such page, or it is not open to you." in nowhere.text
    token = csrf_of(nina, "/worklist")
    other = nina.post(f"/items/{world.due_item}/ordered", data={"csrf_token": token})
    absent = nina.post(f"/items/{world.due_item + 1000}/ordered", data={"csrf_token": token})
    assert other.status_code == absent.status_code == 404
    assert other.text == absent.text
    assert "your clinic" not in forbidden.text.lower()


def test_the_validator_refuses_control_characters_for_the_cli_too() -> None:
    from surveil.services.validate import Checker

    check = Checker(today=dt.date(2026, 6, 15))
    assert check.text("family", "Okafor\x00") is None
    assert check.text("note", "two\r\nlines\tok") == "two\r\nlines\tok"
    assert check.date("date", "1899-12-31") is None
    assert [str(p) for p in check.problems] == [
        "family: contains a control character (U+0000); remove it",
        "date: 1899-12-31 is outside 1900-01-01 to 2200-12-31",
    ]
