"""The unmatched HL7 queue in the browser (issue 17): a navigator sees each waiting message in
words, applies one to the patient she names, is refused (422, the problem beside the message,
nothing written) when the dismissal has no reason, then dismisses it; the page fits a phone and
axe finds nothing critical or serious."""

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from surveil.config import Hl7Settings, Settings
from surveil.core.vocab import Channel
from surveil.db import models as m
from surveil.db.hl7 import Hl7Message
from surveil.hl7.sender import messages_in
from surveil.services.actor import Actor
from surveil.services.hl7 import refresh, store
from surveil.web.deps import clinic_today
from tests.web.axe import axe_violations
from tests.web.conftest import World, csrf_of
from tests.web.test_browser import log_in
from tests.web.test_browser_registry import PHONE, SMALL_TARGETS, TARGETS

SHELL_COVERED: frozenset[str] = frozenset({"hl7.apply", "hl7.dismiss"})
NOT_AUDITED: dict[str, str] = {}
SAMPLES = Path(__file__).resolve().parents[1] / "data" / "hl7"


def _queue(engine: sa.Engine, settings: Settings, *names: str) -> list[int]:
    """Messages about patients surveil does not know, so they wait in the queue."""
    feed = Actor.system(Channel.HL7, clinic="north")
    north = Settings(database=settings.database, hl7=Hl7Settings(identifier_authority="HOSP"))
    ids = []
    for name in names:
        receipt = store.receive(engine, actor=feed, raw=messages_in(SAMPLES / name)[0])
        store.apply_message(
            engine,
            actor=feed,
            message_id=receipt.message_id,
            settings=north,
            today=clinic_today(settings),
        )
        ids.append(receipt.message_id)
    return ids


def _audit(engine: sa.Engine) -> list[tuple[str, str, str, int | None]]:
    with Session(engine) as session:
        rows = session.exec(select(m.AuditEvent).order_by(m.AuditEvent.id))
        return [(e.action, e.actor, e.channel, e.patient_id) for e in rows]


def test_apply_to_a_named_patient_and_dismiss_with_a_reason(
    nina: TestClient, web_engine: sa.Engine, web_settings: Settings, world: World
) -> None:
    result, contact = _queue(web_engine, web_settings, "oru_cga.hl7", "adt_a28_unknown.hl7")
    page = nina.get("/hl7/queue")
    assert page.status_code == 200
    assert "lab result (ORU^R01) for Ann SMITH" in page.text
    assert "no patient with MRN 100001 in surveil" in page.text
    token = csrf_of(nina, "/hl7/queue")
    before = _audit(web_engine)
    refused = nina.post(f"/hl7/queue/{contact}/dismiss", data={"reason": " ", "csrf_token": token})
    assert refused.status_code == 422
    assert 'id="problems-' + str(contact) + '"' in refused.text
    assert "say why the message is dismissed" in refused.text
    wrong = nina.post(f"/hl7/queue/{result}/apply", data={"patient_id": "x1", "csrf_token": token})
    assert wrong.status_code == 422 and "patient_id: &#39;x1&#39; is not an id" in wrong.text
    for digits in ("¹", "٣"):  # str.isdigit() says yes to both; int() refuses the first
        other = nina.post(
            f"/hl7/queue/{result}/apply", data={"patient_id": digits, "csrf_token": token}
        )
        assert other.status_code == 422 and f"&#39;{digits}&#39; is not an id" in other.text
    assert [a for a in _audit(web_engine) if a[0] != "hl7.queue.viewed"] == [
        a for a in before if a[0] != "hl7.queue.viewed"
    ]  # nothing written
    applied = nina.post(
        f"/hl7/queue/{result}/apply",
        data={"patient_id": str(world.north_patient), "csrf_token": token},
        follow_redirects=False,
    )
    assert applied.status_code == 303
    dismissed = nina.post(
        f"/hl7/queue/{contact}/dismiss",
        data={"reason": "a visitor, not our patient", "csrf_token": token},
        follow_redirects=False,
    )
    assert dismissed.status_code == 303
    rows = _audit(web_engine)
    assert ("hl7.applied", "nina", "web", world.north_patient) in rows
    assert ("marker.recorded", "nina", "web", world.north_patient) in rows
    assert ("item.done", "nina", "web", world.north_patient) in rows  # her open CgA item
    assert rows[-1] == ("hl7.dismissed", "nina", "web", None)
    with Session(web_engine) as session:
        states = [r.state for r in session.exec(select(Hl7Message).order_by(Hl7Message.id))]
    assert states == ["applied", "dismissed"]
    assert "No HL7 message is waiting" in nina.get("/hl7/queue").text


def test_a_result_whose_refresh_keeps_failing_is_re_run_from_the_page_once_fixed(
    nina: TestClient, web_engine: sa.Engine, web_settings: Settings, world: World
) -> None:
    [result] = _queue(web_engine, web_settings, "oru_cga.hl7")
    token = csrf_of(nina, "/hl7/queue")
    nina.post(
        f"/hl7/queue/{result}/apply",
        data={"patient_id": str(world.north_patient), "csrf_token": token},
        follow_redirects=False,
    )
    # Poisoned: an override naming a scan the planner does not know, and the result's refresh
    # left to the listener's refresher, which gives up after its attempts.
    with Session(web_engine) as session:
        bad = m.PlanOverride(
            patient_id=world.north_patient, kind="ct", modality="xray", reason="old", author="x"
        )
        session.add(bad)
        session.execute(sa.update(Hl7Message).values(refresh_due=True))
        session.commit()
        override = bad.id
    feed = Actor.system(Channel.HL7, clinic="north")
    at = dt.datetime.now(dt.UTC)
    for _ in range(refresh.MAX_ATTEMPTS):
        at += dt.timedelta(hours=1)
        refresh.refresh_due(
            web_engine, actor=feed, settings=web_settings, today=clinic_today(web_settings), now=at
        )
    page = nina.get("/hl7/queue")
    assert "Re-run triggers and plan" in page.text and "not a valid ItemKind" in page.text
    refused = nina.post(f"/hl7/queue/{result}/apply", data={"csrf_token": token})
    assert refused.status_code == 422 and "still cannot be re-run" in refused.text
    with Session(web_engine) as session:
        session.execute(
            sa.update(m.PlanOverride).where(m.PlanOverride.id == override).values(modality="mri")
        )
        session.commit()
    rerun = nina.post(
        f"/hl7/queue/{result}/apply", data={"csrf_token": token}, follow_redirects=False
    )
    assert rerun.status_code == 303
    with Session(web_engine) as session:
        assert session.get(Hl7Message, result).state == "applied"  # type: ignore[union-attr]
    assert _audit(web_engine)[-1] == ("hl7.refreshed", "nina", "web", world.north_patient)


@pytest.mark.e2e
def test_the_queue_on_a_phone_fits_and_passes_axe(
    page: Page, live_server: str, web_engine: sa.Engine, web_settings: Settings, world: World
) -> None:
    _queue(web_engine, web_settings, "oru_cga.hl7", "adt_a40_merge.hl7")
    page.set_viewport_size(PHONE)
    log_in(page, live_server)
    page.goto(f"{live_server}/hl7/queue")
    expect(page.get_by_role("heading", name="HL7 messages waiting")).to_be_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.evaluate(SMALL_TARGETS, TARGETS) == []
    assert axe_violations(page) == []
    page.locator("form[action$='/dismiss']").first.get_by_role("button", name="Dismiss").click()
    expect(page.get_by_text("say why the message is dismissed")).to_be_visible()
    assert axe_violations(page) == []
    assert world.north_patient


def test_the_worklist_counts_the_waiting_messages_in_words_with_links_to_their_actions(
    nina: TestClient, web_engine: sa.Engine, web_settings: Settings, world: World
) -> None:
    result, contact = _queue(web_engine, web_settings, "oru_cga.hl7", "adt_a28_unknown.hl7")
    before = _audit(web_engine)
    page = nina.get("/worklist")
    assert page.status_code == 200
    assert 'id="sec-hl7"' in page.text and 'href="#sec-hl7"' in page.text  # section and chip
    assert '<span class="count" data-count="2">2</span>' in page.text
    # No [hl7] identifier_authority here: the words name PID-3's first identifier.
    assert "lab result (ORU^R01) for Ann SMITH, MRN 9434765919: Chromogranin A 120" in page.text
    assert "patient details (ADT^A28) for Neil NEWMAN, MRN 9434765919" in page.text
    assert "no patient with MRN 100001 in surveil (unknown patient)" in page.text
    for message_id in (result, contact):
        assert f'href="/hl7/queue#hl7-{message_id}"' in page.text
    assert _audit(web_engine) == before  # the worklist, as ever, is not an audited read
    # Focused on another section, the worklist leaves the messages out.
    assert 'id="sec-hl7"' not in nina.get("/worklist?section=overdue").text
    token = csrf_of(nina, "/hl7/queue")
    for message_id in (result, contact):
        done = nina.post(
            f"/hl7/queue/{message_id}/dismiss",
            data={"reason": "sent to the wrong clinic", "csrf_token": token},
            follow_redirects=False,
        )
        assert done.status_code == 303
    assert 'id="sec-hl7"' not in nina.get("/worklist").text  # nothing waits: no section
    assert world.north_patient


@pytest.mark.e2e
def test_the_worklist_section_on_a_phone_passes_axe_and_leads_to_the_actions(
    page: Page, live_server: str, web_engine: sa.Engine, web_settings: Settings, world: World
) -> None:
    [result] = _queue(web_engine, web_settings, "oru_cga.hl7")
    page.set_viewport_size(PHONE)
    log_in(page, live_server)
    page.goto(f"{live_server}/worklist")
    section = page.locator("#sec-hl7")
    expect(section.get_by_role("heading", name="HL7 messages waiting 1")).to_be_visible()
    expect(section.get_by_text("lab result (ORU^R01) for Ann SMITH")).to_be_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.evaluate(SMALL_TARGETS, TARGETS) == []
    assert axe_violations(page) == []
    section.get_by_role("link", name=f"Apply or dismiss message {result}").click()
    page.wait_for_url(f"{live_server}/hl7/queue#hl7-{result}")
    expect(page.locator(f"#hl7-{result}").get_by_role("button", name="Apply")).to_be_visible()
    assert world.north_patient
