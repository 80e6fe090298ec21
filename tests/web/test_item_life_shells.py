"""One way in, from the web, for issue 14's forms: a booking cancelled or missed, a late result,
a reopening (a clinician's; a navigator is told no and nothing changes), the booking form's
coded reason, and the reasons report page; run through the real app on both backends."""

import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from surveil.config import DatabaseSettings, Settings, WebSettings
from surveil.db import models as m
from surveil.web.deps import clinic_today
from tests.web.conftest import BASE, World, csrf_of, login
from tests.web.seed import NO_TOTP, make_user
from tests.web.test_one_way_in_records_shells import Audit, Row, nina_did, post

SHELL_COVERED: frozenset[str] = frozenset(
    {"items.reopen", "items.done_late", "items.cancel_booking", "items.no_show"}
)
NOT_AUDITED: dict[str, str] = {}


@pytest.fixture
def web_settings(db_url: str) -> Settings:
    return Settings(
        database=DatabaseSettings(url=db_url),
        web=WebSettings(secret_key="test-secret-" + "x" * 32, login_attempts=3),
        security=NO_TOTP,
    )


@pytest.fixture
def audit(nina: TestClient, web_engine: sa.Engine) -> Iterator[Audit]:
    del nina  # logged in first, so its rows are not counted
    yield Audit(web_engine)


@pytest.fixture
def doctor(app: FastAPI, web_engine: sa.Engine, world: World) -> Iterator[TestClient]:
    del world
    with Session(web_engine) as session:
        make_user(session, "dr.okafor", role="clinician", clinic="north")
        session.commit()
    with TestClient(app, base_url=BASE) as client:
        login(client, "dr.okafor")
        yield client


def open_item(engine: sa.Engine, patient: int, kind: str) -> int:
    with Session(engine) as session:
        found = session.exec(
            select(m.FollowUpItem.id)
            .where(
                m.FollowUpItem.patient_id == patient,
                m.FollowUpItem.kind == kind,
                col(m.FollowUpItem.state).in_(["planned", "ordered", "booked"]),
            )
            .order_by(col(m.FollowUpItem.id).desc())
        ).first()
    assert found is not None
    return found


def state_of(engine: sa.Engine, item_id: int) -> str:
    with Session(engine) as session:
        row = session.get(m.FollowUpItem, item_id)
        assert row is not None
        return row.state


def test_bookings_that_did_not_happen_and_late_results(
    nina: TestClient, audit: Audit, world: World, web_engine: sa.Engine, web_settings: Settings
) -> None:
    north = world.north_patient
    tomorrow = (clinic_today(web_settings) + dt.timedelta(days=1)).isoformat()
    item = world.overdue_item  # first: later forms replan the patient
    bad = post(nina, audit, f"/items/{item}/done-late", {"completed_on": tomorrow, "how": "x"})
    assert bad == []
    form = {"completed_on": "2026-01-05", "how": "elsewhere", "where": "Leeds General"}
    rows = post(nina, audit, f"/items/{item}/done-late", form)
    assert rows == [nina_did("item.done_late", north, f"item:{item}")]
    assert state_of(web_engine, item) == "done"

    for path, action in (("cancel-booking", "booking.cancelled"), ("no-show", "booking.no_show")):
        item = open_item(web_engine, north, "cga")
        # The reason counts only if the (re-planned) window does not hold tomorrow.
        form = {"date": tomorrow, "time": "09:00", "reason_code": "no_slot"}
        booked = post(nina, audit, f"/items/{item}/booked", form)
        assert booked == [nina_did("item.booked", north, f"item:{item}")]
        rows = post(nina, audit, f"/items/{item}/{path}", {"note": "rang"})
        assert rows == [nina_did(action, north, f"item:{item}")], path

    # The patient page keeps every attempt, with how it ended.
    html = nina.get(f"/patients/{north}").text
    assert 'id="h-bookings"' in html
    assert "cancelled: rang" in html and "no-show: rang" in html
    audit.new()  # the page view's own row

    # The booking form asks why when the date falls outside the window.
    overdue = open_item(web_engine, world.growth_patient, "mri")
    with Session(web_engine) as session:
        row = session.get(m.FollowUpItem, overdue)
        assert row is not None
        after = (row.latest + dt.timedelta(days=30)).isoformat()
    html = nina.get(f"/patients/{world.growth_patient}").text
    assert 'name="reason_code"' in html and "If outside the due window, why?" in html
    audit.new()  # the page view's own row
    refused = post(nina, audit, f"/items/{overdue}/booked", {"date": after, "time": "09:00"})
    assert refused == []
    form = {"date": after, "time": "09:00", "reason_code": "patient_choice"}
    assert post(nina, audit, f"/items/{overdue}/booked", form) == [
        nina_did("item.booked", world.growth_patient, f"item:{overdue}")
    ]
    page = nina.get("/reports/reasons")
    assert page.status_code == 200
    assert "booked outside the window" in page.text and "patient choice" in page.text


def test_reopen_is_a_clinicians_form(
    nina: TestClient, doctor: TestClient, audit: Audit, world: World, web_engine: sa.Engine
) -> None:
    north = world.north_patient
    item = world.marker_item
    declined = post(nina, audit, f"/items/{item}/declined", {"reason": "moving"})
    assert declined == [nina_did("item.declined", north, f"item:{item}")]
    html = nina.get(f"/patients/{north}").text
    assert f'action="/items/{item}/reopen"' in html  # on the closed items
    audit.new()  # the page view's own row

    form = {"reason_code": "patient_changed_mind", "reason": "wants it after all"}
    token = csrf_of(nina, "/worklist")
    refused = nina.post(
        f"/items/{item}/reopen", data={"csrf_token": token, "next": "/worklist", **form}
    )
    assert "Nothing was changed: only a clinician may reopen an item" in refused.text
    assert audit.new() == [] and state_of(web_engine, item) == "declined"

    token = csrf_of(doctor, "/worklist")
    response = doctor.post(
        f"/items/{item}/reopen", data={"csrf_token": token, "next": "/worklist", **form}
    )
    assert response.status_code == 200 and "reopened (was declined)" in response.text
    rows: list[Row] = [(r.action, r.actor, r.channel, r.patient_id, r.subject) for r in audit.new()]
    assert rows == [("item.reopened", "dr.okafor", "web", north, f"item:{item}")]
