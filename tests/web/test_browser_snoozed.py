"""The snoozed view in a real Chromium, on a phone (390 px): an item snoozed from the worklist
is found again under "Snoozed items" with its reason and end date, with axe-core finding
nothing critical or serious."""

import pytest
from playwright.sync_api import Page, expect

from tests.web.axe import axe_violations
from tests.web.conftest import World, screenshot
from tests.web.test_browser import log_in

pytestmark = pytest.mark.e2e
PHONE = {"width": 390, "height": 844}


def test_a_snoozed_item_is_found_again_on_a_phone(
    page: Page, live_server: str, world: World
) -> None:
    page.set_viewport_size(PHONE)
    log_in(page, live_server)
    row = page.locator(f"#sec-overdue tr[data-item='{world.overdue_item}']")
    row.get_by_text("Snooze…").click()
    row.locator("form[action$='/snooze'] select[name=reason_code]").select_option("patient_unwell")
    row.get_by_label("Reason").fill("in hospital elsewhere")
    row.get_by_role("button", name="Snooze", exact=True).click()
    expect(page.locator(".flash-ok")).to_contain_text("snoozed until")

    page.get_by_role("link", name="Snoozed items →").click()
    snoozed = page.locator(f"#sec-snoozed tr[data-item='{world.overdue_item}']")
    expect(snoozed).to_contain_text("reason patient_unwell: in hospital elsewhere")
    expect(snoozed).to_contain_text("snoozed until")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert axe_violations(page) == []
    screenshot(page, "fix14-snoozed-view-phone")
