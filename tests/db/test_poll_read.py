"""``poll_read``: the calendar poll's one-statement reads, one round trip on PostgreSQL.

The round trips are counted from psycopg's own protocol trace (libpq's ``PQtrace``): each
``Query`` or ``Sync`` message the client sends is one wait for the server. The engine every other
path uses sends four for the same read (its pool's ``SELECT 1`` ping, ``BEGIN``, the query,
``ROLLBACK``), which the first test also shows, so the count is known to see them.
"""

import contextlib
import datetime as dt
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest
import sqlalchemy as sa

from surveil.db.engine import make_engine, poll_engine
from surveil.db.session import poll_read, read_connection, session_scope
from surveil.services.feeds import tokens as feeds
from tests.web.seed import make_patient

ONE = sa.select(sa.literal(1).label("one"))


@pytest.fixture
def pg_engine(engine: sa.Engine) -> sa.Engine:
    """The migrated, emptied test database, on PostgreSQL only (SQLite makes no round trips)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("round trips to a server: PostgreSQL only")
    return engine


class RoundTrips:
    """Counts the messages that end a round trip, on every connection made after ``watch``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.connections: list[tuple[object, Path]] = []
        self.streams: list[IO[str]] = []  # libpq writes into them until untrace

    def watch(self, engine: sa.Engine) -> None:
        sa.event.listen(engine, "connect", self._trace)

    def _trace(self, dbapi_connection: object, _record: object) -> None:
        path = Path(tempfile.mkstemp(dir=self.folder, suffix=".trace")[1])
        stream = path.open("w")
        dbapi_connection.pgconn.trace(stream.fileno())  # type: ignore[attr-defined]
        self.connections.append((dbapi_connection, path))
        self.streams.append(stream)

    def count(self, call: Callable[[], object], times: int = 5) -> float:
        call()  # connections made, the pool filled
        before = self._total()
        for _ in range(times):
            call()
        return (self._total() - before) / times

    def _total(self) -> int:
        total = 0
        for dbapi_connection, path in self.connections:
            dbapi_connection.pgconn.untrace()  # type: ignore[attr-defined]  # flushes the trace
            total += len(re.findall(r"\tF\t\d+\t(?:Query|Sync)\b", path.read_text()))
            stream = path.open("a")
            self.streams.append(stream)
            dbapi_connection.pgconn.trace(stream.fileno())  # type: ignore[attr-defined]
        return total

    def close(self) -> None:
        for dbapi_connection, _ in self.connections:
            with contextlib.suppress(Exception):  # a connection closed since
                dbapi_connection.pgconn.untrace()  # type: ignore[attr-defined]
        for stream in self.streams:
            stream.close()


@pytest.fixture
def round_trips(pg_engine: sa.Engine, tmp_path: Path) -> Iterator[RoundTrips]:
    counter = RoundTrips(tmp_path)
    counter.watch(pg_engine)
    counter.watch(poll_engine(pg_engine))
    yield counter
    counter.close()


def test_a_poll_read_is_one_round_trip_where_a_read_transaction_is_four(
    pg_engine: sa.Engine, round_trips: RoundTrips
) -> None:
    def in_a_read_transaction() -> None:
        with read_connection(pg_engine) as connection:
            connection.execute(ONE).all()

    assert round_trips.count(in_a_read_transaction) == 4  # ping, BEGIN, query, ROLLBACK
    assert round_trips.count(lambda: poll_read(pg_engine, ONE, {})) == 1
    assert poll_read(pg_engine, ONE, {})[0].one == 1


def test_a_feed_poll_is_one_round_trip_for_a_feed_and_for_a_token_that_opens_none(
    pg_engine: sa.Engine, round_trips: RoundTrips
) -> None:
    with session_scope(pg_engine) as session:
        patient = make_patient(session, "RT1")
        assert patient.id is not None
        issued = feeds.issue_feed(session, patient_id=patient.id, base_url="https://x.example")
    token = issued.urls.https.rsplit("/", 1)[1].removesuffix(".ics")
    today, retention = dt.date(2026, 12, 6), dt.timedelta(days=30)

    def poll(presented: str) -> Callable[[], object]:
        return lambda: feeds.read_feed(pg_engine, presented, today=today, retention=retention)

    assert feeds.read_feed(pg_engine, token, today=today, retention=retention) is not None
    assert round_trips.count(poll(token)) == 1
    assert round_trips.count(poll(token[::-1])) == 1


def test_a_poll_read_on_a_connection_the_server_dropped_is_answered_on_a_new_one(
    pg_engine: sa.Engine,
) -> None:
    poll_read(pg_engine, ONE, {})  # a connection now waits in the poll engine's pool
    backend = sa.select(sa.func.pg_backend_pid().label("pid"))
    pids = {row.pid for row in poll_read(pg_engine, backend, {})}
    with pg_engine.connect() as admin:
        for pid in pids:  # as a server restart or an idle timeout would
            admin.execute(sa.select(sa.func.pg_terminate_backend(pid)))
    # No ping checks the pooled connection first: the query finds it dead and is run again.
    assert poll_read(pg_engine, ONE, {})[0].one == 1


@pytest.mark.postgres
def test_the_poll_engine_goes_with_its_engine(pg_database: str) -> None:
    engine = make_engine(pg_database)
    polls = poll_engine(engine)
    assert poll_engine(engine) is polls
    poll_read(engine, ONE, {})
    assert polls.pool.checkedin() == 1  # type: ignore[attr-defined]
    engine.dispose()
    assert polls.pool.checkedin() == 0  # type: ignore[attr-defined]  # its connections closed
    assert poll_engine(engine) is not polls  # a new one, as the engine makes new connections
    engine.dispose()


def test_on_sqlite_a_poll_read_is_the_read_transaction_it_was(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        assert poll_engine(engine) is engine
        assert poll_read(engine, ONE, {})[0].one == 1
    finally:
        engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("prepared", [False, True])
def test_poll_statements_are_prepared_on_the_server_only_when_the_setting_asks(
    pg_database: str, prepared: bool
) -> None:
    engine = make_engine(pg_database, prepared_polls=prepared)
    try:
        for _ in range(3):
            assert poll_read(engine, ONE, {})[0].one == 1
        # The same pooled connection (one at a time here): what it has prepared.
        held = sa.select(sa.column("statement")).select_from(sa.table("pg_prepared_statements"))
        statements = [row.statement for row in poll_read(engine, held, {})]
    finally:
        engine.dispose()
    assert any("AS one" in text for text in statements) is prepared
