"""Shared rate-limit counts (issue 21, point 5), on SQLite and PostgreSQL: one atomic upsert
per batch, so processes writing at once lose no count; each process sees the others' counts."""

import datetime as dt
import threading

import sqlalchemy as sa
from sqlmodel import Session, select

from surveil.db import models as m
from surveil.services.throttle import SharedCounts, add_counts, quick_connection

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


def test_counts_commit_without_waiting_for_the_disk_on_postgresql(engine: sa.Engine) -> None:
    """Only the counts' own transaction gives up the wait for its WAL flush; the next one on
    the same pooled connection waits again (SET LOCAL ends with the transaction)."""
    if engine.dialect.name != "postgresql":
        return  # SQLite's WAL commits are already unsynced (synchronous=NORMAL)
    with quick_connection(engine) as connection:
        inside = connection.exec_driver_sql("SHOW synchronous_commit").scalar()
    with engine.connect() as connection:
        after = connection.exec_driver_sql("SHOW synchronous_commit").scalar()
    assert (inside, after) == ("off", "on")
