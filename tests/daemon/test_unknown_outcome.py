"""Issue #18 point 1: an answer lost after the message was handed over is an *unknown* outcome.

A real SMTP server (aiosmtpd) takes the message and answers DATA after ``smtp.timeout_seconds``;
a real HTTP server takes an SMS request and answers after ``sms.timeout_seconds``. The
ledger must say ``unknown`` for that attempt (not ``retry``), the row waits as ``unknown``, and
its resend is marked ``resent_after_unknown``. On SQLite and PostgreSQL."""

import asyncio
import dataclasses
import datetime as dt
import threading
import time
from typing import Any

import sqlalchemy as sa
from pytest_httpserver import HTTPServer
from sqlmodel import Session
from werkzeug import Request, Response

from surveil.config import SmsSettings
from surveil.services.reminders import delivery
from surveil.services.reminders.delivery import dispatch_due, retry_delay
from surveil.transports import WebhookSmsTransport
from tests.daemon.seed import add_item, add_patient, settings_for
from tests.daemon.sink import Sink
from tests.daemon.test_delivery import NOW, TODAY, attempts, plan, rows

# The first retry's time, and then some: a round's clock runs on with real time.
RETRY_DUE = NOW + retry_delay(1) + dt.timedelta(seconds=10)


@dataclasses.dataclass
class LateSink(Sink):
    """Keeps every message, then answers the next ``late_answers`` DATA commands ``late``
    seconds later."""

    late: float = 1.5
    late_answers: int = 1

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        if self.late_answers > 0:
            self.late_answers -= 1
            await asyncio.sleep(self.late)
        return reply


def test_a_late_answer_to_data_is_unknown_and_the_resend_is_marked(
    engine: sa.Engine, db_url: str
) -> None:
    sink = LateSink().start()
    try:
        base = settings_for(db_url, sink.port)
        settings = dataclasses.replace(
            base, smtp=dataclasses.replace(base.smtp, timeout_seconds=0.5)
        )
        with Session(engine) as session:
            add_item(session, add_patient(session, "U1"), TODAY - dt.timedelta(days=1))
            session.commit()
        assert plan(engine, settings) == 1
        transports = delivery.build_transports(settings)
        try:
            assert dispatch_due(engine, transports, settings, NOW, "w1") == 1
            (row,) = rows(engine)
            assert row.state == "unknown" and row.attempts == 1
            assert not row.resent_after_unknown  # nothing was resent yet
            assert "outcome unknown" in row.last_error
            (first,) = attempts(engine, row.id or 0)
            assert first.status == "unknown"  # not "retry": the server has it
            assert sink.keys == {row.idempotency_key: 1}

            # Not before its backoff; then sent again, marked as a possible duplicate.
            assert dispatch_due(engine, transports, settings, NOW, "w1") == 0
            later = RETRY_DUE
            assert dispatch_due(engine, transports, settings, later, "w1") == 1
        finally:
            transports["email"].close()
        (row,) = rows(engine)
        assert row.state == "sent" and row.attempts == 2 and row.resent_after_unknown
        assert [a.status for a in attempts(engine, row.id or 0)] == ["unknown", "sent"]
        assert sink.keys == {row.idempotency_key: 2}  # the duplicate, counted and marked
    finally:
        sink.stop()


def test_a_refusal_after_data_is_a_clear_retry_and_not_marked(
    engine: sa.Engine, db_url: str
) -> None:
    sink = Sink(refuse={"p": "451 4.3.0 try again later"}).start()
    try:
        settings = settings_for(db_url, sink.port)
        with Session(engine) as session:
            add_item(session, add_patient(session, "P9"), TODAY - dt.timedelta(days=1))
            session.commit()
        plan(engine, settings)
        transports = delivery.build_transports(settings)
        try:
            dispatch_due(engine, transports, settings, NOW, "w1")
            sink.refuse.clear()
            dispatch_due(engine, transports, settings, RETRY_DUE, "w1")
        finally:
            transports["email"].close()
        (row,) = rows(engine)
        assert row.state == "sent" and not row.resent_after_unknown
        assert [a.status for a in attempts(engine, row.id or 0)] == ["retry", "sent"]
    finally:
        sink.stop()


def test_an_sms_request_answered_after_the_timeout_is_unknown_and_the_resend_marked(
    engine: sa.Engine, db_url: str, httpserver: HTTPServer
) -> None:
    taken: list[str] = []
    lock = threading.Lock()

    def answer(request: Request) -> Response:
        with lock:
            taken.append(request.headers["Idempotency-Key"])
            first = len(taken) == 1
        if first:
            time.sleep(1.5)  # past sms.timeout_seconds
        return Response('{"id": "sms-1"}', status=201, content_type="application/json")

    httpserver.expect_request("/sms", method="POST").respond_with_handler(answer)
    base = settings_for(db_url, sms_channel="sms")
    settings = dataclasses.replace(
        base, sms=SmsSettings(url=httpserver.url_for("/sms"), timeout_seconds=0.5)
    )
    with Session(engine) as session:
        patient = add_patient(session, "S1", preferred_channel="sms", phone="+447700900123")
        add_item(session, patient, TODAY - dt.timedelta(days=1))
        session.commit()
    assert plan(engine, settings) == 1
    transports = {"sms": delivery.build_transports(settings)["sms"]}
    assert isinstance(transports["sms"], WebhookSmsTransport)
    try:
        dispatch_due(engine, transports, settings, NOW, "w1")
        (row,) = rows(engine)
        assert row.state == "unknown"
        assert [a.status for a in attempts(engine, row.id or 0)] == ["unknown"]
        time.sleep(1.2)  # the single-threaded test server finishes its late answer
        dispatch_due(engine, transports, settings, RETRY_DUE, "w1")
    finally:
        transports["sms"].close()
    (row,) = rows(engine)
    assert row.state == "sent" and row.resent_after_unknown
    assert [a.status for a in attempts(engine, row.id or 0)] == ["unknown", "sent"]
    assert taken == [row.idempotency_key] * 2  # same key both times: the provider may dedupe
