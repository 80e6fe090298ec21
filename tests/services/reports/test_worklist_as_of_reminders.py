"""The worklist as it was, reminders included (issue 20, point 4): "Reminders that failed" at a
moment, replayed from the delivery ledger, equals the snapshot taken at that moment, after the
reminders were sent again, given up on and retried. The daemon's real paths make the history:
a real SMTP server (aiosmtpd) that refuses, the daemon's claim and a crash the sweep finds, the
navigator's retry. On SQLite and PostgreSQL."""

import datetime as dt
from dataclasses import replace

import sqlalchemy as sa
from sqlmodel import Session

from surveil.core.reminder_as_of import LedgerRow, Retry, reminder_then
from surveil.core.zones import today_in
from surveil.db import claims
from surveil.services.actor import Actor
from surveil.services.reminders import delivery, ledger
from surveil.services.reminders.delivery import dispatch_due, plan_reminders
from surveil.services.reports.as_of import worklist_as_of
from surveil.services.worklist.sections import Worklist, WorklistQuery, build_worklist
from surveil.transports import LogTransport
from tests.daemon.seed import CLINIC, add_item, add_patient, settings_for
from tests.daemon.sink import Sink

OPS = Actor(username="ops", role="navigator", clinic=CLINIC)
MINUTE = dt.timedelta(minutes=1)


def shown(worklist: Worklist) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every section, reminders included, as a nurse reads it."""
    return {
        s.key: [(r.mrn, r.reminder_id, r.what, r.state, r.timing, r.detail) for r in s.rows]
        for s in worklist.sections
    } | {"counts": [(s.key, s.count) for s in worklist.sections]}


def failed_reminders(worklist: Worklist) -> list[tuple[str, str, str]]:
    (section,) = [s for s in worklist.sections if s.key == "reminders"]
    return [(r.mrn, r.state, r.detail) for r in section.rows]


def test_failed_reminders_as_they_stood_equal_the_snapshots_taken_then(
    engine: sa.Engine, db_url: str
) -> None:
    sink = Sink(refuse={"bad": "550 5.1.1 mailbox unavailable", "busy": "451 4.3.0 try later"})
    sink.start()
    settings = settings_for(db_url, sink.port, max_attempts=2)
    # Two days ago at noon UTC (no quiet hours), so that every moment is in the past.
    t0 = dt.datetime.combine(
        dt.datetime.now(dt.UTC).date() - dt.timedelta(days=2), dt.time(12), tzinfo=dt.UTC
    )
    ids: dict[str, int] = {}
    with Session(engine) as session:
        for mrn in ("UNK1", "BAD1", "BUSY1", "OK1"):
            sms = {"preferred_channel": "sms", "phone": "+447700900123"} if mrn == "UNK1" else {}
            enrolled = {"created_at": t0 - 60 * MINUTE}
            patient = add_patient(session, mrn, **sms, **enrolled)
            add_item(session, patient, t0.date() - dt.timedelta(days=1), **enrolled)
            ids[mrn] = patient.id or 0
        session.commit()
        assert plan_reminders(session, settings, t0 - 20 * MINUTE) == 4
        session.commit()
    query = WorklistQuery(today=today_in(settings.clinic.timezone, t0), clinic=CLINIC)
    snapshots: dict[dt.datetime, Worklist] = {}

    def snapshot(moment: dt.datetime) -> None:
        with Session(engine) as session:
            snapshots[moment] = build_worklist(session, query=query, actor=OPS, settings=settings)

    # A daemon takes the text message, starts sending it and dies; the sweep finds it.
    crashed = t0 - 10 * MINUTE
    (claim,) = claims.claim_due(
        engine, worker="gone", now=crashed, lease_seconds=60, limit=10, channels=["sms"]
    )
    with engine.begin() as connection:
        assert ledger.mark_sending(connection, claim.id, "gone", crashed + MINUTE, crashed)
    assert claims.sweep(engine, t0 - 5 * MINUTE).unknown == [claim.id]
    m0 = t0 - 2 * MINUTE
    snapshot(m0)

    email = delivery.build_transports(settings)["email"]
    try:
        assert dispatch_due(engine, {"email": email}, settings, t0, "w1") == 3
        m1 = t0 + MINUTE / 2
        snapshot(m1)
        t2 = t0 + 5 * MINUTE  # after the backoff: the busy one is tried again and given up
        both = {"email": email, "sms": LogTransport()}
        assert dispatch_due(engine, both, settings, t2, "w1") == 2  # and the text goes out
        m2 = t2 + MINUTE / 2
        snapshot(m2)
    finally:
        email.close()
        sink.stop()
    (bad,) = [r for r in delivery.list_reminders(engine, "failed") if r.to == "MRN BAD1"]
    delivery.retry_reminder(engine, actor=OPS, reminder_id=bad.id, now=dt.datetime.now(dt.UTC))

    assert failed_reminders(snapshots[m0]) == [("UNK1", "unknown", f"1 attempt(s): {SWEPT}")]
    assert failed_reminders(snapshots[m1]) == [
        ("UNK1", "unknown", f"1 attempt(s): {SWEPT}"),
        ("BAD1", "failed", "1 attempt(s): recipient refused: 550 5.1.1 mailbox unavailable"),
    ]
    assert [(mrn, state) for mrn, state, _ in failed_reminders(snapshots[m2])] == [
        ("BAD1", "failed"),
        ("BUSY1", "failed"),
    ]
    assert failed_reminders(snapshots[m2])[1][2].startswith("2 attempt(s): gave up after 2")
    with Session(engine) as session:
        now = build_worklist(session, query=query, actor=OPS, settings=settings)
    assert [mrn for mrn, *_ in failed_reminders(now)] == ["BUSY1"]  # BAD1 was retried

    for moment, then in snapshots.items():
        rebuilt = worklist_as_of(engine, actor=OPS, query=query, moment=moment, settings=settings)
        assert shown(rebuilt.worklist) == shown(then), moment
        for kind, about in (("mri", failed_reminders(then)), ("ct", [])):
            one_kind = replace(query, section="reminders", kind=kind)
            rebuilt = worklist_as_of(
                engine, actor=OPS, query=one_kind, moment=moment, settings=settings
            )
            assert failed_reminders(rebuilt.worklist) == about, (moment, kind)


SWEPT = claims.SWEPT_ERROR


T = dt.datetime(2026, 6, 10, 12, 0, tzinfo=dt.UTC)


def row(n: int, start: int, end: int | None, status: str, response: str = "") -> LedgerRow:
    finished = None if end is None else T + end * MINUTE
    return LedgerRow(n, T + start * MINUTE, finished, status, response)


def test_an_unknown_ending_is_unknown_or_failed_by_what_came_next() -> None:
    swept: dict[str, str] = {}
    unknown = [row(1, 0, 1, "unknown", "timed out")]
    at = T + 2 * MINUTE
    # Nothing came next: the row as it is now says which.
    then = reminder_then(unknown, [], moment=at, state_now="failed", swept=swept)
    assert (then.state, then.attempts, then.last_error) == ("failed", 1, "timed out")
    assert reminder_then(unknown, [], moment=at, state_now="unknown", swept=swept).state == (
        "unknown"
    )
    # Sent again later (so it was waiting), or retried by a navigator who found it failed.
    again = [*unknown, row(2, 5, 6, "sent")]
    assert reminder_then(again, [], moment=at, state_now="sent", swept=swept).state == "unknown"
    retried = [Retry(T + 3 * MINUTE, "failed")]
    assert reminder_then(unknown, retried, moment=at, state_now="pending", swept=swept).state == (
        "failed"
    )
    after_retry = reminder_then(
        unknown, retried, moment=T + 4 * MINUTE, state_now="pending", swept=swept
    )
    assert (after_retry.state, after_retry.attempts, after_retry.last_error) == ("pending", 0, "")


def test_a_row_closed_without_sending_counts_no_attempt_and_mid_send_is_not_failed() -> None:
    swept = {"no outcome": "stopped"}
    history = [
        row(1, 0, 1, "retry", "451 busy"),
        row(2, 3, 4, "unknown", "no outcome"),  # swept
        row(3, 6, 6, "failed", "gave up after 2 attempts; last: stopped"),  # never sent
    ]
    state_at = {
        0: ("sending", 1, ""),
        2: ("pending", 1, "451 busy"),
        3: ("sending", 2, "451 busy"),
        5: ("unknown", 2, "stopped"),
        7: ("failed", 2, "gave up after 2 attempts; last: stopped"),
    }
    for minute, wanted in state_at.items():
        then = reminder_then(
            history, [], moment=T + minute * MINUTE, state_now="failed", swept=swept
        )
        assert (then.state, then.attempts, then.last_error) == wanted, minute
    before = reminder_then(history, [], moment=T - MINUTE, state_now="failed", swept=swept)
    assert (before.state, before.attempts) == ("pending", 0)
