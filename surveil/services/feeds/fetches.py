"""Counting feed fetches without a write per fetch.

Every subscribed calendar app polls its feed every few hours, for every patient. Writing the
count and "last seen" inside each request made every poll a write transaction: on SQLite that
takes the database's one write lock, so polls queued behind the nurses' work (and theirs
behind the polls), and it was a fixed cost on every answer. The counts are statistics for the
patient page ("last seen 2 hours ago"), not clinical data, so they are kept in memory and
written in one short transaction every ``interval`` seconds, and once more at shutdown.

What this trades, on purpose: the patient page may lag by up to ``interval``; a process that
dies without shutting down (kill -9, power cut) loses at most its last ``interval`` of counts.
A failed write (database away) keeps the counts for the next try. Several web processes each
keep their own tally and their writes add up, so none overwrites another's.
"""

import datetime as dt
import logging
import threading
from dataclasses import dataclass

import sqlalchemy as sa

from surveil.db import models as m
from surveil.db.session import session_scope

log = logging.getLogger(__name__)

FLUSH_EVERY = 30.0  # seconds; the longest a patient page lags behind a calendar app's poll

_TABLE: sa.Table = m.FeedToken.__table__  # type: ignore[attr-defined]
_SEEN: sa.BindParameter[dt.datetime] = sa.bindparam("seen")
# Add this process's count; move "last seen" forward only (another process may have written a
# later poll already).
_ADD_FETCHES = (
    sa.update(_TABLE)
    .where(_TABLE.c.id == sa.bindparam("feed_id"))
    .values(
        fetch_count=_TABLE.c.fetch_count + sa.bindparam("fetches"),
        last_seen_at=sa.case(
            (sa.or_(_TABLE.c.last_seen_at.is_(None), _TABLE.c.last_seen_at < _SEEN), _SEEN),
            else_=_TABLE.c.last_seen_at,
        ),
    )
)


@dataclass
class _Tally:
    fetches: int
    last_seen: dt.datetime


class FetchTally:
    """Fetches per feed id, held in memory and written in batches. Thread-safe.

    ``record`` is what a request calls (a dict update under a lock); ``flush`` writes and
    clears what was recorded; ``start`` runs ``flush`` every ``interval`` seconds on a daemon
    thread and ``close`` stops it and flushes one last time.
    """

    def __init__(self, engine: sa.Engine, *, interval: float = FLUSH_EVERY) -> None:
        self.engine = engine
        self.interval = interval
        self._pending: dict[int, _Tally] = {}
        self._lock = threading.Lock()
        self._flushing = threading.Lock()  # one flush at a time: the timer's or close()'s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def record(self, feed_id: int, at: dt.datetime) -> None:
        with self._lock:
            tally = self._pending.get(feed_id)
            if tally is None:
                self._pending[feed_id] = _Tally(1, at)
            else:
                tally.fetches += 1
                tally.last_seen = max(tally.last_seen, at)

    def pending(self) -> int:
        """Fetches recorded and not yet written."""
        with self._lock:
            return sum(t.fetches for t in self._pending.values())

    def flush(self) -> int:
        """Write what was recorded; the number of fetches written. On a database error the
        counts go back into the tally (merged with any recorded meanwhile) and it re-raises."""
        with self._flushing:
            with self._lock:
                batch, self._pending = self._pending, {}
            if not batch:
                return 0
            rows = [
                {"feed_id": feed_id, "fetches": t.fetches, "seen": t.last_seen}
                for feed_id, t in sorted(batch.items())  # a fixed lock order across processes
            ]
            try:
                with session_scope(self.engine) as session:
                    session.connection().execute(_ADD_FETCHES, rows)
            except Exception:
                self._put_back(batch)
                raise
            return sum(t.fetches for t in batch.values())

    def start(self) -> None:
        """Flush every ``interval`` seconds until ``close``; idempotent, and may start again
        after ``close`` (an app whose lifespan runs twice)."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="feed-fetch-tally", daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Stop the timer and write what is left (at shutdown)."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=self.interval + 5)
        try:
            self.flush()
        except Exception:
            log.exception("feed fetch counts could not be written at shutdown (lost: %d)",
                          self.pending())  # fmt: skip

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.flush()
            except Exception:
                # Kept for the next round; the log names counts, never feeds or tokens.
                log.warning("feed fetch counts not written yet (%d pending); will retry",
                            self.pending(), exc_info=True)  # fmt: skip

    def _put_back(self, batch: dict[int, _Tally]) -> None:
        with self._lock:
            for feed_id, old in batch.items():
                new = self._pending.get(feed_id)
                if new is None:
                    self._pending[feed_id] = old
                else:
                    new.fetches += old.fetches
                    new.last_seen = max(new.last_seen, old.last_seen)
