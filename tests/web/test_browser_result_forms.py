"""The record-keeping forms in a real Chromium (issue 13 part B-2): record an SSA injection;
correct a mistyped measurement and see the trigger it caused go away; log an outreach call and
see it on the worklist row; a refused form shows every problem; axe-core finds nothing critical
or serious on the forms (open) and the 422 page; the forms work on a 390 px phone. Screenshots
go to artifacts/ (20-*)."""

import pytest
from playwright.sync_api import Page, expect

from tests.web.axe import axe_violations
from tests.web.conftest import ARTIFACTS, World, screenshot
from tests.web.test_browser import log_in
from tests.web.test_browser_registry import PHONE, SMALL_TARGETS, TARGETS

pytestmark = pytest.mark.e2e

OPEN_ALL = """() => document
  .querySelectorAll('#results details, #therapies details, #outreach details')
  .forEach((d) => { d.open = true; })"""


def open_form(page: Page, section: str, summary: str) -> None:
    page.locator(f"#{section} summary", has_text=summary).first.click()


def test_a_mistyped_measurement_corrected_takes_its_trigger_away(
    page: Page, live_server: str, world: World
) -> None:
    log_in(page, live_server)
    page.goto(f"{live_server}/patients/{world.growth_patient}")
    open_form(page, "results", "Add measurement…")
    form = page.locator("#form-measurement")
    form.locator("[name=lesion]").fill("L1")
    form.locator("[name=diameter_mm]").fill("40")  # meant 10.4
    form.get_by_role("button", name="Save measurement").click()
    expect(page.locator(".flash-alert", has_text="New trigger: Growth rate")).to_be_visible()
    growth = page.locator(".trigger", has_text="Growth").first
    expect(growth).to_contain_text("open")
    screenshot(page, "20-measurement-mistyped")

    row = page.locator("#measurement-rows tbody tr", has_text="40 mm")
    row.locator("summary", has_text="Correct…").click()
    fix = row.locator("form[id^=form-correct-measurement]")
    fix.locator("[name=diameter_mm]").fill("10.4")
    fix.locator("[name=reason]").fill("typed 40 for 10.4")
    fix.get_by_role("button", name="Save correction").click()
    expect(page.locator(".flash-ok")).to_contain_text("Corrected to L1 10.4 mm")
    expect(page.locator("#measurement-rows")).to_contain_text("struck out by nina: corrected")
    expect(page.locator(".trigger", has_text="Growth").first).to_contain_text(
        "withdrawn: corrected: typed 40 for 10.4"
    )
    expect(page.locator(".trigger.trigger-open")).to_have_count(0)  # growth and size both
    expect(page.locator(".state-now")).to_contain_text("Active surveillance")  # moved back
    screenshot(page, "21-measurement-corrected")


def test_an_ssa_injection_and_a_refused_form(page: Page, live_server: str, world: World) -> None:
    log_in(page, live_server)
    page.goto(f"{live_server}/patients/{world.north_patient}")
    open_form(page, "therapies", "Add therapy…")
    form = page.locator("#form-therapy")
    form.locator("[name=kind]").select_option("ssa")
    form.locator("[name=agent]").fill("lanreotide 120 mg")
    form.get_by_role("button", name="Save therapy").click()
    expect(page.locator(".flash-ok")).to_contain_text("Recorded ssa from")
    therapy = page.locator(".therapy-list li", has_text="lanreotide 120 mg")
    therapy.locator("summary", has_text="Record dose given…").click()
    therapy.get_by_role("button", name="Save dose").click()
    expect(page.locator(".flash-ok")).to_contain_text("lanreotide 120 mg given on")
    expect(page.locator(".therapy-list li", has_text="lanreotide")).to_contain_text("Doses given:")
    screenshot(page, "22-ssa-injection")

    # Three mistakes at once: each named beside its field, nothing saved.
    open_form(page, "results", "Add measurement…")
    form = page.locator("#form-measurement")
    form.locator("[name=date]").fill("2999-01-01")
    form.locator("[name=diameter_mm]").fill("-4")
    form.get_by_role("button", name="Save measurement").click()
    expect(page.get_by_role("heading", name="Please check")).to_be_visible()
    expect(page.locator("#problems li")).to_have_count(3)
    for field in ("lesion", "date", "diameter_mm"):
        expect(page.locator(f"#measurement-{field}-error")).to_be_visible()
    assert axe_violations(page) == []
    screenshot(page, "23-refused-measurement")


def test_an_outreach_call_shows_on_the_worklist_row(
    page: Page, live_server: str, world: World
) -> None:
    log_in(page, live_server)
    page.goto(f"{live_server}/patients/{world.north_patient}")
    open_form(page, "outreach", "Log a contact…")
    form = page.locator("#form-outreach")
    form.locator("[name=channel]").select_option("call")
    form.locator("[name=result]").select_option("voicemail")
    form.locator("[name=item_id]").select_option(str(world.overdue_item))
    form.locator("[name=note]").fill("will ring back on Monday")
    form.get_by_role("button", name="Save contact").click()
    expect(page.locator("#outreach-log")).to_contain_text("call: left a voicemail")
    page.goto(f"{live_server}/worklist")
    row = page.locator(f"tr[data-item='{world.overdue_item}']")
    expect(row.locator(".last-contact")).to_contain_text("call, left a voicemail")
    screenshot(page, "24-worklist-last-contact")


def test_the_forms_pass_axe_and_fit_a_phone(page: Page, live_server: str, world: World) -> None:
    log_in(page, live_server)
    url = f"{live_server}/patients/{world.growth_patient}"  # has a measurement to correct
    page.goto(url)
    page.evaluate(OPEN_ALL)
    assert axe_violations(page) == []
    screenshot(page, "25-forms-open-desktop")
    page.set_viewport_size(PHONE)
    page.goto(url)
    page.evaluate(OPEN_ALL)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.evaluate(SMALL_TARGETS, TARGETS) == []
    screenshot(page, "26-forms-open-phone")
    page.locator("#results").screenshot(path=str(ARTIFACTS / "27-phone-results-section.png"))
