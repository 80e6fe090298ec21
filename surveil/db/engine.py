"""Engines: one per process, made from the database URL. SQLite gets the pragmas that make it a
safe single-machine database (foreign keys on, WAL, a busy timeout, and ``BEGIN IMMEDIATE`` so
writers queue instead of failing half-way); PostgreSQL URLs are routed to psycopg 3.

This is plumbing the entry points may hold (they make the engine once and hand it on); units of
work on it (sessions, transactions) are in :mod:`surveil.db.session`, for the services.
"""

import sqlite3
import threading
import weakref
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here (SQLAlchemy would otherwise pick psycopg2)."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.removeprefix("postgres://")
    return url


# psycopg's options for every PostgreSQL engine (see make_engine).
_PG_CONNECT_ARGS: dict[str, Any] = {"prepare_threshold": None}


# Engine execution option: the poll engine (below) may use server-side prepared statements.
PREPARED_POLLS = "surveil_prepared_polls"


def make_engine(url: str, *, echo: bool = False, prepared_polls: bool = False) -> sa.Engine:
    """The engine for ``url``; ``prepared_polls`` (settings.database.prepared_statements) lets
    ``poll_engine(engine)`` prepare its statements on PostgreSQL."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # No server-side prepared statements: behind PgBouncer in transaction mode (the pooling
        # docs/operations.md recommends) consecutive transactions land on different server
        # connections, and psycopg's automatic prepare fails with "prepared statement _pg3_0
        # already exists / does not exist" (tests/db/test_pgbouncer.py). SQLAlchemy still caches
        # the compiled SQL; PostgreSQL re-plans each statement, which costs little here.
        return sa.create_engine(
            url,
            echo=echo,
            pool_pre_ping=True,
            future=True,
            hide_parameters=True,
            connect_args=_PG_CONNECT_ARGS,
            execution_options={PREPARED_POLLS: prepared_polls},
        )
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url,
        echo=echo,
        hide_parameters=True,  # parameters are notes, names, searches: never in a log
        # PARSE_COLNAMES: a column named "x [surveil_day]" is converted as it is fetched
        # (db.driver_rows); SQLAlchemy's own statements never name columns that way.
        connect_args={
            "check_same_thread": False,
            "timeout": 30,
            "detect_types": sqlite3.PARSE_COLNAMES,
        },
    )
    sa.event.listen(engine, "connect", _sqlite_on_connect)
    sa.event.listen(engine, "begin", _sqlite_on_begin)
    return engine


# Every SQLite connection surveil opens; the benchmarks' bare connections use the same.
SQLITE_PRAGMAS = (
    "foreign_keys=ON",
    "journal_mode=WAL",
    "synchronous=NORMAL",
    "busy_timeout=30000",
    # A write to a table with a trigger (every table planning reads: db/plan_inputs.py) runs
    # under a statement journal, a temp file by default: in memory, a follow-up item row is
    # written in ~35 % less CPU (docs/benchmarks.md, "Statement journals in memory"). Temp
    # tables and transient indexes then live in memory as well.
    "temp_store=MEMORY",
)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling would defer BEGIN; we issue it ourselves (see below).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


READ_ONLY = "surveil_read_only"  # execution option set by read_scope() and read_connection()


def _sqlite_on_begin(connection: sa.Connection) -> None:
    # IMMEDIATE takes the write lock up front: two writers wait for each other rather than one
    # failing with "database is locked" after it has already read stale rows. A read-only
    # unit of work needs no lock: WAL gives it a consistent snapshot while writers go on.
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN DEFERRED")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def is_sqlite(engine: sa.Engine) -> bool:
    return engine.dialect.name == "sqlite"


_POLL_ENGINES: "weakref.WeakKeyDictionary[sa.Engine, sa.Engine]" = weakref.WeakKeyDictionary()
_POLL_LOCK = threading.Lock()


def poll_engine(engine: sa.Engine) -> sa.Engine:
    """The engine for one-statement reads on the hottest path (a calendar poll): ``engine``
    itself on SQLite; on PostgreSQL a sibling on the same database, made once and disposed with
    ``engine``, whose connections are in autocommit and are not pinged on checkout.

    Why: every round trip to the server is a fixed cost a poll pays whatever the query, and
    ``engine`` makes four per read: the pool's pre-ping (``SELECT 1``), ``BEGIN``, the query and
    ``ROLLBACK``. In autocommit the one statement is its own transaction (one snapshot, as
    before), so only the query goes to the server. Without the pre-ping a connection the server
    dropped (a restart, an idle timeout) shows up as an error on the query itself, so reads on
    this engine are retried once on a fresh connection (``session.poll_read``); that is why
    only reads may use it, and the one write that tolerates being sent twice in the rare case
    the server dies between its commit and its answer (a rate-limit count,
    ``session.poll_write``). Its pool is small: a poll holds a connection for one statement.

    With ``make_engine(..., prepared_polls=True)`` its statements are also prepared on the
    server, once per connection: PostgreSQL then no longer parses and plans the poll's query
    each time, which took longer than running it (0.3 against 0.07 ms). That needs a direct
    connection, not PgBouncer in transaction mode (see ``make_engine``'s note), so it is a
    setting, off unless asked for.
    """
    if engine.dialect.name == "sqlite":
        return engine
    with _POLL_LOCK:
        found = _POLL_ENGINES.get(engine)
        if found is None:
            prepared = bool(engine.get_execution_options().get(PREPARED_POLLS))
            found = sa.create_engine(
                engine.url,
                echo=engine.echo,
                future=True,
                hide_parameters=True,
                isolation_level="AUTOCOMMIT",
                pool_pre_ping=False,
                pool_size=2,
                max_overflow=8,
                # 0: prepared at its first execution (the poll runs only two statements).
                connect_args={**_PG_CONNECT_ARGS, "prepare_threshold": 0 if prepared else None},
            )
            _POLL_ENGINES[engine] = found
            if not sa.event.contains(engine, "engine_disposed", _dispose_poll_engine):
                sa.event.listen(engine, "engine_disposed", _dispose_poll_engine)
        return found


def _dispose_poll_engine(engine: sa.Engine) -> None:
    # engine.dispose() closes the sibling's connections too; a later poll_engine() makes a new
    # one, as ``engine`` itself makes new connections after a dispose.
    with _POLL_LOCK:
        found = _POLL_ENGINES.pop(engine, None)
    if found is not None:
        found.dispose()
