"""Engines and sessions. SQLite gets the pragmas that make it a safe single-machine database
(foreign keys on, WAL, a busy timeout, and ``BEGIN IMMEDIATE`` so writers queue instead of
failing half-way); PostgreSQL URLs are routed to psycopg 3."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlmodel import Session


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here (SQLAlchemy would otherwise pick psycopg2)."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.removeprefix("postgres://")
    return url


def make_engine(url: str, *, echo: bool = False) -> sa.Engine:
    """An engine for ``url``. Statement parameters are hidden from errors and the echo log
    (``hide_parameters``): they are notes, names, search terms and password hashes, and a
    database error's traceback would otherwise carry them into the log."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(
            url, echo=echo, pool_pre_ping=True, future=True, hide_parameters=True
        )
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url,
        echo=echo,
        hide_parameters=True,
        connect_args={"check_same_thread": False, "timeout": 30},
    )
    sa.event.listen(engine, "connect", _sqlite_on_connect)
    sa.event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling would defer BEGIN; we issue it ourselves (see below).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
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


@contextmanager
def session_scope(engine: sa.Engine) -> Iterator[Session]:
    """A unit of work: commit on success, roll back on any error, always close."""
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def read_connection(engine: sa.Engine) -> Iterator[sa.Connection]:
    """``read_scope`` without the ORM: a Core connection in a read-only transaction, for the
    hottest read paths (a calendar poll), where the Session's bookkeeping is measurable."""
    with engine.connect() as connection:
        connection = connection.execution_options(**{READ_ONLY: True})
        connection.begin()
        try:
            yield connection
        finally:
            connection.rollback()


@contextmanager
def read_scope(engine: sa.Engine) -> Iterator[Session]:
    """A unit of work that only reads: one consistent snapshot, always rolled back.

    On SQLite it neither takes nor waits for the write lock, so hot read paths (a calendar
    app polling its feed) never queue behind the nurses' writes or hold theirs up. It ends in a
    rollback, so a write made through it by mistake is never kept.
    """
    session = Session(engine, expire_on_commit=False)
    try:
        session.connection(execution_options={READ_ONLY: True})  # begins the transaction
        yield session
    finally:
        session.rollback()
        session.close()
