"""Planning and sending reminders against a real SMTP server (aiosmtpd) and a real HTTP server
for SMS (pytest-httpserver), on SQLite and PostgreSQL."""

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from pytest_httpserver import HTTPServer
from sqlmodel import Session, col, select

from surveil.core.reminders import Stage
from surveil.core.vocab import ItemKind
from surveil.db import models as m
from surveil.errors import Conflict, NotFound
from surveil.services.actor import Actor
from surveil.services.reminders import delivery
from surveil.services.reminders.delivery import CHANNEL_DOWN_AFTER, dispatch_due, plan_reminders
from surveil.services.worklist.sections import WorklistQuery, build_worklist
from surveil.transports import LogTransport, WebhookSmsTransport
from tests.daemon.seed import CLINIC, add_item, add_patient, many_due, settings_for
from tests.daemon.sink import Sink

NOW = dt.datetime(2026, 6, 10, 12, 0, tzinfo=dt.UTC)  # 13:00 in London: not quiet hours
TODAY = NOW.date()
OPERATOR = Actor(username="ops", role="navigator", clinic=CLINIC)


def rows(engine: sa.Engine, **where: Any) -> list[m.Reminder]:
    with Session(engine) as session:
        query = select(m.Reminder).order_by(col(m.Reminder.id))
        for name, value in where.items():
            query = query.where(getattr(m.Reminder, name) == value)
        return list(session.exec(query))


def attempts(engine: sa.Engine, reminder_id: int) -> list[m.DeliveryAttempt]:
    with Session(engine) as session:
        query = select(m.DeliveryAttempt).where(m.DeliveryAttempt.reminder_id == reminder_id)
        return list(session.exec(query.order_by(col(m.DeliveryAttempt.id))))


def plan(engine: sa.Engine, settings: Any, now: dt.datetime = NOW) -> int:
    with Session(engine) as session:
        added = plan_reminders(session, settings, now)
        session.commit()
    return added


def test_plan_is_idempotent_and_a_reminder_arrives_once_with_its_key(
    engine: sa.Engine, sink: Sink, db_url: str
) -> None:
    settings = settings_for(db_url, sink.port)
    with Session(engine) as session:
        patient = add_patient(session, "P1")
        add_item(session, patient, TODAY - dt.timedelta(days=1))
        session.commit()
    assert plan(engine, settings) == 1
    assert plan(engine, settings) == 0  # same key: nothing new
    assert plan(engine, settings, NOW + dt.timedelta(hours=3)) == 0

    transports = delivery.build_transports(settings)
    assert dispatch_due(engine, transports, settings, NOW, "w1") == 1
    assert dispatch_due(engine, transports, settings, NOW, "w1") == 0
    transports["email"].close()

    (row,) = rows(engine)
    assert row.state == "sent" and row.attempts == 1 and not row.resent_after_unknown
    assert sink.keys == {row.idempotency_key: 1}
    (message,) = sink.messages()
    assert message["Message-ID"] == f"<{row.idempotency_key}@example.org>"
    assert message["To"] == "p1@example.org"
    body = message.get_body(("plain",))
    assert body is not None and "Dear Ann" in body.get_content()
    assert not re.search(r"\b(tumour|neuroendocrine|mri|cancer)\b", message.as_string(), re.I)
    (attempt,) = attempts(engine, row.id or 0)
    assert attempt.status == "sent" and attempt.provider_response.startswith("250")


def test_every_item_kind_renders_by_email_and_by_sms(
    engine: sa.Engine, sink: Sink, db_url: str, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/sms", method="POST").respond_with_json({"id": "sms-1"})
    settings = settings_for(db_url, sink.port)
    kinds = [k for k in ItemKind if k is not ItemKind.TUMOUR_BOARD]
    with Session(engine) as session:
        for i, kind in enumerate(ItemKind):
            email = add_patient(session, f"E{i}")
            text = add_patient(session, f"S{i}", preferred_channel="sms", phone="+447700900123")
            for patient in (email, text):
                add_item(session, patient, TODAY - dt.timedelta(days=1), kind=kind.value)
                # Window open for a month, target in 5 days: the 7-days-before stage is due.
                add_item(
                    session, patient, TODAY - dt.timedelta(days=30), kind=kind.value,
                    target=TODAY + dt.timedelta(days=5), latest=TODAY + dt.timedelta(days=20),
                )  # fmt: skip
        session.commit()
    assert plan(engine, settings) == 4 * len(kinds)  # a tumour board reminds nobody
    transports = {
        "email": delivery.build_transports(settings)["email"],
        "sms": WebhookSmsTransport(url=httpserver.url_for("/sms")),
    }
    assert dispatch_due(engine, transports, settings, NOW, "w1") == 4 * len(kinds)

    states = {(r.channel, r.stage, r.template, r.state) for r in rows(engine)}
    assert {s for *_, s in states} == {"sent"}
    assert {(c, s) for c, s, _, _ in states} == {
        (c, s) for c in ("email", "sms") for s in (Stage.WINDOW_OPEN, Stage.BEFORE_TARGET)
    }
    assert {t for *_, t, _ in states} == {"window-open", "due-soon", "ssa-due"}
    assert sink.received == 2 * len(kinds) and not sink.duplicates()
    for message in sink.messages():
        assert message.get_content_type() == "multipart/alternative"
        assert message.get_body(("html",)) is not None
    texts = [json.loads(request.data) for request, _ in httpserver.log]
    assert len(texts) == 2 * len(kinds)
    keys = {request.headers["Idempotency-Key"] for request, _ in httpserver.log}
    assert keys == {r.idempotency_key for r in rows(engine, channel="sms")}
    assert all(t["to"] == "+447700900123" and 0 < len(t["text"]) <= 320 for t in texts)


def _done(_s: Session, _p: m.Patient, i: m.FollowUpItem) -> None:
    i.state = "done"


def _cancelled(_s: Session, _p: m.Patient, i: m.FollowUpItem) -> None:
    i.state = "cancelled"


def _superseded(_s: Session, _p: m.Patient, i: m.FollowUpItem) -> None:
    i.state = "superseded"


def _deceased(_s: Session, p: m.Patient, _i: m.FollowUpItem) -> None:
    p.deceased_on = TODAY - dt.timedelta(days=1)


def _discharged(s: Session, p: m.Patient, _i: m.FollowUpItem) -> None:
    s.add(m.DiseaseState(patient_id=p.id or 0, kind="discharged", start_date=TODAY))


def _opted_out(_s: Session, p: m.Patient, _i: m.FollowUpItem) -> None:
    p.opted_out = True


def _no_email(_s: Session, p: m.Patient, _i: m.FollowUpItem) -> None:
    p.email = None


def _now_prefers_sms(_s: Session, p: m.Patient, _i: m.FollowUpItem) -> None:
    p.preferred_channel, p.phone = "sms", "+447700900123"


def _deleted_item(s: Session, _p: m.Patient, i: m.FollowUpItem) -> None:
    s.delete(i)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (_done, "done"),
        (_cancelled, "cancelled"),
        (_superseded, "superseded"),
        (_deceased, "deceased"),
        (_discharged, "discharged"),
        (_opted_out, "opted out"),
        (_no_email, "no email address"),
        (_now_prefers_sms, "patient now prefers another channel"),
        (_deleted_item, "item removed from the plan"),
    ],
)
def test_changes_between_planning_and_sending_suppress_with_the_reason(
    engine: sa.Engine,
    sink: Sink,
    db_url: str,
    change: Callable[[Session, m.Patient, m.FollowUpItem], None],
    reason: str,
) -> None:
    settings = settings_for(db_url, sink.port)
    with Session(engine) as session:
        patient = add_patient(session, "P1")
        item = add_item(session, patient, TODAY - dt.timedelta(days=1))
        session.commit()
        assert plan(engine, settings) == 1
        change(session, patient, item)
        session.commit()
    assert dispatch_due(engine, delivery.build_transports(settings), settings, NOW, "w1") == 1
    (row,) = rows(engine)
    assert (row.state, row.suppressed_reason, row.attempts) == ("suppressed", reason, 0)
    assert sink.received == 0
    (ledger,) = attempts(engine, row.id or 0)
    assert (ledger.status, ledger.provider_response) == ("suppressed", reason)


def test_a_window_that_closed_before_sending_is_left_to_the_navigators(
    engine: sa.Engine, sink: Sink, db_url: str
) -> None:
    settings = settings_for(db_url, sink.port)
    with Session(engine) as session:
        add_item(session, add_patient(session, "P1"), TODAY - dt.timedelta(days=1), days=2)
        session.commit()
    assert plan(engine, settings) == 1
    later = NOW + dt.timedelta(days=3)  # the daemon was down; the window closed yesterday
    assert dispatch_due(engine, delivery.build_transports(settings), settings, later, "w1") == 1
    (row,) = rows(engine)
    assert row.state == "suppressed" and row.suppressed_reason is not None
    assert "navigators" in row.suppressed_reason and sink.received == 0


def test_permanent_failure_fails_and_transient_failures_back_off_then_give_up(
    engine: sa.Engine, sink: Sink, db_url: str
) -> None:
    sink.refuse = {"bad": "550 5.1.1 mailbox unavailable", "busy": "451 4.3.0 try later"}
    settings = settings_for(db_url, sink.port, max_attempts=3)
    with Session(engine) as session:
        for mrn in ("BAD1", "BUSY1", "OK1"):
            add_item(session, add_patient(session, mrn), TODAY - dt.timedelta(days=1))
        session.commit()
    plan(engine, settings)
    transports = delivery.build_transports(settings)
    assert dispatch_due(engine, transports, settings, NOW, "w1") == 3
    by_mrn = {r.patient_id: r for r in rows(engine)}
    bad, busy, ok = (by_mrn[i] for i in sorted(by_mrn))
    assert (bad.state, ok.state, busy.state) == ("failed", "sent", "pending")
    assert "550" in bad.last_error and "451" in busy.last_error
    assert busy.next_attempt_at is not None
    assert busy.next_attempt_at.replace(tzinfo=dt.UTC) - NOW >= dt.timedelta(minutes=1)

    # Not before the backoff; then one more try per due time, then failed for good.
    assert dispatch_due(engine, transports, settings, NOW + dt.timedelta(seconds=30), "w1") == 0
    moments = [NOW + dt.timedelta(minutes=n) for n in (2, 5)]
    assert [dispatch_due(engine, transports, settings, t, "w1") for t in moments] == [1, 1]
    (busy,) = rows(engine, id=busy.id)
    assert busy.state == "failed" and busy.attempts == 3
    assert busy.last_error.startswith("gave up after 3 attempts")
    assert [a.status for a in attempts(engine, busy.id or 0)] == ["retry", "retry", "failed"]
    transports["email"].close()

    # Both failures are on the navigators' worklist (the worklist reads the failed rows).
    with Session(engine) as session:
        listed = build_worklist(
            session,
            query=WorklistQuery(today=TODAY, section="reminders"),
            actor=Actor(username="nina", role="navigator", clinic=CLINIC),
            settings=settings,
        )
    (section,) = [s for s in listed.sections if s.key == "reminders"]
    assert sorted(r.mrn for r in section.rows) == ["BAD1", "BUSY1"]


def test_smtp_down_for_a_while_then_up_delivers_everything(engine: sa.Engine, db_url: str) -> None:
    sink = Sink()  # its port is reserved; nothing listens there yet
    settings = settings_for(db_url, sink.port, batch_size=20)
    assert many_due(engine, settings, 60, NOW) == 60
    transports = delivery.build_transports(settings)
    now = NOW
    for _ in range(20):  # ten minutes of rounds every 30 s, the server down
        assert dispatch_due(engine, transports, settings, now, "w1") <= CHANNEL_DOWN_AFTER
        now += dt.timedelta(seconds=30)
    assert {r.state for r in rows(engine)} == {"pending"}
    sink.start()
    try:
        while rows(engine, state="pending") and now < NOW + dt.timedelta(hours=2):
            dispatch_due(engine, transports, settings, now, "w1")
            now += dt.timedelta(seconds=30)
    finally:
        transports["email"].close()
        sink.stop()
    assert {r.state for r in rows(engine)} == {"sent"}
    assert sink.received == 60 and not sink.duplicates()
    retried = [r for r in rows(engine) if r.attempts > 1]
    assert retried and max(r.attempts for r in retried) < settings.daemon.max_attempts


def test_retry_requeues_a_failed_reminder_and_refuses_a_sent_one(
    engine: sa.Engine, sink: Sink, db_url: str
) -> None:
    sink.refuse = {"bad": "550 5.1.1 mailbox unavailable"}
    settings = settings_for(db_url, sink.port)
    with Session(engine) as session:
        patient = add_patient(session, "BAD1")
        add_item(session, patient, TODAY - dt.timedelta(days=1))
        session.commit()
        plan(engine, settings)
        transports = delivery.build_transports(settings)
        dispatch_due(engine, transports, settings, NOW, "w1")
        (row,) = rows(engine)
        assert row.state == "failed"
        assert [r.id for r in delivery.list_reminders(engine, "failed")] == [row.id]
        patient.email = "ann@example.org"  # the navigator fixed the address
        session.commit()
    view = delivery.retry_reminder(engine, actor=OPERATOR, reminder_id=row.id or 0, now=NOW)
    assert (view.state, view.attempts, view.last_error) == ("pending", 0, "")
    assert dispatch_due(engine, transports, settings, NOW, "w1") == 1
    transports["email"].close()
    assert rows(engine)[0].state == "sent" and sink.received == 1
    with pytest.raises(Conflict, match="already sent"):
        delivery.retry_reminder(engine, actor=OPERATOR, reminder_id=row.id or 0, now=NOW)
    with pytest.raises(NotFound):
        delivery.retry_reminder(engine, actor=OPERATOR, reminder_id=999_999, now=NOW)


def test_dry_run_preview_changes_nothing_and_shows_no_address(
    engine: sa.Engine, db_url: str
) -> None:
    settings = settings_for(db_url)
    with Session(engine) as session:
        add_item(session, add_patient(session, "P1"), TODAY - dt.timedelta(days=1))
        add_item(session, add_patient(session, "P2", opted_out=False, email=None), TODAY)
        session.commit()
    plan(engine, settings)
    before = [(r.state, r.attempts, r.lease_owner) for r in rows(engine)]
    lines = delivery.preview_due(engine, settings, NOW)
    assert [(line.outcome, line.channel) for line in lines] == [("send", "email")]
    assert "Time to book" in lines[0].detail and "@" not in lines[0].detail
    assert [(r.state, r.attempts, r.lease_owner) for r in rows(engine)] == before


def test_log_transport_channel_for_a_dry_daemon(engine: sa.Engine, db_url: str) -> None:
    settings = settings_for(db_url, email_channel="log")
    assert many_due(engine, settings, 5, NOW) == 5
    transports = delivery.build_transports(settings)
    assert isinstance(transports["email"], LogTransport)
    assert "sms" in transports  # sms_channel = "log" in these settings
    # A dry run: noted in the ledger, not consumed (tests/daemon/test_dry_run.py).
    assert dispatch_due(engine, transports, settings, NOW, "w1") == 0
    assert len(transports["email"].sent) == 5
    assert {r.state for r in rows(engine)} == {"pending"}


def test_sms_without_a_webhook_url_is_not_planned(engine: sa.Engine, db_url: str) -> None:
    settings = settings_for(db_url, sms_channel="sms")  # [sms] url is empty: SMS is off
    with Session(engine) as session:
        texter = add_patient(session, "S1", preferred_channel="sms", phone="+447700900123")
        add_item(session, texter, TODAY - dt.timedelta(days=1))
        session.commit()
    assert plan(engine, settings) == 0
    assert "sms" not in delivery.build_transports(settings)
