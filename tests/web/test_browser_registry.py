"""The registry in a real Chromium: finding a patient who is not on today's list, the pages on a
phone (390 px), and axe-core on every page (0 critical, 0 serious). Screenshots go to
artifacts/ for a human to look at."""

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect
from sqlmodel import Session

from surveil.db import models as m
from surveil.services.feeds import tokens as feeds
from surveil.services.registry import patients as registry
from tests.web.axe import axe_violations
from tests.web.conftest import World, screenshot
from tests.web.seed import TODAY, make_item, make_patient, make_reminder
from tests.web.test_browser import log_in

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1400, "height": 900}
DAY = dt.timedelta(days=1)
PUBLIC = "https://surveil.example.org"
# What a finger has to hit: controls, navigation, and the links that lead somewhere from a list.
TARGETS = ", ".join(
    (
        "header a",
        "header button",
        "header input",
        "main button",
        "main summary",
        "main select",
        "main input:not([type=hidden]):not([type=checkbox])",
        "main .check",
        "main a.btn",
        "main a.patient-link",
        "main a.chip",
        "main .facts a",
        "main .crumbs a",
    )
)
SMALL_TARGETS = """(selector) => [...document.querySelectorAll(selector)]
  .map((e) => [e, e.getBoundingClientRect()])
  .filter(([e, r]) => r.width > 0 && r.height > 0 && r.right > 0 && r.left >= 0)
  .filter(([e, r]) => r.height < 44 || r.width < 44)
  .map(([e, r]) => `${e.outerHTML.slice(0, 90)} ${Math.round(r.width)}x${Math.round(r.height)}`)"""


def quiet_patient(engine: sa.Engine) -> int:
    """A patient with nothing due for months: on no section of today's worklist."""
    today = dt.datetime.now(dt.UTC).date()
    with Session(engine) as session:
        patient = make_patient(session, "N-900", family="Ångström", given="Märta", navigator="nina")
        make_item(session, patient, earliest=today + 100 * DAY, latest=today + 160 * DAY)
        session.commit()
        assert patient.id is not None
        return patient.id


def furnish(engine: sa.Engine, world: World) -> None:
    """Everything the patient page can show: pathology, contact, messages, a booking, a feed."""
    with Session(engine) as session:
        patient = session.get(m.Patient, world.north_patient)
        item = session.get(m.FollowUpItem, world.overdue_item)
        assert patient is not None and item is not None
        patient.email, patient.phone, patient.language = "ada@example.org", "+447700900123", "en"
        registry.add_pathology(
            session, patient=patient, date="2025-05-01", ki67="12", mitoses=None, today=TODAY
        )
        make_reminder(session, patient, item, state="failed")
        held = make_reminder(session, patient, None, state="suppressed")
        held.suppressed_reason = "opted out"
        make_item(
            session,
            patient,
            kind="ct",
            earliest=TODAY,
            latest=TODAY + 60 * DAY,
            state="booked",
            booked_at=dt.datetime(2026, 7, 14, 8, 30, tzinfo=dt.UTC),
        )
        feeds.issue_feed(session, patient_id=world.north_patient, label="iPhone", base_url=PUBLIC)
        session.commit()


def pages(live: str, world: World, quiet: int) -> dict[str, str]:
    return {
        "worklist": f"{live}/worklist",
        "patient-list": f"{live}/patients",
        "patient-search": f"{live}/patients?q=angs",
        "no-match": f"{live}/patients?q=zzzz",
        "patient": f"{live}/patients/{world.north_patient}",
        "growth": f"{live}/patients/{world.growth_patient}",
        "quiet-patient": f"{live}/patients/{quiet}",
    }


@pytest.mark.usefixtures("world")
def test_a_patient_not_on_todays_list_is_found_from_the_header(
    page: Page, live_server: str, web_engine: sa.Engine
) -> None:
    quiet_patient(web_engine)
    log_in(page, live_server)
    expect(page.get_by_role("heading", name="Worklist")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("ÅNGSTRÖM")
    search = page.get_by_role("search", name="Find a patient")
    search.get_by_role("searchbox").fill("angstrom m")  # no accents typed
    search.get_by_role("button", name="Find").click()
    expect(page).to_have_url(f"{live_server}/patients?q=angstrom+m")
    row = page.locator("table.found tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("window opens in 100 days")
    screenshot(page, "10-patient-search")
    row.get_by_role("link", name="ÅNGSTRÖM, Märta").click()
    expect(page.get_by_role("heading", name="ÅNGSTRÖM, Märta")).to_be_visible()
    page.get_by_role("searchbox").fill("nobody-like-this")
    page.keyboard.press("Enter")
    expect(page.locator("#no-match")).to_contain_text("No patient matches “nobody-like-this”")
    expect(page.locator("main")).not_to_contain_text("good")


def test_every_page_reads_on_a_phone_without_sideways_scrolling(
    page: Page, live_server: str, world: World, web_engine: sa.Engine
) -> None:
    quiet = quiet_patient(web_engine)
    furnish(web_engine, world)
    page.set_viewport_size(PHONE)
    log_in(page, live_server)
    for name, url in pages(live_server, world, quiet).items():
        page.goto(url)
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"], (name, width)
        assert page.evaluate(SMALL_TARGETS, TARGETS) == [], name
        screenshot(page, f"11-phone-{name}")
    # The actions are reachable: record a result from the plan, on the phone.
    page.goto(f"{live_server}/patients/{world.north_patient}")
    row = page.locator(f"#item-{world.overdue_item}")
    row.get_by_text("Done…").click()
    form = row.get_by_role("form", name="Record MRI done")
    expect(form.get_by_role("button", name="Save result")).to_be_visible()
    box = form.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.evaluate(SMALL_TARGETS, TARGETS) == []
    screenshot(page, "12-phone-done-form")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_axe_finds_nothing_critical_or_serious_on_any_page(
    page: Page, live_server: str, world: World, web_engine: sa.Engine, viewport: dict[str, int]
) -> None:
    quiet = quiet_patient(web_engine)
    furnish(web_engine, world)
    page.set_viewport_size(viewport)
    found: dict[str, Any] = {}
    page.goto(f"{live_server}/login")
    found["login"] = axe_violations(page)
    log_in(page, live_server, password="wrong")
    found["login-refused"] = axe_violations(page)
    log_in(page, live_server)
    for name, url in pages(live_server, world, quiet).items():
        page.goto(url)
        found[name] = axe_violations(page)
    # With its disclosure forms open, as a nurse uses it.
    page.goto(f"{live_server}/patients/{world.north_patient}")
    for summary in page.locator(f"#item-{world.overdue_item} summary").all():
        summary.click()
    found["patient-forms-open"] = axe_violations(page)
    screenshot(page, f"13-axe-patient-{'phone' if viewport == PHONE else 'desktop'}")
    assert {name: v for name, v in found.items() if v} == {}
