"""Issue 18 point 3, the shells: the SMS provider's signed inbound webhook and the pages of the
reply links in reminder e-mails (no login, no patient data, only the POST acts), and a reply
handled from the worklist. The webhook and the links run on SQLite and PostgreSQL."""

import dataclasses
import datetime as dt
import json
import re
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from surveil.config import DatabaseSettings, Settings, SmsSettings, WebSettings
from surveil.core.replies import sign_webhook
from surveil.db import models as m
from surveil.services.reminders.links import links_for
from surveil.web.app import create_app
from tests.services.test_replies import PHONE, replies, seed
from tests.web.conftest import BASE, World, csrf_of
from tests.web.seed import NO_TOTP, SECRET_KEY, make_reminder

SHELL_COVERED = frozenset({"replies.handled"})
NOT_AUDITED: dict[str, str] = {}
INBOUND_SECRET = "inbound-" + "s" * 32


def app_settings(db_url: str) -> Settings:
    return Settings(
        database=DatabaseSettings(url=db_url),
        security=NO_TOTP,
        web=WebSettings(secret_key=SECRET_KEY, base_url="https://followup.example.org"),
        sms=SmsSettings(url="https://sms.example.org/send", inbound_secret=INBOUND_SECRET),
    )


@pytest.fixture
def patient_client(db_url: str, engine: sa.Engine) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings(db_url), engine=engine), base_url=BASE) as client:
        yield client


def signed_post(
    client: TestClient, payload: dict[str, str], *, at: float | None = None,
    secret: str = INBOUND_SECRET, body: bytes | None = None,
) -> tuple[int, dict[str, str], bytes, dict[str, str]]:  # fmt: skip
    body = body if body is not None else json.dumps(payload).encode()
    stamp = str(int(at if at is not None else time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Surveil-Timestamp": stamp,
        "X-Surveil-Signature": "sha256=" + sign_webhook(secret.encode(), stamp, body),
    }
    answer = client.post("/hooks/sms/inbound", content=body, headers=headers)
    return answer.status_code, answer.json(), body, headers


def opt_outs(engine: sa.Engine) -> set[tuple[int, str]]:
    with Session(engine) as session:
        return {(o.patient_id, o.channel) for o in session.exec(select(m.ChannelOptOut))}


def test_a_signed_stop_is_applied_and_a_replay_of_it_is_not(
    patient_client: TestClient, engine: sa.Engine
) -> None:
    pid, _, _ = seed(engine)
    status, answer, body, headers = signed_post(
        patient_client, {"id": "SM100", "from": PHONE, "text": "STOP"}
    )
    assert (status, answer) == (200, {"status": "applied", "kind": "stop"})
    assert opt_outs(engine) == {(pid, "sms")}
    # The very same request again (a replay inside the window, or the provider's retry).
    replay = patient_client.post("/hooks/sms/inbound", content=body, headers=headers)
    assert (replay.status_code, replay.json()["status"]) == (200, "duplicate")
    assert len(replies(engine)) == 1
    with Session(engine) as session:
        actions = session.exec(select(m.AuditEvent.action)).all()
    assert actions == ["reply.stopped"]


@pytest.mark.parametrize("damage", ["other secret", "body changed", "expired", "unsigned"])
def test_a_forged_altered_stale_or_unsigned_webhook_is_refused(
    patient_client: TestClient, engine: sa.Engine, damage: str
) -> None:
    seed(engine)
    payload = {"id": "SM200", "from": PHONE, "text": "STOP"}
    if damage == "unsigned":
        answer = patient_client.post("/hooks/sms/inbound", json=payload)
        status = answer.status_code
    elif damage == "body changed":
        _, _, body, headers = signed_post(patient_client, {**payload, "id": "SM-probe"})
        status = patient_client.post(
            "/hooks/sms/inbound", content=body.replace(b"STOP", b"stop"), headers=headers
        ).status_code
        with Session(engine) as session:  # the probe itself went through; remove it
            session.exec(sa.delete(m.InboundReply))  # type: ignore[call-overload]
            session.exec(sa.delete(m.ChannelOptOut))  # type: ignore[call-overload]
            session.exec(sa.delete(m.AuditEvent))  # type: ignore[call-overload]
            session.commit()
    else:
        at = time.time() - 301 if damage == "expired" else None
        secret = "not-" + INBOUND_SECRET if damage == "other secret" else INBOUND_SECRET
        status, _, _, _ = signed_post(patient_client, payload, at=at, secret=secret)
    assert status == 401
    assert replies(engine) == [] and opt_outs(engine) == set()


def test_no_inbound_secret_refuses_every_webhook(db_url: str, engine: sa.Engine) -> None:
    seed(engine)
    settings = dataclasses.replace(app_settings(db_url), sms=SmsSettings())
    with TestClient(create_app(settings, engine=engine), base_url=BASE) as client:
        status, _, _, _ = signed_post(client, {"id": "SM1", "from": PHONE, "text": "STOP"})
    assert status == 401 and replies(engine) == []


def test_a_signed_but_malformed_body_is_refused(
    patient_client: TestClient, engine: sa.Engine
) -> None:
    seed(engine)
    status, _, _, _ = signed_post(patient_client, {}, body=b"not json")
    assert status == 422
    status, answer, _, _ = signed_post(patient_client, {"id": "", "from": "x", "text": "C"})
    assert status == 422 and {p["field"] for p in answer["problems"]} == {"id", "from"}  # type: ignore[index, union-attr]
    assert replies(engine) == []


# --------------------------------------------------------------------------- the link pages


def reply_token(engine: sa.Engine, db_url: str, rid: int, *, unsubscribe: bool = False) -> str:
    with Session(engine) as session:
        row = session.get(m.Reminder, rid)
        assert row is not None
        links = links_for(app_settings(db_url), row)
    assert links is not None
    return (links.unsubscribe_url if unsubscribe else links.reply_url).rsplit("/", 1)[1]


def test_the_link_page_shows_buttons_and_no_patient_data_and_only_the_post_acts(
    patient_client: TestClient, engine: sa.Engine, db_url: str
) -> None:
    _, _, rid = seed(engine, channel="email", now=dt.datetime.now(dt.UTC))
    token = reply_token(engine, db_url, rid)
    page = patient_client.get(f"/r/{token}")
    assert page.status_code == 200
    assert "set-cookie" not in page.headers
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    for secret in ("R1", "Smith", "Ann", "MRI", "r1@example.org", PHONE, "1960"):
        assert secret not in page.text
    assert "Follow-up scan" in page.text
    buttons = re.findall(r'name="action" value="([a-z_]+)"', page.text)
    assert buttons == ["confirm", "call_me", "stop"]
    assert replies(engine) == []  # a GET (a mail scanner) did nothing

    done = patient_client.post(f"/r/{token}", data={"action": "confirm"})
    assert done.status_code == 200 and "we have noted your confirmation" in done.text
    again = patient_client.post(f"/r/{token}", data={"action": "stop"})
    assert again.status_code == 200 and "we have noted your confirmation" in again.text
    assert [r.kind for r in replies(engine)] == ["confirm"] and opt_outs(engine) == set()


def test_one_click_unsubscribe_stops_email_at_once(
    patient_client: TestClient, engine: sa.Engine, db_url: str
) -> None:
    pid, _, rid = seed(engine, channel="email", now=dt.datetime.now(dt.UTC))
    token = reply_token(engine, db_url, rid, unsubscribe=True)
    # RFC 8058: the mail client POSTs this body to the List-Unsubscribe URL, with no cookie.
    answer = patient_client.post(
        f"/r/{token}",
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 200
    assert opt_outs(engine) == {(pid, "email")}


@pytest.mark.parametrize("token", ["AAAA", "x" * 45, "..%2F..%2Fetc"])
def test_a_forged_link_is_a_404_and_writes_nothing(
    patient_client: TestClient, engine: sa.Engine, token: str
) -> None:
    seed(engine, channel="email", now=dt.datetime.now(dt.UTC))
    assert patient_client.get(f"/r/{token}").status_code == 404
    assert patient_client.post(f"/r/{token}", data={"action": "stop"}).status_code == 404
    assert replies(engine) == [] and opt_outs(engine) == set()


@pytest.mark.parametrize(
    ("language", "words"),
    [("en", "I will be there"), ("es", "Allí estaré"), ("fr", "Je serai là")],
)
def test_the_page_is_in_the_patients_language(
    patient_client: TestClient, engine: sa.Engine, db_url: str, language: str, words: str
) -> None:
    pid, _, rid = seed(engine, channel="email", now=dt.datetime.now(dt.UTC))
    with Session(engine) as session:
        patient = session.get(m.Patient, pid)
        assert patient is not None
        patient.language = language
        session.add(patient)
        session.commit()
    page = patient_client.get(f"/r/{reply_token(engine, db_url, rid)}")
    assert words in page.text and f'<html lang="{language}">' in page.text


# --------------------------------------------------------------------------- the worklist


def test_a_reply_is_handled_from_the_worklist_with_a_note(
    nina: TestClient, web_engine: sa.Engine, world: World
) -> None:
    with Session(web_engine) as session:
        reply = m.InboundReply(
            dedupe_key="sms:W1", channel="sms", kind="call_me", patient_id=world.north_patient,
            item_id=world.overdue_item, text="can't do Tuesday",
            received_at=dt.datetime.now(dt.UTC), needs_action=True,
        )  # fmt: skip
        session.add(reply)
        session.commit()
        reply_id = reply.id
    page = nina.get("/worklist?section=replies")
    assert "can&#39;t do Tuesday" in page.text and f"/replies/{reply_id}/handled" in page.text
    token = csrf_of(nina, "/worklist")
    empty = nina.post(
        f"/replies/{reply_id}/handled",
        data={"csrf_token": token, "note": "", "next": "/worklist"},
        follow_redirects=False,
    )
    assert empty.status_code == 303
    done = nina.post(
        f"/replies/{reply_id}/handled",
        data={"csrf_token": token, "note": "called back, rebooked", "next": "/worklist"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    with Session(web_engine) as session:
        handled = session.get(m.InboundReply, reply_id)
        assert handled is not None and handled.handled_note == "called back, rebooked"
        events = session.exec(
            select(m.AuditEvent).where(col(m.AuditEvent.action) == "reply.handled")
        ).all()
    assert [(e.actor, e.channel, e.patient_id) for e in events] == [
        ("nina", "web", world.north_patient)
    ]
    assert "can&#39;t do Tuesday" not in nina.get("/worklist?section=replies").text


def test_the_patient_page_shows_the_reply_to_each_message_and_the_stopped_channel(
    nina: TestClient, web_engine: sa.Engine, world: World
) -> None:
    page = nina.get(f"/patients/{world.north_patient}").text
    assert 'id="stopped-channels"' not in page
    with Session(web_engine) as session:
        patient = session.get(m.Patient, world.north_patient)
        item = session.get(m.FollowUpItem, world.overdue_item)
        assert patient is not None and item is not None
        reminder = make_reminder(session, patient, item, state="sent")
        reply = m.InboundReply(
            dedupe_key="sms:P1", channel="sms", kind="stop", patient_id=patient.id,
            reminder_id=reminder.id, item_id=item.id, text="STOP",
            received_at=dt.datetime.now(dt.UTC), needs_action=True,
        )  # fmt: skip
        session.add(reply)
        session.flush()
        session.add(m.ChannelOptOut(patient_id=patient.id or 0, channel="sms", reply_id=reply.id))
        session.commit()
    page = nina.get(f"/patients/{world.north_patient}").text
    messages = page.split('id="messages"')[1].split("</section>")[0]
    assert "reply: stop by sms &#34;STOP&#34;" in messages
    stopped = page.split('id="stopped-channels"')[1].split("</dd>")[0]
    assert "text messages" in stopped and "e-mail" not in stopped
