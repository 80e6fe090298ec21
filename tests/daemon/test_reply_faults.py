"""Issue 18 points 3 and 7, the fault tests of replies, on SQLite and PostgreSQL, with real
parts: a STOP committed while a dispatcher holds claimed reminders (real threads, a real SMTP
server that holds its answer until the STOP is in), the reply headers of a message received by
a real aiosmtpd, and a web server process killed (``os._exit``, as ``kill -9``) while it applies
an inbound text, then asked again by the provider."""

import asyncio
import dataclasses
import datetime as dt
import json
import os
import socket
import subprocess
import sys
import threading
import time
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.config import Settings, WebSettings
from surveil.core.replies import sign_webhook
from surveil.db import models as m
from surveil.services.reminders import delivery
from surveil.services.reminders.links import act_on_link
from tests.daemon.seed import add_item, add_patient, settings_for
from tests.daemon.sink import Sink, free_port
from tests.services.test_replies import PHONE, seed
from tests.web.seed import SECRET_KEY

NOW = dt.datetime(2026, 6, 10, 12, 0, tzinfo=dt.UTC)
SERVER = Path(__file__).with_name("reply_server.py")
INBOUND_SECRET = "inbound-" + "k" * 32
BASE_URL = "https://followup.example.org"


class HoldingSink(Sink):
    """Accepts messages, but holds its answer to the ``hold_at``-th DATA until ``release`` is
    set, telling the test through ``holding``: the dispatcher is then mid-batch, with the rest
    of its claimed rows read and checked, waiting on the network."""

    def __init__(self, hold_at: int) -> None:
        super().__init__()
        self.hold_at = hold_at
        self.holding = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if len(self.raw) + 1 == self.hold_at:
            self.holding.set()
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 60)
        return await super().handle_DATA(server, session, envelope)


def email_settings(db_url: str, port: int, **replies: str) -> Settings:
    base = settings_for(db_url, port, reminders={"channels": ["email"]})
    return dataclasses.replace(
        base,
        web=WebSettings(secret_key=SECRET_KEY, base_url=BASE_URL),
        replies=dataclasses.replace(base.replies, **replies),
    )


def one_patient_with_items(engine: sa.Engine, settings: Settings, n: int) -> int:
    with Session(engine) as session:
        patient = add_patient(session, "S1")
        for k in range(n):
            add_item(session, patient, NOW.date() - dt.timedelta(days=1), kind="mri",
                     rule_id=f"rule-{k}")  # fmt: skip
        session.commit()
        assert delivery.plan_reminders(session, settings, NOW) == n
        session.commit()
        return patient.id or 0


def unsubscribe_token(sink: Sink) -> str:
    first = message_from_bytes(sink.raw[0], policy=policy.default)
    header = str(first["List-Unsubscribe"])
    return header.split("/r/", 1)[1].split(">", 1)[0]


def test_a_stop_committed_while_reminders_are_claimed_stops_every_later_send(
    engine: sa.Engine, db_url: str
) -> None:
    sink = HoldingSink(hold_at=3).start()
    try:
        settings = email_settings(db_url, sink.port)
        pid = one_patient_with_items(engine, settings, 20)
        transports = delivery.build_transports(settings)
        worker = threading.Thread(
            target=delivery.dispatch_due, args=(engine, transports, settings, NOW, "w1")
        )
        worker.start()
        try:
            # The 3rd message is on the wire; 17 more rows are claimed and already checked.
            assert sink.holding.wait(60), "the dispatcher never reached the third message"
            token = unsubscribe_token(sink)
            outcome = act_on_link(engine, settings, token=token, action="stop", now=NOW)
            assert outcome.status == "applied"
        finally:
            sink.release.set()
            worker.join(60)
            transports["email"].close()
        assert not worker.is_alive()
    finally:
        sink.stop()

    with Session(engine) as session:
        rows = session.exec(select(m.Reminder).where(m.Reminder.patient_id == pid)).all()
        sending = session.exec(
            select(m.DeliveryAttempt).where(col(m.DeliveryAttempt.status) == "sent")
        ).all()
    states = sorted((r.state, r.suppressed_reason or "") for r in rows)
    assert states == [("sent", "")] * 3 + [("suppressed", "opted out")] * 17
    assert len(sink.raw) == 3 and len(sending) == 3  # nothing went out after the STOP


def test_reminder_emails_carry_rfc_8058_headers_and_the_reply_link(
    engine: sa.Engine, db_url: str, sink: Sink
) -> None:
    settings = email_settings(db_url, sink.port, unsubscribe_mailto="leave@hospital.example")
    pid = one_patient_with_items(engine, settings, 1)
    transports = delivery.build_transports(settings)
    try:
        assert delivery.dispatch_due(engine, transports, settings, NOW, "w1") == 1
    finally:
        transports["email"].close()
    (raw,) = sink.raw
    received = message_from_bytes(raw, policy=policy.default)
    header = str(received["List-Unsubscribe"]).strip()  # folded: long
    assert header.startswith(f"<{BASE_URL}/r/")
    assert header.endswith(", <mailto:leave@hospital.example?subject=unsubscribe>")
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = received.get_body(("plain",))
    html = received.get_body(("html",))
    assert text is not None and html is not None
    reply_url = next(w for w in text.get_content().split() if w.startswith(f"{BASE_URL}/r/"))
    assert f'href="{reply_url}"' in html.get_content()
    assert reply_url not in header  # the page's token and the one-click token differ
    # The header's link works as RFC 8058 says: a POST stops e-mail at once.
    act_on_link(engine, settings, token=unsubscribe_token(sink), action="stop", now=NOW)
    with Session(engine) as session:
        assert session.get(m.ChannelOptOut, (pid, "email")) is not None


# --------------------------------------------------------------------------- kill -9


def server_env(db_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURVEIL_")}
    return (
        env
        | {
            "SURVEIL_DATABASE_URL": db_url,
            "SURVEIL_WEB_SECRET_KEY": SECRET_KEY,
            "SURVEIL_SMS_URL": "https://sms.example.org/send",
            "SURVEIL_SMS_INBOUND_SECRET": INBOUND_SECRET,
            "SURVEIL_SECURITY_TOTP_REQUIRED": "false",
        }
        | extra
    )


def start_server(env: dict[str, str], cwd: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, str(SERVER), str(port)], env=env, cwd=cwd)
    deadline = time.monotonic() + 30
    while True:  # until the server accepts connections (or died)
        assert process.poll() is None, "the server exited at start-up"
        assert time.monotonic() < deadline, "the server did not start"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    return process, f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("point", ["reply_before_commit", "reply_after_commit"])
def test_a_server_killed_while_applying_a_text_applies_it_once_on_the_retry(
    engine: sa.Engine, db_url: str, tmp_path: Path, point: str
) -> None:
    pid, _, _ = seed(engine)
    body = json.dumps({"id": "SM-kill", "from": PHONE, "text": "STOP"}).encode()
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Surveil-Timestamp": stamp,
        "X-Surveil-Signature": "sha256=" + sign_webhook(INBOUND_SECRET.encode(), stamp, body),
    }
    doomed, url = start_server(server_env(db_url, SURVEIL_TEST_KILL_AT=point), tmp_path)
    try:
        with pytest.raises(httpx.TransportError):  # the process died mid-request: no answer
            httpx.post(f"{url}/hooks/sms/inbound", content=body, headers=headers, timeout=30)
        assert doomed.wait(30) == 137
    finally:
        if doomed.poll() is None:
            doomed.kill()
    # The provider got no answer, so it sends the same request again.
    server, url = start_server(server_env(db_url), tmp_path)
    try:
        retry = httpx.post(f"{url}/hooks/sms/inbound", content=body, headers=headers, timeout=30)
    finally:
        server.terminate()
        server.wait(30)
    expected = "applied" if point == "reply_before_commit" else "duplicate"
    assert (retry.status_code, retry.json()["status"]) == (200, expected)
    with Session(engine) as session:
        assert len(session.exec(select(m.InboundReply)).all()) == 1
        assert [(o.patient_id, o.channel) for o in session.exec(select(m.ChannelOptOut))] == [
            (pid, "sms")
        ]
        assert session.exec(select(m.AuditEvent.action)).all() == ["reply.stopped"]
