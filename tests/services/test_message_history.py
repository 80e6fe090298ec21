"""Issue #18 point 6: a patient's message history (channel, state, reason, every attempt, the
reply), through an audited read the patient page and the API can use; SQLite and PostgreSQL."""

import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.db import models as m
from surveil.errors import NotFound
from surveil.services.actor import Actor
from surveil.services.reminders import delivery
from surveil.services.reminders.delivery import dispatch_due, retry_delay
from surveil.services.reminders.history import message_history
from tests.daemon.seed import CLINIC, add_item, add_patient, settings_for
from tests.daemon.sink import Sink

COVERED = frozenset({"surveil.services.reminders.history.message_history"})

NOW = dt.datetime(2026, 6, 10, 12, 0, tzinfo=dt.UTC)
NURSE = Actor(username="nina", role="navigator", clinic=CLINIC)
STRANGER = Actor(username="olga", role="navigator", clinic="Another Hospital")


@pytest.fixture
def sink() -> Iterator[Sink]:
    server = Sink(refuse={"busy": "451 4.3.0 try again later"}).start()
    yield server
    server.stop()


def _viewed(engine: sa.Engine) -> list[m.AuditEvent]:
    with Session(engine) as session:
        query = select(m.AuditEvent).where(m.AuditEvent.action == "messages.viewed")
        return list(session.exec(query.order_by(col(m.AuditEvent.id))))


def test_the_history_has_every_message_with_its_attempts_and_reasons(
    engine: sa.Engine, db_url: str, sink: Sink
) -> None:
    settings = settings_for(db_url, sink.port, reminders={"channels": ["email"]})
    with Session(engine) as session:
        patient = add_patient(session, "M1", email="busy@example.org")
        pid = patient.id or 0
        add_item(session, patient, NOW.date() - dt.timedelta(days=1))
        add_item(session, patient, NOW.date() - dt.timedelta(days=1), kind="cga")
        add_item(session, add_patient(session, "OTHER"), NOW.date() - dt.timedelta(days=1))
        session.commit()
        assert delivery.plan_reminders(session, settings, NOW) == 3
        session.commit()
    transports = delivery.build_transports(settings)
    try:
        dispatch_due(engine, transports, settings, NOW, "w1")  # 451: both of M1's retry
        sink.refuse.clear()
        dispatch_due(engine, transports, settings, NOW + retry_delay(1) * 3, "w1")
    finally:
        transports["email"].close()

    history = message_history(engine, actor=NURSE, patient_id=pid)
    assert len(history) == 2  # only this patient's
    assert {h.about for h in history} == {"mri", "cga"}
    for entry in history:
        assert (entry.channel, entry.state, entry.stage) == ("email", "sent", "window_open")
        assert [a.status for a in entry.attempts] == ["retry", "sent"]
        assert entry.attempts[0].response.startswith("recipient refused: 451")
        assert entry.attempts[1].response.startswith("250")
        assert entry.sent_at is not None and entry.sent_at.tzinfo is not None
        assert entry.reason == "" and not entry.possible_duplicate and entry.reply is None
    (event,) = _viewed(engine)
    assert event.patient_id == pid and event.actor == "nina" and "2 message(s)" in event.detail


def test_a_suppressed_message_says_why(engine: sa.Engine, db_url: str, sink: Sink) -> None:
    settings = settings_for(db_url, sink.port, reminders={"channels": ["email"]})
    with Session(engine) as session:
        patient = add_patient(session, "M2")
        pid = patient.id or 0
        add_item(session, patient, NOW.date() - dt.timedelta(days=1))
        session.commit()
        delivery.plan_reminders(session, settings, NOW)
        gone = session.get(m.Patient, pid)
        assert gone is not None
        gone.opted_out = True
        session.add(gone)
        session.commit()
    transports = delivery.build_transports(settings)
    try:
        dispatch_due(engine, transports, settings, NOW, "w1")
    finally:
        transports["email"].close()
    (entry,) = message_history(engine, actor=NURSE, patient_id=pid)
    assert entry.state == "suppressed" and entry.reason == "opted out"
    assert [a.status for a in entry.attempts] == ["suppressed"]


def test_another_clinic_sees_nothing_and_leaves_no_view(engine: sa.Engine) -> None:
    with Session(engine) as session:
        pid = add_patient(session, "M3").id or 0
        session.commit()
    with pytest.raises(NotFound):
        message_history(engine, actor=STRANGER, patient_id=pid)
    assert _viewed(engine) == []
