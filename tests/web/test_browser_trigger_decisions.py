"""Issue 14's failed journey, in a real headless Chromium against a live server: a growth trigger
proposes leaving surveillance and shortens imaging; a clinician confirms it, then the board finds
a measurement error and resolves it as a false alarm: the state and the imaging interval come
back, the tumour-board item stays. The patient page passes axe (0 critical, 0 serious) and fits
a phone (390 px)."""

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect
from sqlmodel import Session, col, select

from surveil.db import models as m
from tests.web.axe import axe_violations
from tests.web.conftest import World, screenshot
from tests.web.seed import make_user
from tests.web.test_browser import log_in

pytestmark = pytest.mark.e2e


def _scan_reasons(engine: sa.Engine, patient: int) -> list[str]:
    with Session(engine) as session:
        rows = session.exec(
            select(m.FollowUpItem).where(
                m.FollowUpItem.patient_id == patient,
                m.FollowUpItem.state == m.ItemState.PLANNED,
                col(m.FollowUpItem.kind).in_(("mri", "ct", "ct_or_mri")),
            )
        ).all()
        return [r.reason for r in rows]


def test_a_false_alarm_reverts_the_state_and_the_imaging_interval(
    page: Page, live_server: str, world: World, web_engine: sa.Engine
) -> None:
    with Session(web_engine) as session:
        make_user(session, "dora", role="clinician", clinic="north")
        session.commit()
    patient = world.growth_patient
    log_in(page, live_server, "dora")
    page.goto(f"{live_server}/patients/{patient}")
    row = page.locator(f"#item-{world.growth_item}")
    row.get_by_text("Done…").click()
    form = row.get_by_role("form", name="Record MRI done")
    form.get_by_label("Lesion").fill("L1")
    form.get_by_label("Longest diameter (mm)").fill("16")
    form.get_by_role("button", name="Save result").click()
    expect(page.locator(".flash-alert")).to_contain_text("New trigger: Growth rate")

    trigger = page.locator("#triggers li.trigger-open")
    expect(trigger).to_contain_text("leave active surveillance for advanced")
    expect(page.locator(".state-now")).to_contain_text("Active surveillance")
    assert all("trigger #" in r for r in _scan_reasons(web_engine, patient))  # 3–6 months
    screenshot(page, "14-trigger-proposes")
    assert axe_violations(page) == []

    trigger.get_by_role("button", name="Confirm proposed changes").click()
    expect(page.locator(".flash-ok")).to_contain_text("confirmed")
    expect(page.locator(".state-now")).to_contain_text("Advanced disease")

    trigger = page.locator("#triggers li.trigger").first
    trigger.get_by_text("Resolve…").click()
    trigger.get_by_label("Outcome").select_option("measurement_error")
    trigger.get_by_label("In words").fill("Tumour board: measurement error on the MRI")
    trigger.get_by_role("button", name="Resolve").click()
    expect(page.locator(".flash-ok")).to_contain_text("undone")
    expect(page.locator(".state-now")).to_contain_text("Active surveillance")
    resolved = page.locator("#triggers li.trigger-resolved")
    expect(resolved).to_contain_text("reverted")
    expect(resolved.get_by_text("Re-open…")).to_be_visible()
    reasons = _scan_reasons(web_engine, patient)
    assert reasons and not any("trigger #" in r for r in reasons)  # the protocol's interval
    with Session(web_engine) as session:
        board = session.exec(
            select(m.FollowUpItem).where(
                m.FollowUpItem.patient_id == patient, m.FollowUpItem.kind == "tumour_board"
            )
        ).one()
        assert board.state == m.ItemState.PLANNED  # the board item stays
    screenshot(page, "15-false-alarm-reverted")
    found = axe_violations(page)
    assert found == [], [n for v in found for n in v["nodes"]]

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
