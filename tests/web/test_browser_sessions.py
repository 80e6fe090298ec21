"""Sessions in real Chromium (issue 21, point 1): a nurse signed in on two browsers sees both on
her sessions page and signs the other out, which is signed out at its next click; the sessions
page and the users page with its "sign out everywhere" button pass axe on a phone (390 px)."""

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.web.axe import axe_violations
from tests.web.conftest import screenshot
from tests.web.test_browser import log_in

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"


@pytest.mark.usefixtures("world")
def test_signing_out_another_browser_from_the_sessions_page(
    page: Page, browser: Browser, live_server: str
) -> None:
    other = browser.new_context(viewport=PHONE)
    laptop = other.new_page()
    try:
        log_in(laptop, live_server)
        expect(laptop).to_have_url(f"{live_server}/worklist")
        page.set_viewport_size(PHONE)
        log_in(page, live_server)
        page.get_by_role("link", name="Nina").first.click()
        expect(page).to_have_url(f"{live_server}/account/sessions")
        rows = page.locator("main tbody tr")
        expect(rows).to_have_count(2)
        expect(page.get_by_text("this browser")).to_be_visible()
        assert axe_violations(page) == []
        assert page.evaluate(OVERFLOW) <= 0, "the sessions page scrolls sideways on a phone"
        screenshot(page, "30-sessions-phone")
        page.get_by_role("button", name=re.compile(r"^Sign out the session from")).click()
        expect(page.get_by_text("That session is signed out.")).to_be_visible()
        expect(rows).to_have_count(1)
        laptop.reload()
        expect(laptop).to_have_url(f"{live_server}/login?next=/worklist")
    finally:
        other.close()


@pytest.mark.usefixtures("world")
def test_the_users_page_with_sign_out_everywhere_passes_axe_on_a_phone(
    page: Page, live_server: str
) -> None:
    page.set_viewport_size(PHONE)
    log_in(page, live_server, username="ada")
    page.goto(f"{live_server}/admin/users")
    buttons = page.get_by_role("button", name="Sign out everywhere")
    expect(buttons).to_have_count(3)
    assert axe_violations(page) == []
    buttons.nth(1).click()  # nina's (the first is ada's own)
    expect(page.get_by_text("Signed out of 0 sessions.")).to_be_visible()
