"""The CSV upload page: navigators and administrators check a file (every problem at once, or
a preview that writes nothing), then import it; clinicians are refused. In a real Chromium at
phone width with axe-core: no critical or serious violation."""

import datetime as dt

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from surveil.db import models as m
from tests.web.axe import axe_violations
from tests.web.conftest import csrf_of, login, screenshot
from tests.web.seed import PASSWORD, make_user

SHELL_COVERED = frozenset({"imports.upload"})


def _markers(value: str, *, day: dt.date | None = None) -> bytes:
    when = day or dt.datetime.now(dt.UTC).date() - dt.timedelta(days=3)
    return f"mrn;marker;date;value\nN-100;cga;{when};{value}\n".encode()


def _post(client: TestClient, content: bytes, action: str) -> object:
    return client.post(
        "/import",
        data={"csrf_token": csrf_of(client, "/import"), "kind": "markers", "action": action},
        files={"file": ("cga.csv", content, "text/csv")},
    )


def test_check_then_import_then_nothing_new(nina: TestClient, web_engine: sa.Engine) -> None:
    bad = _post(nina, _markers("-4") + b"N-999;cga;2026-01-01;x\n", "preview")
    assert bad.status_code == 422  # type: ignore[attr-defined]
    html = bad.text  # type: ignore[attr-defined]
    assert "row 2, column value" in html and "row 3, column mrn" in html
    assert "Nothing was imported" in html  # (a row naming no patient is not checked further)
    preview = _post(nina, _markers("80"), "preview")
    assert preview.status_code == 200 and "Would add" in preview.text  # type: ignore[attr-defined]
    with Session(web_engine) as session:
        assert session.exec(select(m.MarkerResult)).all() == []
    done = _post(nina, _markers("80"), "commit")
    assert done.status_code == 200 and "rollback" in done.text  # type: ignore[attr-defined]
    with Session(web_engine) as session:
        assert len(session.exec(select(m.MarkerResult)).all()) == 1
        event = session.exec(
            select(m.AuditEvent).where(m.AuditEvent.action == "import.committed")
        ).first()
        assert event is not None and (event.actor, event.channel) == ("nina", "import")
    again = _post(nina, _markers("80"), "commit")
    assert "Already there" in again.text  # type: ignore[attr-defined]


@pytest.mark.usefixtures("world")
def test_a_clinician_is_refused(client: TestClient, web_engine: sa.Engine) -> None:
    with Session(web_engine) as session:
        make_user(session, "cleo", role="clinician", clinic="north")
        session.commit()
    login(client, "cleo")
    assert client.get("/import").status_code == 403
    assert "/import" not in client.get("/worklist").text


@pytest.mark.e2e
@pytest.mark.usefixtures("world")
def test_the_page_on_a_phone_passes_axe(page: Page, live_server: str) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server}/login")
    page.get_by_label("Username").fill("nina")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server}/import")
    assert axe_violations(page) == []
    page.get_by_label("What the file holds").select_option("markers")
    page.get_by_label("CSV file").set_input_files(
        files=[{"name": "cga.csv", "mimeType": "text/csv", "buffer": _markers("-4")}]
    )
    page.get_by_role("button", name="Check").click()
    expect(page.get_by_role("heading", name="Problems")).to_be_visible()
    expect(page.get_by_text("row 2, column value")).to_be_visible()
    assert axe_violations(page) == []
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
    screenshot(page, "import-problems-phone")
