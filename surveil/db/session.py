"""Units of work on an engine (:mod:`surveil.db.engine`): a read-write transaction that commits or
rolls back as a whole, and read-only snapshots that never take SQLite's write lock."""

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from surveil.db.engine import READ_ONLY, poll_engine


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


def poll_read(
    engine: sa.Engine, statement: sa.Select[Any], params: Mapping[str, Any]
) -> Sequence[sa.Row[Any]]:
    """The rows of one SELECT, read the cheapest way the backend allows: for the hottest read
    path (a calendar poll and its rate-limit count), where each round trip to PostgreSQL is a
    measurable part of the answer.

    SQLite: as ``read_connection`` (a deferred read transaction, no round trips to save).
    PostgreSQL: on ``engine``'s poll engine (``db.engine.poll_engine``), the statement alone in
    autocommit, one round trip instead of four; one statement sees one snapshot, as the read
    transaction did. Only a SELECT is accepted (type-checked): nothing run here is rolled back.
    A connection the server dropped is found by this query, not by a ping, so the read is
    tried once more, on a new connection, when SQLAlchemy reports the connection invalidated
    (it then also replaces the pool's other connections made before the drop).
    """
    if engine.dialect.name == "sqlite":
        with read_connection(engine) as connection:
            return connection.execute(statement, params).all()
    return _on_poll_engine(engine, statement, params)


def poll_write(
    engine: sa.Engine, statement: sa.Executable, params: Mapping[str, Any]
) -> Sequence[sa.Row[*tuple[Any, ...]]]:
    """The returned rows of one statement that writes, committed on its own: one round trip on
    PostgreSQL, for a write on the hottest path (a repeated calendar poll's rate-limit count).

    SQLite: not for it (its writes queue for one lock; see ``services.throttle``), refused.
    PostgreSQL: as ``poll_read``, on the poll engine, in autocommit, so the statement is its
    own transaction and no pre-ping, BEGIN or COMMIT goes to the server. Whatever must hold
    for that transaction only is set inside the statement (``set_config(..., true)``): a
    session setting would stay on the pooled connection, and behind PgBouncer in transaction
    mode pass on to other clients. A connection the server dropped is found by the statement
    itself, which is then sent once more on a new connection. That can count twice only if
    the server committed and the connection died before the answer came back, which the
    caller's own fallback (writing the batch again later on any error) already allows.
    """
    if engine.dialect.name == "sqlite":
        raise ValueError("poll_write is for PostgreSQL; SQLite writes through a transaction")
    return _on_poll_engine(engine, statement, params)


def _on_poll_engine(
    engine: sa.Engine, statement: sa.Executable, params: Mapping[str, Any]
) -> Sequence[sa.Row[Any]]:
    """``statement`` alone on ``engine``'s poll engine, in autocommit; sent once more on a new
    connection if SQLAlchemy reports the first one invalidated (dropped by the server, found
    by the statement itself since the poll engine does not ping)."""
    polls = poll_engine(engine)
    try:
        with polls.connect() as connection:
            return connection.execute(statement, params).all()
    except sa.exc.DBAPIError as error:
        if not error.connection_invalidated:
            raise
    with polls.connect() as connection:
        return connection.execute(statement, params).all()


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
