"""Enrolment and the record's small forms in a real Chromium (issue 13): three mistakes shown at
once then corrected, the plan shown; a Ki-67 that raises the grade fires its trigger; consent
withdrawn turns reminders off; the forms on a phone (390 px: no sideways scrolling, targets of
44 px); axe-core finds nothing critical or serious. Screenshots go to the test's tmp folder."""

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from surveil.config import Settings
from surveil.web.deps import clinic_today
from tests.web.axe import axe_violations
from tests.web.conftest import World
from tests.web.test_browser import log_in
from tests.web.test_browser_registry import DESKTOP, PHONE, SMALL_TARGETS, TARGETS

pytestmark = pytest.mark.e2e


def shot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def fill_enrolment(page: Page) -> None:
    form = page.locator("form.record-form")
    form.get_by_label("MRN", exact=True).fill("N-777")
    form.get_by_label("Given name").fill("Grace")
    form.get_by_label("Family name").fill("Hopper")
    form.get_by_label("Birth date").fill("1961-12-09")
    form.get_by_label("Mobile phone").fill("07700 900123")  # mistake 1: not international
    form.get_by_label("E-mail").fill("grace.example.org")  # mistake 2: no @
    form.get_by_label("Primary site").select_option("pancreas")
    form.get_by_label("Ki-67 (%)").fill("140")  # mistake 3: above 100
    form.get_by_label("Diagnosed on").fill("2025-01-10")


@pytest.mark.usefixtures("world")
def test_enrol_with_three_mistakes_see_them_all_correct_them_and_see_the_plan(
    page: Page, live_server: str, tmp_path: Path
) -> None:
    log_in(page, live_server)
    page.goto(f"{live_server}/patients")
    page.locator("#new-patient").click()
    expect(page.get_by_role("heading", name="Enrol a patient")).to_be_visible()
    fill_enrolment(page)
    page.get_by_role("button", name="Enrol and make the plan").click()

    expect(page.locator(".form-problems")).to_contain_text("3 problems")
    form = page.locator("form.record-form")
    for label in ("Mobile phone", "E-mail", "Ki-67 (%)"):
        field = form.get_by_label(label)
        expect(field).to_have_attribute("aria-invalid", "true")
    expect(page.locator(".field-error")).to_have_count(3)
    expect(form.get_by_label("Family name")).to_have_value("Hopper")  # what was typed is kept
    shot(page, tmp_path, "enrol-three-mistakes")

    form.get_by_label("Mobile phone").fill("+447700900123")
    form.get_by_label("E-mail").fill("grace@example.org")
    form.get_by_label("Ki-67 (%)").fill("2")
    page.get_by_role("button", name="Enrol and make the plan").click()

    expect(page.get_by_role("heading", name="HOPPER, Grace")).to_be_visible()
    expect(page.locator(".flash-ok")).to_contain_text("Enrolled: the follow-up plan")
    plan = page.locator("#plan")
    expect(plan.locator("[id^=item-]").first).to_be_visible()  # the plan was made at once
    expect(page.locator("#contact")).to_contain_text("+447700900123")
    shot(page, tmp_path, "enrol-done-plan")


def test_a_ki67_that_raises_the_grade_shows_its_trigger(
    page: Page, live_server: str, world: World, web_settings: Settings, tmp_path: Path
) -> None:
    log_in(page, live_server)
    page.goto(f"{live_server}/patients/{world.growth_patient}")
    expect(page.locator("#h-facts + dl")).to_contain_text("G1")
    keep = page.locator("#keep-pathology")
    keep.locator("summary").click()
    keep.get_by_label("Report date").fill(str(clinic_today(web_settings)))
    keep.get_by_label("Ki-67 (%)").fill("8")
    keep.get_by_role("button", name="Record pathology").click()

    expect(page.locator(".flash-alert")).to_contain_text("New trigger: ")
    expect(page.locator(".flash-ok")).to_contain_text("Plan: ")
    expect(page.locator("#latest-ki67")).to_contain_text("8 %")
    expect(page.locator("#latest-ki67")).to_contain_text("G2")
    expect(page.locator("#triggers .trigger").first).to_be_visible()
    shot(page, tmp_path, "ki67-trigger")


def test_consent_withdrawn_shows_reminders_suppressed(
    page: Page, live_server: str, world: World, tmp_path: Path
) -> None:
    log_in(page, live_server)
    page.goto(f"{live_server}/patients/{world.north_patient}")
    expect(page.locator("#reminders-now")).not_to_contain_text("off")
    keep = page.locator("#keep-consent")
    keep.locator("summary").click()
    keep.get_by_label("The patient consents to reminders").uncheck()
    keep.get_by_role("button", name="Save consent").click()
    expect(page.locator("#reminders-now")).to_have_text("off: no consent to reminders")
    expect(page.locator(".flash-ok")).to_contain_text("consent reminders")
    shot(page, tmp_path, "consent-withdrawn")


def _open_every_form(page: Page) -> None:
    for summary in page.locator("#keep summary").all():
        summary.click()


def _refused_enrolment(page: Page, live: str) -> None:
    page.goto(f"{live}/patients/new")
    fill_enrolment(page)
    page.get_by_role("button", name="Enrol and make the plan").click()
    expect(page.locator(".form-problems")).to_be_visible()


def _refused_record_form(page: Page, live: str, patient: int) -> None:
    page.goto(f"{live}/patients/{patient}")
    keep = page.locator("#keep-contact")
    keep.locator("summary").click()
    keep.get_by_label("Mobile phone").fill("0770")
    keep.get_by_role("button", name="Save contact details").click()
    expect(page.get_by_role("heading", name="Contact details: please check")).to_be_visible()


def test_the_forms_on_a_phone_fit_and_are_easy_to_hit(
    page: Page, live_server: str, world: World, tmp_path: Path
) -> None:
    page.set_viewport_size(PHONE)
    log_in(page, live_server)
    checks = {
        "enrol": lambda: page.goto(f"{live_server}/patients/new"),
        "enrol-refused": lambda: _refused_enrolment(page, live_server),
        "patient-forms": lambda: (
            page.goto(f"{live_server}/patients/{world.north_patient}"),
            _open_every_form(page),
        ),
        "record-form-refused": lambda: _refused_record_form(page, live_server, world.north_patient),
    }
    for name, show in checks.items():
        show()
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"], (name, width)
        assert page.evaluate(SMALL_TARGETS, TARGETS) == [], name
        shot(page, tmp_path, f"phone-{name}")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_axe_finds_nothing_critical_or_serious_on_the_forms(
    page: Page, live_server: str, world: World, viewport: dict[str, int]
) -> None:
    page.set_viewport_size(viewport)
    log_in(page, live_server)
    found: dict[str, Any] = {}
    page.goto(f"{live_server}/patients/new")
    found["enrol"] = axe_violations(page)
    _refused_enrolment(page, live_server)
    found["enrol-refused"] = axe_violations(page)
    page.goto(f"{live_server}/patients/{world.north_patient}")
    _open_every_form(page)
    found["patient-forms-open"] = axe_violations(page)
    _refused_record_form(page, live_server, world.north_patient)
    found["record-form-refused"] = axe_violations(page)
    assert {name: v for name, v in found.items() if v} == {}
