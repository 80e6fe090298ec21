"""``/worklist?as_of=`` and ``surveil worklist --as-of``: the worklist as it was, read-only and
audited, in the app, in the terminal, and in a real Chromium on a phone (axe)."""

import datetime as dt
import json
import time
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from fastapi.testclient import TestClient
from playwright.sync_api import Page
from sqlmodel import Session, select

from surveil.cli import _register, cli
from surveil.db import models as m
from surveil.services.actor import Actor
from surveil.services.records import actions
from tests.web.axe import axe_violations
from tests.web.conftest import World, screenshot
from tests.web.test_browser import log_in

NAV = Actor(username="nina", role="navigator", clinic="north")
COVERED: set[str] = set()
SHELL_COVERED = {"worklist"}  # --as-of, walked below with its audit event
NOT_AUDITED: set[str] = set()


def order_after_a_moment(engine: sa.Engine, world: World) -> str:
    """The clinic's wall clock just before the overdue MRI was ordered, as the form gives it."""
    time.sleep(0.01)
    local = dt.datetime.now(ZoneInfo("Europe/London")).replace(tzinfo=None)
    time.sleep(0.01)
    actions.mark_ordered(engine, item_id=world.overdue_item, actor=NAV)
    return local.isoformat()


def row_state(html: str, item_id: int) -> str:
    start = html.index(f'data-item="{item_id}"')
    return html[start : html.index("</tr>", start)]


def test_the_page_shows_the_item_as_it_was_and_audits_the_review(
    nina: TestClient, world: World, web_engine: sa.Engine
) -> None:
    moment = order_after_a_moment(web_engine, world)
    today = nina.get("/worklist").text
    assert "ordered" in row_state(today, world.overdue_item)
    then = nina.get("/worklist", params={"as_of": moment})
    assert then.status_code == 200
    assert "Worklist as it was" in then.text and "(Europe/London)" in then.text
    assert 'data-state="planned"' in row_state(then.text, world.overdue_item)
    assert 'action="/items/' not in then.text  # read-only: no action forms
    with Session(web_engine) as session:
        events = session.exec(
            select(m.AuditEvent).where(m.AuditEvent.action == "worklist.as_of_viewed")
        ).all()
    assert [(e.actor, e.channel, e.subject) for e in events] == [("nina", "web", "clinic:north")]


@pytest.mark.parametrize(
    ("as_of", "words"),
    [("last tuesday", "is not a moment"), ("2999-01-01T09:00", "must be a past moment")],
)
def test_a_bad_moment_is_refused_naming_the_field(nina: TestClient, as_of: str, words: str) -> None:
    refused = nina.get("/worklist", params={"as_of": as_of})
    assert refused.status_code == 422
    assert "as_of" in refused.text and words in refused.text


def test_the_terminal_shows_the_same_moment(
    world: World, web_engine: sa.Engine, web_settings: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    moment = order_after_a_moment(web_engine, world)
    _register()
    monkeypatch.setenv("SURVEIL_DATABASE_URL", web_settings.database.url)  # type: ignore[attr-defined]
    monkeypatch.delenv("SURVEIL_CONFIG", raising=False)
    runner = CliRunner()
    args = ["--as", "nina", "worklist", "--as-of", moment, "--clinic", "north"]
    shown = runner.invoke(cli, [*args, "--json"], catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.output)
    overdue = next(s for s in data["sections"] if s["key"] == "overdue")
    assert [r["state"] for r in overdue["rows"]] == ["planned"]
    table = runner.invoke(cli, args, catch_exceptions=False)
    assert "Worklist as it was at" in table.output
    bad = runner.invoke(cli, ["--as", "nina", "worklist", "--as-of", "soon"])
    assert bad.exit_code != 0 and "as_of" in bad.output


@pytest.mark.e2e
@pytest.mark.parametrize(
    "viewport", [{"width": 390, "height": 844}, {"width": 1400, "height": 900}]
)
def test_the_page_in_chromium_reads_on_a_phone_and_passes_axe(
    page: Page, live_server: str, world: World, web_engine: sa.Engine, viewport: dict[str, int]
) -> None:
    moment = order_after_a_moment(web_engine, world)
    page.set_viewport_size(viewport)
    log_in(page, live_server)
    page.goto(f"{live_server}/worklist?as_of={moment}")
    assert page.locator("h1").inner_text() == "Worklist as it was"
    wide = page.evaluate("() => document.documentElement.scrollWidth")
    assert wide <= viewport["width"]
    screenshot(page, f"20-worklist-as-of-{viewport['width']}")
    assert axe_violations(page) == []
