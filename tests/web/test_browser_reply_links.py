"""The reply-link page of a reminder e-mail in a real Chromium on a phone (390 px), in every
shipped language: no login, buttons that act only when pressed, the thank-you page after, and
axe-core finding nothing critical or serious on either."""

import dataclasses
import datetime as dt

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect
from sqlmodel import Session

from surveil.config import Settings
from surveil.db import models as m
from surveil.services.reminders.links import links_for
from tests.services.test_replies import replies, seed
from tests.web.axe import axe_violations
from tests.web.conftest import World, screenshot
from tests.web.test_browser import log_in

pytestmark = pytest.mark.e2e
PHONE = {"width": 390, "height": 844}
WORDS = {
    "en": ("I will be there", "we have noted your confirmation"),
    "es": ("Allí estaré", "hemos anotado su confirmación"),
    "fr": ("Je serai là", "nous avons noté votre confirmation"),
}


@pytest.mark.parametrize("language", sorted(WORDS))
def test_the_reply_page_works_on_a_phone_in_every_language(
    page: Page, live_server: str, web_engine: sa.Engine, web_settings: Settings, language: str
) -> None:
    pid, _, rid = seed(web_engine, channel="email", now=dt.datetime.now(dt.UTC))
    settings = dataclasses.replace(
        web_settings, web=dataclasses.replace(web_settings.web, base_url=live_server)
    )
    with Session(web_engine) as session:
        patient = session.get(m.Patient, pid)
        row = session.get(m.Reminder, rid)
        assert patient is not None and row is not None
        patient.language = language
        session.add(patient)
        session.commit()
        links = links_for(settings, row)
    assert links is not None
    button, thanks = WORDS[language]

    page.set_viewport_size(PHONE)
    page.goto(links.reply_url)
    expect(page.get_by_role("button", name=button)).to_be_visible()
    assert page.evaluate("document.documentElement.lang") == language
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert axe_violations(page) == []
    assert replies(web_engine) == []  # opening the page did nothing
    screenshot(page, f"reply18-link-page-{language}")

    page.get_by_role("button", name=button).click()
    expect(page.get_by_role("status")).to_contain_text(thanks)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert axe_violations(page) == []
    assert [r.kind for r in replies(web_engine)] == ["confirm"]
    screenshot(page, f"reply18-link-done-{language}")


def test_a_navigator_handles_a_reply_from_the_worklist_on_a_phone(
    page: Page, live_server: str, web_engine: sa.Engine, world: World
) -> None:
    with Session(web_engine) as session:
        session.add(
            m.InboundReply(
                dedupe_key="sms:B1", channel="sms", kind="unrecognised",
                patient_id=world.north_patient, item_id=world.overdue_item,
                text="Tuesday is no good", received_at=dt.datetime.now(dt.UTC),
                needs_action=True,
            )
        )  # fmt: skip
        session.commit()
    page.set_viewport_size(PHONE)
    log_in(page, live_server)
    page.goto(f"{live_server}/worklist?section=replies")
    section = page.locator("#sec-replies")
    expect(section).to_contain_text('"Tuesday is no good"')
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert axe_violations(page) == []
    screenshot(page, "reply18-worklist-replies-phone")
    section.get_by_label("Note").fill("called back, rebooked for Thursday")
    section.get_by_role("button", name="Handled").click()
    expect(page.locator(".flash-ok")).to_contain_text("Reply marked handled")
    expect(page.locator("#sec-replies")).not_to_contain_text("Tuesday is no good")
    assert [r.handled_note for r in replies(web_engine)] == ["called back, rebooked for Thursday"]
