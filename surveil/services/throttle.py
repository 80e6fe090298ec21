"""Rate-limit counts shared by every web worker, through the ``rate_limit`` table.

A process counts its own events in memory (exact, with its own sliding window: see
``web.feeds.SlidingWindow``) and, every ``SYNC_SECONDS``, adds them to a fixed-window counter in
the database with one atomic upsert per batch (``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``
on SQLite and PostgreSQL alike). The totals it reads back tell it what the *other* processes
counted, which it adds to its own before deciding. So N workers together allow about one
limit, not N limits, while a calendar poll still writes nothing itself: a worker writes at most
once every few seconds. Counting is best effort: when the database is busy or down, a worker
falls back to its own counts rather than refusing or waiting.
"""

import datetime as dt
import functools
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from surveil.db import models as m
from surveil.db.session import poll_read, poll_write, session_scope

log = logging.getLogger(__name__)

SYNC_SECONDS = 5.0
# How long a best-effort write may wait for SQLite's write lock before it is skipped.
QUICK_WAIT_MS = 200


@contextmanager
def quick_scope(engine: sa.Engine) -> Iterator[Session]:
    """A unit of work that gives up after ``QUICK_WAIT_MS`` if SQLite's write lock is held
    (OperationalError), instead of the engine's 30 s busy timeout: for writes a reader's
    request makes on the side (a session's last-seen time, rate-limit counts). PostgreSQL
    locks rows, not the database, so there it is a plain unit of work."""
    if engine.dialect.name != "sqlite":
        with session_scope(engine) as session:
            yield session
        return
    with (
        engine.connect() as connection,
        _quick_lock_wait(connection),
        Session(bind=connection, expire_on_commit=False) as session,
    ):
        yield session
        session.commit()


@contextmanager
def quick_connection(engine: sa.Engine) -> Iterator[sa.Connection]:
    """``quick_scope`` without the ORM, committed at the end: for the rate-limit counts on
    SQLite, written after a repeated feed request, where a Session's bookkeeping is most of the
    write's cost. (PostgreSQL's counts are one statement in autocommit: see ``add_counts``.)"""
    with engine.connect() as connection, _quick_lock_wait(connection), connection.begin():
        yield connection


@contextmanager
def _quick_lock_wait(connection: sa.Connection) -> Iterator[None]:
    if connection.dialect.name != "sqlite":
        yield
        return
    raw = connection.connection.driver_connection
    assert raw is not None
    raw.execute(f"PRAGMA busy_timeout={QUICK_WAIT_MS}")
    try:
        yield
    finally:
        raw.execute("PRAGMA busy_timeout=30000")


_RATE_LIMIT: sa.Table = m.RateLimit.__table__  # type: ignore[attr-defined]
# Everyone's count of one key in one window: read by primary key for a repeated request.
_COUNT = sa.select(_RATE_LIMIT.c.count).where(
    _RATE_LIMIT.c.key == sa.bindparam("key"),
    _RATE_LIMIT.c.window_start == sa.bindparam("window_start"),
)
_EXPIRED = sa.delete(_RATE_LIMIT).where(_RATE_LIMIT.c.expires_at < sa.bindparam("now"))


# On PostgreSQL the counts' statement sets ``synchronous_commit`` off for its own transaction
# (is_local true): a column of what it returns, so it is evaluated on every row it writes, before
# the statement's implicit commit reads the setting; the setting ends with that transaction, so
# nothing is left on the pooled connection (or, behind PgBouncer, on another client's). A crash
# can lose the last fraction of a second of counts, a throttle's figure and nothing else; waiting
# for the flush was most of a 304's time on a busy disk (served 304 p95 5.3 ms at 1M patients).
_UNSYNCED: sa.Label[str] = sa.literal_column("set_config('synchronous_commit', 'off', true)").label(
    "unsynced"
)


@functools.cache
def _add_one(dialect: str, clear_expired: bool) -> sa.Executable:
    """The upsert of one key's count, built once per dialect (a repeated feed request writes
    one key right after its answer; building and compiling the statement cost more than
    running it)."""
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(_RATE_LIMIT)
    row = insert.values(
        key=sa.bindparam("key"),
        window_start=sa.bindparam("window_start"),
        count=sa.bindparam("count"),
        expires_at=sa.bindparam("expires_at"),
    )
    return _counted(dialect, row, row.excluded.count, clear_expired)


def _add_many(dialect: str, rows: list[dict[str, object]], clear_expired: bool) -> sa.Executable:
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(_RATE_LIMIT)
    statement = insert.values(rows)
    return _counted(dialect, statement, statement.excluded.count, clear_expired)


def _counted(
    dialect: str,
    insert: postgresql.Insert | sqlite.Insert,
    excluded: sa.ColumnElement[int],
    clear_expired: bool,
) -> sa.Executable:
    """``insert`` adding to the counts already there and returning the totals. On PostgreSQL
    it is the whole write, one statement committed on its own (``db.session.poll_write``):
    past windows are removed in a WITH clause of the same statement (a data-modifying WITH
    runs whether or not it is referred to; it never meets the rows inserted, whose window has
    not ended), and the commit does not wait for the disk (``_UNSYNCED``)."""
    upsert = insert.on_conflict_do_update(
        index_elements=["key", "window_start"], set_={"count": _RATE_LIMIT.c.count + excluded}
    )
    if dialect != "postgresql":
        return upsert.returning(_RATE_LIMIT.c.key, _RATE_LIMIT.c.count)
    if clear_expired:
        upsert = upsert.add_cte(_EXPIRED.cte("expired"))
    return upsert.returning(_RATE_LIMIT.c.key, _RATE_LIMIT.c.count, _UNSYNCED)


def add_counts(
    engine: sa.Engine,
    *,
    name: str,
    deltas: dict[str, int],
    window_start: dt.datetime,
    window: dt.timedelta,
    now: dt.datetime,
    clear_expired: bool = True,
) -> dict[str, int]:
    """Add ``deltas`` to the counters of ``name`` for the window starting at ``window_start``
    (one atomic upsert) and return the totals every process has counted there. Counters of
    past windows are removed on the way (``clear_expired``).

    PostgreSQL: one statement in autocommit, one round trip to the server (it was five: the
    pool's ping, BEGIN, SET LOCAL, the upsert, COMMIT). SQLite: a transaction that waits at
    most ``QUICK_WAIT_MS`` for the write lock (``quick_connection``)."""
    if not deltas:
        return {}
    rows = [
        {
            "key": f"{name}:{key}"[:160],
            "window_start": window_start,
            "count": delta,
            "expires_at": window_start + window,
        }
        for key, delta in deltas.items()
    ]
    dialect = engine.dialect.name
    statement: sa.Executable
    if len(rows) == 1:
        statement, params = _add_one(dialect, clear_expired), dict(rows[0])
    else:
        statement, params = _add_many(dialect, rows, clear_expired), {}
    prefix = len(name) + 1
    if dialect == "postgresql":
        if clear_expired:
            params["now"] = now
        written = poll_write(engine, statement, params)
    else:
        with quick_connection(engine) as connection:
            if clear_expired:
                connection.execute(_EXPIRED, {"now": now})
            written = connection.execute(statement, params).all()
    return {row[0][prefix:]: int(row[1]) for row in written}


class SharedCounts:
    """One kind of event (a feed polled, a token missed from an address), counted by every
    process: ``others(key)`` is what the other processes counted in the current window, as
    of the last sync."""

    def __init__(
        self,
        engine: sa.Engine,
        name: str,
        *,
        window: float = 60.0,
        sync_seconds: float = SYNC_SECONDS,
        clock: Callable[[], float] = time.time,
        auto_sync: bool = True,
    ) -> None:
        self.engine = engine
        self.name = name
        self.window = window
        self.sync_seconds = sync_seconds
        self.clock = clock
        # False: the caller syncs (``sync_due``/``sync``), e.g. away from an event loop, since a
        # sync is a database write; ``record`` and ``others`` then never touch the database.
        self.auto_sync = auto_sync
        self._lock = threading.Lock()
        self._window_start = self._window_of(clock())
        self._pending: Counter[str] = Counter()  # ours, not yet written
        self._mine: Counter[str] = Counter()  # ours, written in this window
        self._totals: dict[str, int] = {}  # everyone's, as the last write returned them
        self._synced_at = 0.0

    def record(self, key: object) -> None:
        with self._lock:
            self._roll()
            self._pending[str(key)] += 1
        self._maybe_sync()

    def others(self, key: object) -> int:
        self._maybe_sync()
        with self._lock:
            self._roll()
            name = str(key)
            return max(0, self._totals.get(name, 0) - self._mine[name])

    def refresh(self, key: object) -> None:
        """Read everyone's count of ``key`` in the current window (one read by primary key, no
        write): what the other processes have written so far, to decide on a request now."""
        with self._lock:
            self._roll()
            start = self._window_start
        params = {
            "key": f"{self.name}:{key}"[:160],
            "window_start": dt.datetime.fromtimestamp(start, dt.UTC),
        }
        try:
            rows = poll_read(self.engine, _COUNT, params)  # one round trip on PostgreSQL
            count = rows[0][0] if rows else None
        except sa.exc.SQLAlchemyError:
            log.warning("shared rate-limit counts not read (the database is busy or down)")
            return
        with self._lock:
            if start == self._window_start and count is not None:
                self._totals[str(key)] = max(int(count), self._totals.get(str(key), 0))

    def seconds_left(self) -> int:
        return max(1, int(self._window_start + self.window - self.clock() + 0.999))

    def sync(self, key: object | None = None) -> None:
        """Write our pending counts and read back everyone's (also for keys we only watch);
        with ``key``, only that key's (one row: the rest wait for the next full sync)."""
        with self._lock:
            self._roll()
            if key is not None:
                name = str(key)
                deltas = {name: self._pending.pop(name, 0)}
            else:
                deltas = dict(self._pending)
                # A key we counted before in this window is re-read with a zero delta, so the
                # totals also follow what the other processes counted since.
                deltas.update({k: 0 for k in self._mine if k not in deltas})
                self._pending.clear()
                self._synced_at = self.clock()
            start = self._window_start
        try:
            totals = add_counts(
                self.engine,
                name=self.name,
                deltas=deltas,
                window_start=dt.datetime.fromtimestamp(start, dt.UTC),
                window=dt.timedelta(seconds=self.window),
                now=dt.datetime.fromtimestamp(self.clock(), dt.UTC),
                clear_expired=key is None,
            )
        except sa.exc.SQLAlchemyError:
            log.warning("shared rate-limit counts not written (the database is busy or down)")
            with self._lock:
                if start == self._window_start:
                    self._pending.update({k: v for k, v in deltas.items() if v})
            return
        with self._lock:
            if start == self._window_start:
                self._mine.update({k: v for k, v in deltas.items() if v})
                self._totals.update(totals)

    def sync_due(self) -> bool:
        return self.clock() - self._synced_at >= self.sync_seconds

    def _maybe_sync(self) -> None:
        if self.auto_sync and self.sync_due():
            self.sync()

    def _roll(self) -> None:
        """A new window: every count starts again from zero (pending ones of the old window
        are dropped, as the old window's limit no longer applies)."""
        start = self._window_of(self.clock())
        if start != self._window_start:
            self._window_start = start
            self._pending.clear()
            self._mine.clear()
            self._totals.clear()

    def _window_of(self, now: float) -> float:
        return now - now % self.window
