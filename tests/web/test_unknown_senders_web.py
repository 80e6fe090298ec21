"""Texts from numbers no patient has, on the worklist (both backends): listed with the number and
the words, matched to a patient from the row (the reply then joins that patient's replies) or
dismissed with a reason, each leaving its audit rows; another clinic's patient cannot be named
(the app's 404, its refusal audited), and a bad form writes nothing."""

import datetime as dt

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from surveil.config import DatabaseSettings, Settings, WebSettings
from surveil.services.reminders.replies import receive_sms
from tests.web.axe import axe_violations
from tests.web.conftest import World, csrf_of, screenshot
from tests.web.seed import NO_TOTP, SECRET_KEY
from tests.web.test_browser import log_in
from tests.web.test_one_way_in_records_shells import Audit, post

SHELL_COVERED = frozenset({"replies.match", "replies.dismiss"})
NOT_AUDITED: dict[str, str] = {}
SENDER = "+15550100999"
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def web_settings(db_url: str) -> Settings:
    return Settings(
        database=DatabaseSettings(url=db_url),
        web=WebSettings(secret_key=SECRET_KEY, login_attempts=3),
        security=NO_TOTP,
    )


def text_in(engine: sa.Engine, message_id: str, text: str) -> int:
    outcome = receive_sms(
        engine, message_id=message_id, sender=SENDER, text=text, now=dt.datetime.now(dt.UTC)
    )
    assert outcome.status == "unmatched" and outcome.reply_id is not None
    return outcome.reply_id


def test_unknown_senders_are_matched_or_dismissed_from_the_worklist(
    nina: TestClient, world: World, web_engine: sa.Engine
) -> None:
    first = text_in(web_engine, "SM1", "Ada here, new phone: please call me")
    second = text_in(web_engine, "SM2", "who is this?")
    audit = Audit(web_engine)
    page = nina.get("/worklist").text
    assert "Replies from unknown numbers" in page and SENDER in page
    assert f'data-unknown-reply="{first}"' in page and "who is this?" in page

    # Every problem named, nothing written.
    before = audit.record()
    token = csrf_of(nina, "/worklist")
    shown = nina.post(f"/replies/{first}/match", data={"csrf_token": token, "mrn": " "})
    assert shown.status_code == 200 and "Nothing was changed" in shown.text and "mrn" in shown.text
    assert audit.new() == [] and audit.record() == before
    # Another clinic's patient: not found, and the refusal is audited.
    refused = nina.post(f"/replies/{first}/match", data={"csrf_token": token, "mrn": "S-200"})
    assert refused.status_code == 404
    assert [r.action for r in audit.new()] == ["access.denied"] and audit.record() == before

    rows = post(nina, audit, f"/replies/{first}/match", {"mrn": "N-100"})
    north = world.north_patient
    assert [r[:4] for r in rows] == [
        ("reply.matched", "nina", "web", north),
        ("reply.unrecognised", "nina", "web", north),
        ("patient.viewed", "nina", "web", north),  # the form goes on to the patient's page
    ]
    rows = post(nina, audit, f"/replies/{second}/dismiss", {"note": "wrong number"})
    assert [r[:4] for r in rows] == [("reply.dismissed", "nina", "web", None)]

    page = nina.get("/worklist").text
    assert "Replies from unknown numbers" not in page and SENDER not in page
    # The matched text now waits among the patient's replies, to be handled like any other.
    replies = nina.get("/worklist?section=replies").text
    assert "Ada here, new phone" in replies


@pytest.mark.e2e
def test_an_unknown_sender_is_matched_on_a_phone(
    page: Page, live_server: str, world: World, web_engine: sa.Engine
) -> None:
    """In real Chromium at 390 px: the row shows the number and the words, the match form takes
    the MRN and lands on the patient's page; axe finds nothing critical or serious."""
    reply = text_in(web_engine, "SM3", "new phone, call me please")
    page.set_viewport_size(PHONE)
    log_in(page, live_server)
    row = page.locator(f"#sec-unknown-senders tr[data-unknown-reply='{reply}']")
    expect(row).to_contain_text(SENDER)
    expect(row).to_contain_text("new phone, call me please")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert axe_violations(page) == []
    screenshot(page, "unknown-senders-phone")
    row.get_by_label("Patient's MRN").fill("N-100")
    row.get_by_role("button", name="Match").click()
    expect(page.locator(".flash-ok")).to_contain_text("Reply matched to the patient")
    assert page.url.endswith(f"/patients/{world.north_patient}")
