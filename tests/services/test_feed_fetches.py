"""Feed fetch counts kept in memory and written in batches (SQLite and PostgreSQL)."""

import datetime as dt
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from surveil.db import models as m
from surveil.db.engine import make_engine
from surveil.db.session import session_scope
from surveil.services.feeds import tokens as feeds
from surveil.services.feeds.fetches import FetchTally
from tests.web.seed import make_patient

BASE = "https://follow-up.example.org"
T0 = dt.datetime(2026, 6, 15, 8, 0, tzinfo=dt.UTC)


def new_feeds(engine: sa.Engine, count: int) -> list[int]:
    with session_scope(engine) as session:
        patient = make_patient(session, "P1")
        assert patient.id is not None
        public = [
            feeds.issue_feed(session, patient_id=patient.id, label=f"d{i}", base_url=BASE)
            .feed.public_id
            for i in range(count)
        ]  # fmt: skip
        return [feeds.get_feed(session, public_id=p).id for p in public]  # type: ignore[misc]


def counts(engine: sa.Engine) -> dict[int, tuple[int, dt.datetime | None]]:
    with Session(engine) as session:
        rows = session.exec(select(m.FeedToken)).all()
        return {r.id: (r.fetch_count, r.last_seen_at) for r in rows}  # type: ignore[misc]


def test_nothing_is_written_until_a_flush_then_everything_once(engine: sa.Engine) -> None:
    a, b = new_feeds(engine, 2)
    tally = FetchTally(engine)
    for minute in (5, 1, 3):  # out of order: last seen is the latest, not the last recorded
        tally.record(a, T0 + dt.timedelta(minutes=minute))
    tally.record(b, T0)
    assert counts(engine) == {a: (0, None), b: (0, None)}
    assert tally.pending() == 4
    assert tally.flush() == 4
    assert counts(engine) == {a: (3, T0 + dt.timedelta(minutes=5)), b: (1, T0)}
    assert tally.flush() == 0 and tally.pending() == 0  # written once, not again
    tally.record(a, T0 + dt.timedelta(hours=1))
    tally.flush()
    assert counts(engine)[a] == (4, T0 + dt.timedelta(hours=1))


def test_two_processes_add_up_and_last_seen_never_goes_back(engine: sa.Engine) -> None:
    (a,) = new_feeds(engine, 1)
    first, second = FetchTally(engine), FetchTally(engine)  # two web workers
    first.record(a, T0 + dt.timedelta(hours=2))
    second.record(a, T0)
    second.record(a, T0 + dt.timedelta(minutes=1))
    first.flush()
    second.flush()  # an older poll written later must not move "last seen" back
    assert counts(engine)[a] == (3, T0 + dt.timedelta(hours=2))


def test_many_threads_lose_no_count(engine: sa.Engine) -> None:
    ids = new_feeds(engine, 3)
    tally = FetchTally(engine)

    def poll(n: int) -> None:
        for i in range(300):
            tally.record(ids[(n + i) % 3], T0 + dt.timedelta(seconds=i))
            if i % 100 == 99:
                tally.flush()  # flushes racing with records

    threads = [threading.Thread(target=poll, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tally.flush()
    assert sum(count for count, _ in counts(engine).values()) == 6 * 300


def test_a_failed_write_keeps_the_counts_for_the_next_try(
    engine: sa.Engine, tmp_path: Path
) -> None:
    (a,) = new_feeds(engine, 1)
    broken = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")  # no tables: every write fails
    tally = FetchTally(broken)
    tally.record(a, T0)
    with pytest.raises(sa.exc.OperationalError):
        tally.flush()
    tally.record(a, T0 + dt.timedelta(minutes=9))  # recorded while the database was away
    assert tally.pending() == 2
    tally.engine = engine  # the database is back
    assert tally.flush() == 2
    assert counts(engine)[a] == (2, T0 + dt.timedelta(minutes=9))
    broken.dispose()


def test_the_timer_writes_within_its_interval_and_close_writes_the_rest(
    engine: sa.Engine,
) -> None:
    (a,) = new_feeds(engine, 1)
    tally = FetchTally(engine, interval=0.05)
    tally.start()
    tally.start()  # idempotent: still one timer
    try:
        tally.record(a, T0)
        deadline = time.monotonic() + 10
        while counts(engine)[a][0] == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert counts(engine)[a][0] == 1
    finally:
        tally.interval = 3600.0  # the next write can only come from close()
        tally.record(a, T0 + dt.timedelta(minutes=1))
        tally.close()
    assert counts(engine)[a] == (2, T0 + dt.timedelta(minutes=1))
    assert not any(t.name == "feed-fetch-tally" and t.is_alive() for t in threading.enumerate())
