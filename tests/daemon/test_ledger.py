"""The ledger's hot path, ``mark_sending`` with the previous message's ``sent`` in the same
transaction: one statement on PostgreSQL, several on SQLite, the same rows either way."""

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.db import claims
from surveil.db import models as m
from surveil.services.reminders import ledger
from surveil.services.reminders.ledger import Accepted, Outgoing
from surveil.transports.base import DeliveryResult, OutgoingMessage
from tests.daemon.seed import many_due, settings_for

NOW = dt.datetime(2026, 6, 10, 12, 0, tzinfo=dt.UTC)
UNTIL = NOW + dt.timedelta(minutes=2)


def _claimed(engine: sa.Engine, db_url: str, n: int) -> list[int]:
    assert many_due(engine, settings_for(db_url), n, NOW) == n
    found = claims.claim_due(
        engine, worker="w1", now=NOW, lease_seconds=120, limit=n, channels=["email"]
    )
    return [c.id for c in found]


def _mark(
    engine: sa.Engine, rid: int, at: dt.datetime, after: Accepted | None = None
) -> tuple[int, int] | None:
    with engine.begin() as connection:
        return ledger.mark_sending(connection, rid, "w1", UNTIL, at, after=after)


def _accepted(rid: int, marked: tuple[int, int] | None, at: dt.datetime) -> Accepted:
    assert marked is not None
    message = OutgoingMessage(idempotency_key=f"k{rid}", to="a@example.org", subject="s", text="t")
    job = Outgoing(rid, marked[1], marked[0], "email", message)
    return Accepted(job, DeliveryResult(provider_id="<k>", response="250 OK queued"), at)


def _row(engine: sa.Engine, rid: int) -> tuple[m.Reminder, list[m.DeliveryAttempt]]:
    with Session(engine) as session:
        row = session.get(m.Reminder, rid)
        assert row is not None
        query = select(m.DeliveryAttempt).where(m.DeliveryAttempt.reminder_id == rid)
        return row, list(session.exec(query.order_by(col(m.DeliveryAttempt.id))))


def test_sending_after_sent_records_both_rows_and_their_attempts(
    engine: sa.Engine, db_url: str
) -> None:
    first, second = _claimed(engine, db_url, 2)
    marked = _mark(engine, first, NOW)
    assert marked is not None and marked[0] == 1
    accepted_at = NOW + dt.timedelta(seconds=1)
    later = NOW + dt.timedelta(seconds=2)
    assert _mark(engine, second, later, _accepted(first, marked, accepted_at)) is not None

    row, (attempt,) = _row(engine, first)
    assert (row.state, row.sent_at, row.lease_owner, row.updated_at) == (
        "sent", accepted_at, None, accepted_at
    )  # fmt: skip
    assert attempt.id == marked[1] and attempt.worker == "w1"
    assert (attempt.status, attempt.finished_at, attempt.provider_response) == (
        "sent", accepted_at, "250 OK queued"
    )  # fmt: skip
    row, (attempt,) = _row(engine, second)
    assert (row.state, row.attempts, row.lease_owner, row.lease_until, row.sent_at) == (
        "sending", 1, "w1", UNTIL, None
    )  # fmt: skip
    assert (attempt.status, attempt.started_at, attempt.finished_at, attempt.worker) == (
        "sending", later, None, "w1"
    )  # fmt: skip
    assert attempt.provider_response == ""


def test_the_previous_message_is_recorded_sent_even_when_the_next_row_is_lost(
    engine: sa.Engine, db_url: str
) -> None:
    first, second = _claimed(engine, db_url, 2)
    marked = _mark(engine, first, NOW)
    with engine.begin() as connection:  # its lease ran out and another daemon took it
        connection.execute(sa.update(claims.R).where(claims.R.c.id == second).values(
            lease_owner="w2"))  # fmt: skip
    assert _mark(engine, second, NOW, _accepted(first, marked, NOW)) is None

    row, (attempt,) = _row(engine, first)
    assert row.state == "sent" and attempt.status == "sent"
    row, attempts = _row(engine, second)
    assert (row.state, row.attempts, row.lease_owner, attempts) == ("pending", 0, "w2", [])


def test_a_row_marked_unknown_is_sent_again_marked_as_a_possible_duplicate(
    engine: sa.Engine, db_url: str
) -> None:
    (rid,) = _claimed(engine, db_url, 1)
    with engine.begin() as connection:
        connection.execute(sa.update(claims.R).where(claims.R.c.id == rid).values(
            state="unknown", attempts=1))  # fmt: skip
    assert _mark(engine, rid, NOW) is not None
    row, (attempt,) = _row(engine, rid)
    assert (row.state, row.attempts, row.resent_after_unknown) == ("sending", 2, True)
    assert attempt.status == "sending"
