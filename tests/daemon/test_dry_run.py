"""Issue #18 point 2: a dry-run channel ("log") notes what it would send and consumes nothing;
switching the channel to a real transport later sends what is still due, and nothing whose
window has closed. A real SMTP server (aiosmtpd), on SQLite and PostgreSQL."""

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Session

from surveil.db import models as m
from surveil.services.reminders import delivery
from surveil.services.reminders.delivery import dispatch_due
from surveil.services.reminders.dryrun import DRY_RUN, WOULD_SEND
from surveil.services.reminders.sending import WINDOW_CLOSED
from surveil.transports import LogTransport
from tests.daemon.seed import add_item, add_patient, settings_for
from tests.daemon.sink import Sink
from tests.daemon.test_delivery import NOW, TODAY, attempts, plan, rows


def test_a_dry_run_consumes_nothing_and_a_real_channel_later_sends_what_is_still_due(
    engine: sa.Engine, db_url: str, sink: Sink
) -> None:
    dry = settings_for(db_url, sink.port, email_channel="log")
    with Session(engine) as session:
        # A month-long window, and one that closes the day after tomorrow.
        add_item(session, add_patient(session, "LONG"), TODAY - dt.timedelta(days=1))
        add_item(session, add_patient(session, "SHORT"), TODAY - dt.timedelta(days=1), days=3)
        add_patient(session, "DEAD", deceased_on=TODAY)
        session.commit()
    planned = plan(engine, dry)
    assert planned >= 2
    transports = delivery.build_transports(dry)
    log = transports["email"]
    assert isinstance(log, LogTransport) and log.dry_run

    assert dispatch_due(engine, transports, dry, NOW, "w1") == 0  # nothing ended
    before = rows(engine)
    assert {(r.state, r.attempts, r.lease_owner, r.sent_at) for r in before} == {
        ("pending", 0, None, None)
    }
    for row in before:
        (noted,) = attempts(engine, row.id or 0)
        assert (noted.status, noted.provider_response) == (DRY_RUN, WOULD_SEND)
    assert len(log.sent) == planned
    # Noted once: later rounds add nothing to the ledger.
    dispatch_due(engine, transports, dry, NOW + dt.timedelta(hours=1), "w1")
    assert all(len(attempts(engine, r.id or 0)) == 1 for r in before)
    assert len(log.sent) == planned and sink.received == 0

    # Three days later the clinic switches email to SMTP.
    real = settings_for(db_url, sink.port)
    later = NOW + dt.timedelta(days=3)
    transports = delivery.build_transports(real)
    try:
        assert dispatch_due(engine, transports, real, later, "w1") == planned
    finally:
        transports["email"].close()
    by_mrn = {}
    with Session(engine) as session:
        for row in rows(engine):
            patient = session.get(m.Patient, row.patient_id)
            assert patient is not None
            by_mrn.setdefault(patient.mrn, []).append(row)
    assert {r.state for r in by_mrn["LONG"]} == {"sent"}
    assert {(r.state, r.suppressed_reason) for r in by_mrn["SHORT"]} == {
        ("suppressed", WINDOW_CLOSED[:64])
    }
    sent = [r for r in rows(engine) if r.state == "sent"]
    assert set(sink.keys) == {r.idempotency_key for r in sent} and not sink.duplicates()
    for row in sent:
        statuses = [a.status for a in attempts(engine, row.id or 0)]
        assert statuses == [DRY_RUN, "sent"]
        assert row.attempts == 1 and not row.resent_after_unknown


def test_a_dry_run_notes_why_it_would_not_send(engine: sa.Engine, db_url: str) -> None:
    dry = settings_for(db_url, email_channel="log")
    with Session(engine) as session:
        patient = add_patient(session, "GONE")
        patient_id = patient.id
        add_item(session, patient, TODAY - dt.timedelta(days=1))
        session.commit()
    plan(engine, dry)
    with Session(engine) as session:
        gone = session.get(m.Patient, patient_id)
        assert gone is not None
        gone.email = None  # the address was removed after planning
        session.add(gone)
        session.commit()
    transports = delivery.build_transports(dry)
    dispatch_due(engine, transports, dry, NOW, "w1")
    (row,) = rows(engine)
    assert row.state == "pending"  # not consumed: a real channel decides again at send time
    (noted,) = attempts(engine, row.id or 0)
    assert noted.status == DRY_RUN and noted.provider_response.startswith("would not send")
    assert len(transports["email"].sent) == 0  # type: ignore[attr-defined]


def test_a_plain_log_transport_still_accepts_like_a_channel(engine: sa.Engine, db_url: str) -> None:
    """The code around sending is tested with ``LogTransport()``: it is not a dry run."""
    settings = settings_for(db_url, email_channel="log")
    with Session(engine) as session:
        add_item(session, add_patient(session, "P1"), TODAY - dt.timedelta(days=1))
        session.commit()
    plan(engine, settings)
    accepting = LogTransport()
    assert not accepting.dry_run
    assert dispatch_due(engine, {"email": accepting}, settings, NOW, "w1") == 1
    assert {r.state for r in rows(engine)} == {"sent"}
