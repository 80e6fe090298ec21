"""The navigator's day in a real headless Chromium (Debian's /usr/bin/chromium) against a live
uvicorn server. Screenshots go to artifacts/ for a human to look at."""

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from surveil.db import models as m
from tests.web.conftest import World, screenshot
from tests.web.seed import PASSWORD

pytestmark = pytest.mark.e2e


def log_in(page: Page, base: str, username: str = "nina", password: str = PASSWORD) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def section(page: Page, key: str) -> object:
    return page.locator(f"#sec-{key}")


@pytest.mark.usefixtures("world")
def test_wrong_password_is_refused_then_the_worklist_shows_overdue_and_trigger(
    page: Page, live_server: str
) -> None:
    page.goto(f"{live_server}/worklist")
    expect(page).to_have_url(re.compile(r"/login\?next=/worklist$"))
    log_in(page, live_server, password="not the password")
    expect(page.locator("#login-error")).to_have_text("Wrong username or password.")
    screenshot(page, "01-login-refused")
    log_in(page, live_server)
    expect(page).to_have_url(f"{live_server}/worklist")
    overdue = page.locator("#sec-overdue")
    expect(overdue.get_by_role("link", name="OKAFOR, Ada")).to_be_visible()
    expect(overdue.locator("td.timing")).to_have_text("12 days overdue")
    triggers = page.locator("#sec-triggers")
    expect(triggers.locator("tbody tr")).to_have_count(1)
    expect(triggers.get_by_text("Growth rate")).to_be_visible()
    expect(page.get_by_text("LINDQVIST")).to_have_count(0)  # another clinic's patient
    screenshot(page, "02-worklist")


def test_done_with_a_measurement_fires_a_growth_trigger(
    page: Page, live_server: str, world: World, web_engine: sa.Engine
) -> None:
    log_in(page, live_server)
    page.locator("#sec-due").get_by_role("link", name="PETROV, Ivan").click()
    expect(page.get_by_role("heading", name="PETROV, Ivan")).to_be_visible()
    expect(page.locator("#triggers")).to_contain_text("No trigger has fired")
    row = page.locator(f"#item-{world.growth_item}")
    row.get_by_text("Done…").click()
    form = row.get_by_role("form", name="Record MRI done")
    form.get_by_label("Lesion").fill("L1")
    form.get_by_label("Longest diameter (mm)").fill("16")
    screenshot(page, "03-patient-done-form")
    form.get_by_role("button", name="Save result").click()
    expect(page.locator(".flash-ok")).to_contain_text("MRI done on")
    expect(page.locator(".flash-alert")).to_contain_text("New trigger: Growth rate")
    trigger = page.locator("#triggers li.trigger-open")
    expect(trigger).to_contain_text("L1")
    expect(page.locator("#growth-l1 circle.dot")).to_have_count(2)
    screenshot(page, "04-patient-trigger-fired")
    with Session(web_engine) as session:
        fired = session.exec(
            select(m.Trigger).where(m.Trigger.patient_id == world.growth_patient)
        ).all()
        assert [t.kind for t in fired if t.kind == "growth_rate"] == ["growth_rate"]
    page.goto(f"{live_server}/worklist")
    expect(page.locator("#sec-triggers").get_by_text("PETROV, Ivan")).to_be_visible()


def test_snooze_from_the_worklist_moves_the_item_out_of_overdue(
    page: Page, live_server: str, world: World
) -> None:
    log_in(page, live_server)
    row = page.locator(f"#sec-overdue tr[data-item='{world.overdue_item}']")
    row.get_by_text("Snooze…").click()
    row.get_by_label("Reason").fill("patient in hospital elsewhere")
    screenshot(page, "05-snooze-form")
    row.get_by_role("button", name="Snooze", exact=True).click()
    expect(page.locator(".flash-ok")).to_contain_text("snoozed until")
    expect(page.locator(f"#sec-overdue tr[data-item='{world.overdue_item}']")).to_have_count(0)
    expect(page.locator("#sec-overdue .count")).to_have_text("0")
    screenshot(page, "06-worklist-after-snooze")


def test_a_forged_form_from_another_origin_is_refused(
    page: Page, live_server: str, world: World, web_engine: sa.Engine
) -> None:
    log_in(page, live_server)
    page.set_content(
        f'<form method="post" action="{live_server}/items/{world.overdue_item}/ordered">'
        '<input name="csrf_token" value="guessed"><button>Win a prize</button></form>'
    )
    page.get_by_role("button", name="Win a prize").click()
    expect(page.get_by_role("heading", name="Request refused")).to_be_visible()
    screenshot(page, "07-csrf-refused")
    with Session(web_engine) as session:
        assert session.get(m.FollowUpItem, world.overdue_item).state == "planned"  # type: ignore[union-attr]


def test_a_navigator_cannot_open_another_clinics_patient(
    page: Page, live_server: str, world: World
) -> None:
    log_in(page, live_server)
    response = page.goto(f"{live_server}/patients/{world.south_patient}")
    assert response is not None and response.status == 404
    expect(page.get_by_text("There is no such page, or it is not open to you.")).to_be_visible()
    expect(page.get_by_text("LINDQVIST")).to_have_count(0)
    screenshot(page, "08-other-clinic-404")


def test_audit_rows_are_written_and_shown_to_the_admin(
    page: Page, live_server: str, world: World, web_engine: sa.Engine
) -> None:
    log_in(page, live_server, password="typo")
    log_in(page, live_server)
    page.goto(f"{live_server}/patients/{world.north_patient}")
    row = page.locator(f"#item-{world.overdue_item}")
    row.get_by_role("button", name="Ordered").click()
    expect(page.locator(".flash-ok")).to_contain_text("MRI ordered")
    page.goto(f"{live_server}/patients/{world.south_patient}")
    page.get_by_role("button", name="Log out").click()
    log_in(page, live_server, username="ada")
    page.get_by_role("link", name="Audit log").click()
    table = page.locator("table.audit")
    for action in (
        "login.failed",
        "login.succeeded",
        "patient.viewed",
        "item.ordered",
        "access.denied",
    ):
        expect(table.get_by_text(action, exact=True).first).to_be_visible()
    screenshot(page, "09-audit-log")
    with Session(web_engine) as session:
        rows = session.exec(select(m.AuditEvent).where(m.AuditEvent.actor == "nina")).all()
        assert {(r.action, r.patient_id) for r in rows} >= {
            ("login.failed", None),
            ("patient.viewed", world.north_patient),
            ("item.ordered", world.north_patient),
            ("access.denied", world.south_patient),
            ("logout", None),
        }
        assert all(r.ip == "127.0.0.1" for r in rows)
