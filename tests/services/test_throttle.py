"""Shared rate-limit counts (issue 21, point 5), on SQLite and PostgreSQL: one atomic upsert
per batch, so processes writing at once lose no count; each process sees the others' counts."""

import datetime as dt
import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from surveil.db import models as m
from surveil.db.engine import poll_engine
from surveil.db.session import poll_read, poll_write
from surveil.services.throttle import SharedCounts, _add_one, add_counts
from tests.db.test_poll_read import RoundTrips

WINDOW = dt.timedelta(seconds=60)
START = dt.datetime(2026, 6, 10, 9, 0, tzinfo=dt.UTC)


def test_concurrent_upserts_lose_no_count(engine: sa.Engine) -> None:
    written: list[int] = []

    def worker() -> None:
        for _ in range(10):
            try:
                add_counts(engine, name="t", deltas={"a": 1, "b": 2}, window_start=START,
                           window=WINDOW, now=START)  # fmt: skip
            except sa.exc.OperationalError:  # SQLite busy past the short wait: skipped
                continue
            written.append(1)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with Session(engine) as session:
        counts = dict(session.exec(select(m.RateLimit.key, m.RateLimit.count)).all())
    assert written and counts == {"t:a": len(written), "t:b": 2 * len(written)}
    # The next window starts from zero, and the old window's rows are removed as it goes.
    later = START + 2 * WINDOW
    totals = add_counts(engine, name="t", deltas={"a": 1}, window_start=later, window=WINDOW,
                        now=later)  # fmt: skip
    assert totals == {"a": 1}
    with Session(engine) as session:
        assert session.exec(select(m.RateLimit.key)).all() == ["t:a"]


def test_workers_counting_one_key_at_once_lose_no_count(engine: sa.Engine) -> None:
    """A repeated request's write (one key, no clean-up) from four workers at once."""
    clock = START.timestamp() + 10
    workers = [SharedCounts(engine, "feed", sync_seconds=3600, clock=lambda: clock) for _ in "1234"]

    def worker(counts: SharedCounts) -> None:
        for _ in range(10):
            counts.record(5)
            counts.sync(5)  # on SQLite busy past the short wait: pending, written next time

    threads = [threading.Thread(target=worker, args=(counts,)) for counts in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    written = sum(counts._mine["5"] for counts in workers)
    assert written + sum(counts._pending["5"] for counts in workers) == 40
    if engine.dialect.name == "postgresql":
        assert written == 40  # rows are locked, not the database: nothing waits long
    with Session(engine) as session:
        assert session.exec(select(m.RateLimit.count)).all() == [written]


def test_each_process_sees_what_the_others_counted(engine: sa.Engine) -> None:
    clock = [START.timestamp() + 10]
    one, two = (SharedCounts(engine, "feed", sync_seconds=0, clock=lambda: clock[0]) for _ in "12")
    for _ in range(3):
        one.record(7)
    two.record(7)
    two.record(8)
    assert (one.others(7), two.others(7), one.others(8)) == (1, 3, 0)
    assert one.seconds_left() == 50
    clock[0] += 60  # the next window
    assert (one.others(7), two.others(7)) == (0, 0)


def test_a_database_that_cannot_count_falls_back_to_local_counts(tmp_path: object) -> None:
    broken = sa.create_engine(f"sqlite:///{tmp_path}/empty.db")  # no tables at all
    counts = SharedCounts(broken, "feed", sync_seconds=0)
    counts.record(1)  # logged, not raised: the request goes on with its own counts
    assert counts.others(1) == 0
    broken.dispose()


def test_on_postgresql_a_count_is_one_round_trip_and_leaves_no_setting_behind(
    engine: sa.Engine, tmp_path: Path
) -> None:
    """A repeated request's count (one key) and a full sync (several keys, past windows
    removed) are each one statement in autocommit; its ``synchronous_commit`` off lasts only
    for that statement's transaction, so the pooled connection is back to ``on`` after it."""
    if engine.dialect.name != "postgresql":
        pytest.skip("round trips to a server: PostgreSQL only")
    trips = RoundTrips(tmp_path)
    trips.watch(engine)
    trips.watch(poll_engine(engine))
    clock = [START.timestamp() + 10]
    counts = SharedCounts(engine, "feed", sync_seconds=3600, clock=lambda: clock[0])

    def repeated() -> None:
        counts.record(7)
        counts.sync(7)

    def full() -> None:
        counts.record(8)
        counts.record(9)
        counts.sync()

    try:
        assert trips.count(repeated) == 1  # it was five: ping, BEGIN, SET LOCAL, upsert, COMMIT
        assert trips.count(full) == 1  # it was six, with the DELETE of past windows
    finally:
        trips.close()
    assert (counts._totals["7"], counts._totals["8"], counts._totals["9"]) == (6, 6, 6)
    # Rows written by the statement itself say it ran set_config; what follows does not see it.
    rows = poll_write(engine, _add_one("postgresql", False), _row("x", 1))
    assert rows[0].unsynced == "off"
    show = sa.select(sa.func.current_setting("synchronous_commit"))
    assert [row[0] for row in poll_read(engine, show, {})] == ["on"]
    # Past windows are removed in the same statement.
    clock[0] += 120
    counts.record(7)
    counts.sync()
    with Session(engine) as session:
        assert session.exec(select(m.RateLimit.key)).all() == ["feed:7"]


def test_a_count_on_a_connection_the_server_dropped_is_written_once_on_a_new_one(
    engine: sa.Engine,
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("a server dropping a connection: PostgreSQL only")
    add: dict[str, Any] = {"name": "t", "window_start": START, "window": WINDOW, "now": START}
    assert add_counts(engine, deltas={"a": 1}, clear_expired=False, **add) == {"a": 1}
    backend = sa.select(sa.func.pg_backend_pid().label("pid"))
    pids = {row.pid for row in poll_read(engine, backend, {})}
    with engine.connect() as admin:
        for pid in pids:  # as a server restart or an idle timeout would
            admin.execute(sa.select(sa.func.pg_terminate_backend(pid)))
    assert add_counts(engine, deltas={"a": 1}, clear_expired=False, **add) == {"a": 2}


def _row(key: str, count: int) -> dict[str, object]:
    return {"key": key, "window_start": START, "count": count, "expires_at": START + WINDOW}
