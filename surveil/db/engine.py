"""Engines: one per process, made from the database URL. SQLite gets the pragmas that make it a
safe single-machine database (foreign keys on, WAL, a busy timeout, and ``BEGIN IMMEDIATE`` so
writers queue instead of failing half-way); PostgreSQL URLs are routed to psycopg 3.

This is plumbing the entry points may hold (they make the engine once and hand it on); units of
work on it (sessions, transactions) are in :mod:`surveil.db.session`, for the services.
"""

import sqlite3
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


def make_engine(url: str, *, echo: bool = False) -> sa.Engine:
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
            connect_args={"prepare_threshold": None},
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
