"""Issue #18 point 5 at send time: a reminder that comes due outside the patient's preferred
hours (planned before the window was set, a daemon that was down, a dry run switched to a real
channel) waits for the window's next start on the patient's clock; nothing is tried or counted
meanwhile. Patients without a window are sent as before. Real SMTP, SQLite and PostgreSQL."""

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Session, select

from surveil.db import models as m
from surveil.services.reminders import delivery
from surveil.services.reminders.delivery import dispatch_due, preview_due
from surveil.services.reminders.dryrun import DRY_RUN
from tests.daemon.seed import add_item, add_patient, settings_for
from tests.daemon.sink import Sink
from tests.daemon.test_delivery import NOW, TODAY, attempts, plan, rows

EVENING = dt.datetime(2026, 6, 10, 16, 0, tzinfo=dt.UTC)  # 17:00 in London (BST)


def _seed(engine: sa.Engine) -> None:
    with Session(engine) as session:
        late = add_patient(session, "EVE")
        add_item(session, late, TODAY - dt.timedelta(days=1))
        add_item(session, add_patient(session, "ANY"), TODAY - dt.timedelta(days=1))
        session.commit()


def _set_window(engine: sa.Engine) -> None:
    with Session(engine) as session:
        for patient in session.exec(select(m.Patient).where(m.Patient.mrn == "EVE")):
            patient.send_window_start, patient.send_window_end = dt.time(17), dt.time(20)
            session.add(patient)
        session.commit()


def test_a_late_reminder_waits_for_the_patient_hours(
    engine: sa.Engine, db_url: str, sink: Sink
) -> None:
    settings = settings_for(db_url, sink.port, reminders={"channels": ["email"]})
    _seed(engine)
    assert plan(engine, settings) == 2  # both planned for 09:00 yesterday, the clinic's time
    _set_window(engine)  # then EVE asked for evenings
    lines = {line.outcome for line in preview_due(engine, settings, NOW)}
    assert lines == {"send", "wait"}
    transports = delivery.build_transports(settings)
    try:
        assert dispatch_due(engine, transports, settings, NOW, "w1") == 1  # ANY only
        waiting = [r for r in rows(engine) if r.state == "pending"]
        assert len(waiting) == 1 and waiting[0].attempts == 0 and waiting[0].lease_owner is None
        assert waiting[0].next_attempt_at is not None
        assert waiting[0].next_attempt_at.replace(tzinfo=dt.UTC) == EVENING
        assert attempts(engine, waiting[0].id or 0) == []  # nothing was tried
        assert sink.received == 1
        assert (
            dispatch_due(engine, transports, settings, EVENING - dt.timedelta(minutes=1), "w1") == 0
        )
        assert dispatch_due(engine, transports, settings, EVENING, "w1") == 1
    finally:
        transports["email"].close()
    assert {r.state for r in rows(engine)} == {"sent"} and sink.received == 2


def test_a_dry_run_says_it_would_wait(engine: sa.Engine, db_url: str) -> None:
    settings = settings_for(db_url, email_channel="log", reminders={"channels": ["email"]})
    _seed(engine)
    plan(engine, settings)
    _set_window(engine)
    dispatch_due(engine, delivery.build_transports(settings), settings, NOW, "w1")
    notes = sorted(attempts(engine, r.id or 0)[0].provider_response for r in rows(engine))
    assert all(a.status == DRY_RUN for r in rows(engine) for a in attempts(engine, r.id or 0))
    assert notes[0].startswith("would send") and "would wait" in notes[1]
    assert "2026-06-10 16:00 UTC" in notes[1]
