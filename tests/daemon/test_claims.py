"""Leases on outbox rows, the sweep, the leader lease with its epoch, on SQLite and PostgreSQL."""

import datetime as dt
import subprocess

import sqlalchemy as sa
from sqlmodel import Session, select

from surveil.daemon import Daemon
from surveil.db import claims
from surveil.db import models as m
from surveil.services.reminders import delivery
from surveil.transports import LogTransport
from tests.daemon.seed import add_item, add_patient, many_due, settings_for

NOW = dt.datetime(2026, 6, 10, 12, 0, tzinfo=dt.UTC)
LEASE = 60


def claim(engine: sa.Engine, worker: str, now: dt.datetime = NOW, limit: int = 20) -> list[int]:
    found = claims.claim_due(
        engine, worker=worker, now=now, lease_seconds=LEASE, limit=limit, channels=["email"]
    )
    return [c.id for c in found]


def state(engine: sa.Engine, reminder_id: int) -> m.Reminder:
    with Session(engine) as session:
        row = session.get(m.Reminder, reminder_id)
        assert row is not None
        return row


def test_claims_are_disjoint_leased_and_only_of_due_rows(engine: sa.Engine, db_url: str) -> None:
    settings = settings_for(db_url)
    assert many_due(engine, settings, 30, NOW) == 30
    with engine.begin() as connection:  # one row waits for a retry, one is not due yet
        connection.execute(sa.update(claims.R).where(claims.R.c.id == 1).values(
            next_attempt_at=NOW + dt.timedelta(minutes=5)))  # fmt: skip
        connection.execute(sa.update(claims.R).where(claims.R.c.id == 2).values(
            send_after=NOW + dt.timedelta(hours=1)))  # fmt: skip
    first, second = claim(engine, "a"), claim(engine, "b")
    assert len(first) == 20 and len(second) == 8 and not set(first) & set(second)
    assert claim(engine, "c") == [] and {1, 2}.isdisjoint(first + second)
    assert state(engine, first[0]).lease_owner == "a"
    assert claims.claim_due(
        engine, worker="c", now=NOW, lease_seconds=LEASE, limit=5, channels=["sms"]
    ) == []  # fmt: skip
    later = NOW + dt.timedelta(seconds=LEASE + 1)  # the leases ran out: free again
    assert sorted(claim(engine, "c", later, limit=100)) == sorted(first + second)
    assert claims.release(engine, first, "someone else") == 0
    assert claims.release(engine, first, "c") == 20 and state(engine, first[0]).lease_owner is None


def _mark_sending(engine: sa.Engine, reminder_id: int, worker: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.update(claims.R)
            .where(claims.R.c.id == reminder_id)
            .values(state="sending", lease_until=NOW + dt.timedelta(seconds=LEASE), attempts=1)
        )
        connection.execute(
            sa.insert(claims.A).values(
                reminder_id=reminder_id, worker=worker, started_at=NOW, status="sending"
            )
        )


def test_sweep_turns_an_expired_send_into_unknown_and_releases_unstarted_claims(
    engine: sa.Engine, db_url: str
) -> None:
    settings = settings_for(db_url, email_channel="log")
    many_due(engine, settings, 2, NOW)
    sending, claimed = claim(engine, "w")
    _mark_sending(engine, sending, "w")
    assert claims.sweep(engine, NOW) == claims.SweepResult(unknown=[], released=0)  # alive

    result = claims.sweep(engine, NOW + dt.timedelta(seconds=LEASE + 1))
    assert result == claims.SweepResult(unknown=[sending], released=1)
    lost = state(engine, sending)
    assert (lost.state, lost.lease_owner, lost.resent_after_unknown) == ("unknown", None, False)
    assert state(engine, claimed).lease_owner is None
    with Session(engine) as session:
        (attempt,) = session.exec(select(m.DeliveryAttempt)).all()
    assert attempt.status == "unknown" and attempt.finished_at is not None

    # The unknown row is sent again, once, and marked as a possible duplicate.
    later = NOW + dt.timedelta(minutes=5)
    log = LogTransport()
    assert delivery.dispatch_due(engine, {"email": log}, settings, later, "w2") == 2
    resent = state(engine, sending)
    assert (resent.state, resent.attempts, resent.resent_after_unknown) == ("sent", 2, True)
    assert not state(engine, claimed).resent_after_unknown
    assert [m.idempotency_key for m in log.sent].count(resent.idempotency_key) == 1


def test_a_dead_local_owner_is_recovered_at_once_a_remote_one_after_its_lease(
    engine: sa.Engine, db_url: str
) -> None:
    many_due(engine, settings_for(db_url), 2, NOW)
    (here,), (there,) = claim(engine, "dead-here", limit=1), claim(engine, "far", limit=1)
    _mark_sending(engine, here, "dead-here")
    _mark_sending(engine, there, "far")
    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid that no longer exists
    with engine.begin() as connection:
        connection.execute(
            sa.update(claims.H).where(claims.H.c.worker == "dead-here").values(pid=gone.pid)
        )
        connection.execute(
            sa.update(claims.H).where(claims.H.c.worker == "far").values(hostname="elsewhere")
        )
    assert claims.sweep(engine, NOW).unknown == [here]  # no waiting for the lease
    assert state(engine, there).state == "sending"


def test_leader_lease_renews_expires_and_is_taken_over_with_a_new_epoch(
    engine: sa.Engine,
) -> None:
    def at(seconds: int) -> dt.datetime:
        return NOW + dt.timedelta(seconds=seconds)

    assert claims.acquire_leader(engine, "A", at(0), 60) == 1
    assert claims.acquire_leader(engine, "B", at(10), 60) is None
    assert claims.acquire_leader(engine, "A", at(30), 60) == 1  # renewed to at(90)
    assert claims.acquire_leader(engine, "B", at(80), 60) is None
    assert claims.acquire_leader(engine, "B", at(91), 60) == 2  # A stopped renewing
    with engine.connect() as connection:
        assert not claims.still_leader(connection, "A", 1, at(91))
        assert claims.still_leader(connection, "B", 2, at(91))
    assert claims.acquire_leader(engine, "A", at(100), 60) is None
    claims.resign(engine, "B", at(100))  # a clean stop hands over at once
    assert claims.acquire_leader(engine, "A", at(101), 60) == 3
    lease = claims.leader(engine)
    assert lease is not None and (lease.holder, lease.epoch) == ("A", 3)


def test_only_the_leader_plans_and_another_daemon_takes_over_when_it_dies(
    engine: sa.Engine, db_url: str
) -> None:
    settings = settings_for(db_url, email_channel="log", lease_seconds=60)
    clock = {"now": NOW}
    with Session(engine) as session:
        patient = add_patient(session, "P1")
        add_item(session, patient, NOW.date() - dt.timedelta(days=1))
        add_item(session, patient, NOW.date() + dt.timedelta(days=1), kind="cga")
        session.commit()

    def daemon(name: str) -> Daemon:
        return Daemon(settings, engine=engine, transports={"email": LogTransport()},
                      worker=name, clock=lambda: clock["now"])  # fmt: skip

    first, second = daemon("first"), daemon("second")
    assert first.plan_job() == 1 and first.epoch == 1
    assert second.plan_job() == 0 and second.epoch is None
    first.heartbeat_job()  # renews

    clock["now"] = NOW + dt.timedelta(days=1, hours=1)  # the first daemon died long ago
    assert second.plan_job() == 1 and second.epoch == 2  # took over, planned the new window
    assert first.plan_job() == 0 and first.epoch is None  # came back: no longer leads
    with engine.connect() as connection:
        assert not claims.still_leader(connection, "first", 1, clock["now"])
