"""``/reports/quality`` (HTML, CSV, JSON): the figures of the seeded registry, who may open it,
and the trend charts in a real Chromium on a phone and a desktop (axe)."""

import json

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from playwright.sync_api import Page
from sqlmodel import Session

from tests.services.reports.test_quality import seed
from tests.web.axe import axe_violations
from tests.web.conftest import login, screenshot
from tests.web.seed import make_user
from tests.web.test_browser import log_in

PERIOD = {"start": "2026-01-01", "end": "2026-06-30"}


@pytest.fixture
def cleo(client: TestClient, web_engine: sa.Engine) -> TestClient:
    with Session(web_engine) as session:
        seed(session)
        make_user(session, "cleo", role="clinician")
        session.commit()
    login(client, "cleo")
    return client


def test_the_page_csv_and_json_show_the_figures(cleo: TestClient) -> None:
    page = cleo.get("/reports/quality", params=PERIOD)
    assert page.status_code == 200
    assert '<dd id="q-on-time">40.0% (2 of 5)</dd>' in page.text
    assert '<dd id="q-overdue">2</dd>' in page.text
    assert "patient declined" in page.text and "renal impairment" in page.text
    assert 'id="chart-done-on-time"' in page.text and "Definitions" in page.text
    data = cleo.get("/reports/quality.json", params=PERIOD).json()
    assert (data["done"], data["on_time_pct"], data["late_days_median"]) == (5, 40.0, 20)
    assert data["reminders"] == {
        "due": 4,
        "sent": 2,
        "failed": 1,
        "sent_pct": 50.0,
        "failed_pct": 25.0,
    }
    csv = cleo.get("/reports/quality.csv", params=PERIOD).text.splitlines()
    assert csv[:4] == ["figure,value", "done,5", "on_time,2", "on_time_pct,40.0"]
    assert "2026-03,2,1,50.0" in csv
    assert json.dumps(data)  # plain JSON


def test_navigators_are_refused_and_bad_dates_named(
    client: TestClient, web_engine: sa.Engine
) -> None:
    with Session(web_engine) as session:
        make_user(session, "cleo", role="clinician")
        make_user(session, "nina")
        session.commit()
    login(client, "nina")
    assert client.get("/reports/quality").status_code == 403
    client.cookies.clear()
    login(client, "cleo")
    bad = client.get("/reports/quality", params={"start": "someday", "end": "2026-02-30"})
    assert bad.status_code == 422 and "start" in bad.text and "end" in bad.text


@pytest.mark.e2e
@pytest.mark.parametrize(
    "viewport", [{"width": 390, "height": 844}, {"width": 1400, "height": 900}]
)
def test_the_trend_charts_in_chromium(
    page: Page, live_server: str, web_engine: sa.Engine, viewport: dict[str, int]
) -> None:
    with Session(web_engine) as session:
        seed(session)
        make_user(session, "cleo", role="clinician")
        session.commit()
    page.set_viewport_size(viewport)
    log_in(page, live_server, username="cleo")
    page.goto(f"{live_server}/reports/quality?start=2026-01-01&end=2026-06-30")
    chart = page.locator("#chart-done-on-time svg")
    assert chart.is_visible()
    assert page.locator("#chart-done-on-time rect.bar").count() == 24
    assert page.evaluate("() => document.documentElement.scrollWidth") <= viewport["width"]
    screenshot(page, f"20-quality-{viewport['width']}")
    assert axe_violations(page) == []
