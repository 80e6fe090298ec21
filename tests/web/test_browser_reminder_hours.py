"""Issue #18 point 5 in a real Chromium: the patient page's reminder-hours form (a window inside
the clinic's quiet hours, and the language of messages) refused with both problems beside their
fields, then saved; the clinic's cadence in words on the page; axe-core finds nothing critical or
serious on the form, open or refused, on a desktop and a phone."""

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from surveil.config import DatabaseSettings, Settings, WebSettings
from tests.web.axe import axe_violations
from tests.web.conftest import World
from tests.web.seed import NO_TOTP, SECRET_KEY
from tests.web.test_browser import log_in
from tests.web.test_browser_registry import DESKTOP, PHONE

pytestmark = pytest.mark.e2e

CADENCE = {"days_before_window": [14, 3], "repeats": 2, "repeat_every_days": 2,
           "before_target_days": 0}  # fmt: skip


@pytest.fixture
def web_settings(sqlite_url: str) -> Settings:
    return Settings(
        database=DatabaseSettings(url=sqlite_url),
        security=NO_TOTP,
        web=WebSettings(secret_key=SECRET_KEY, login_attempts=3),
        reminders=CADENCE,
    )


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_set_reminder_hours_and_language_see_the_cadence(
    page: Page, live_server: str, world: World, viewport: dict[str, int], tmp_path: Path
) -> None:
    page.set_viewport_size(viewport)
    log_in(page, live_server)
    page.goto(f"{live_server}/patients/{world.north_patient}")
    expect(page.locator("#reminder-cadence")).to_have_text(
        "14 and 3 days before the window opens; when the window opens; "
        "up to 2 repeats 2 days apart while not done"
    )
    keep = page.locator("#keep-hours")
    keep.locator("summary").click()
    found = {"open": axe_violations(page)}
    keep.get_by_label("Reminders from").fill("19:00")  # runs into quiet hours from 20:00
    keep.get_by_label("Reminders until").fill("21:00")
    keep.get_by_label("Language of messages").fill("not a tag!")
    keep.get_by_role("button", name="Save reminder hours").click()

    expect(
        page.get_by_role("heading", name="Reminder hours and language: please check")
    ).to_be_visible()
    expect(page.locator(".form-problems")).to_contain_text("2 problems")
    form = page.locator("#form-hours")
    for label in ("Reminders from", "Language of messages"):
        expect(form.get_by_label(label)).to_have_attribute("aria-invalid", "true")
    expect(form.get_by_label("Reminders until")).to_have_value("21:00")  # as typed
    found["refused"] = axe_violations(page)
    page.screenshot(path=str(tmp_path / "hours-refused.png"), full_page=True)

    form.get_by_label("Reminders from").fill("17:00")
    form.get_by_label("Reminders until").fill("19:30")
    form.get_by_label("Language of messages").fill("es")
    form.get_by_role("button", name="Save reminder hours").click()
    expect(page.locator(".flash-ok")).to_contain_text("Reminder hours: 17:00-19:30")
    expect(page.locator("#reminder-hours")).to_contain_text("17:00-19:30 (Europe/London)")
    keep = page.locator("#keep-hours")
    keep.locator("summary").click()
    expect(keep.get_by_label("Language of messages")).to_have_value("es")
    found["saved"] = axe_violations(page)
    assert {name: v for name, v in found.items() if v} == {}
    page.screenshot(path=str(tmp_path / "hours-saved.png"), full_page=True)
