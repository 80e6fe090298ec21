"""The journey that failed in issue 14, in a real headless Chromium against a live uvicorn: a
booking after the due window closed asks why, and the item then stays on the worklist (in
"Booked outside the window") before, on and after the appointment until its result is recorded.
On a phone (390 px) too, with axe-core finding nothing critical or serious."""

import datetime as dt

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect
from sqlmodel import Session

from surveil.config import Settings
from surveil.db import models as m
from surveil.web.deps import clinic_today
from tests.web.axe import axe_violations
from tests.web.conftest import World, screenshot
from tests.web.test_browser import log_in

pytestmark = pytest.mark.e2e
PHONE = {"width": 390, "height": 844}


def booked_row(page: Page, item: int) -> object:
    return page.locator(f"#sec-booked_outside tr[data-item='{item}']")


def test_a_late_booking_asks_why_and_stays_visible_until_done(
    page: Page, live_server: str, world: World, web_engine: sa.Engine, web_settings: Settings
) -> None:
    today = clinic_today(web_settings)
    item = world.overdue_item  # its window closed 12 days ago
    appointment = today + dt.timedelta(days=60)
    log_in(page, live_server)
    row = page.locator(f"#sec-overdue tr[data-item='{item}']")
    row.get_by_text("Book…").click()
    row.get_by_label("Date").fill(appointment.isoformat())
    row.get_by_label("Time (patient's zone)").fill("09:30")
    row.get_by_role("button", name="Save booking").click()
    expect(page.locator(".flash-error")).to_contain_text("Nothing was changed")
    expect(page.locator(".flash-error")).to_contain_text("after the due window")
    screenshot(page, "14a-late-booking-asks-why")

    row = page.locator(f"#sec-overdue tr[data-item='{item}']")
    row.get_by_text("Book…").click()
    row.get_by_label("Date").fill(appointment.isoformat())
    row.get_by_label("Time (patient's zone)").fill("09:30")
    row.get_by_label("If outside the due window, why?").select_option("no_slot")
    row.get_by_label("In words").fill("scanner booked up")
    row.get_by_role("button", name="Save booking").click()
    expect(page.locator(".flash-ok")).to_contain_text("after the window")
    expect(booked_row(page, item)).to_contain_text("no_slot: scanner booked up")  # type: ignore[attr-defined]
    expect(page.locator(f"#sec-overdue tr[data-item='{item}']")).to_have_count(0)
    screenshot(page, "14a-late-booking-on-worklist")

    # Still there on the appointment day and a month after it (also lost to follow-up by then).
    for day in (appointment, appointment + dt.timedelta(days=30)):
        page.goto(f"{live_server}/worklist?date={day.isoformat()}")
        expect(booked_row(page, item)).to_have_count(1)
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server}/worklist")
    expect(booked_row(page, item)).to_be_visible()  # type: ignore[attr-defined]
    assert axe_violations(page) == []
    screenshot(page, "14a-late-booking-phone")

    # Done: it leaves the section.
    page.goto(f"{live_server}/patients/{world.north_patient}")
    patient_row = page.locator(f"#item-{item}")
    patient_row.get_by_text("Done…").click()
    patient_row.get_by_role("button", name="Save result").click()
    expect(page.locator(".flash-ok")).to_contain_text("done on")
    page.goto(f"{live_server}/worklist")
    expect(booked_row(page, item)).to_have_count(0)
    with Session(web_engine) as session:
        attempts = session.query(m.BookingAttempt).all()
        assert [(a.placement, a.status, a.reason_code) for a in attempts] == [
            ("after", "done", "no_slot")
        ]
