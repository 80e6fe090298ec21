"""Units of work on an engine (:mod:`surveil.db.engine`): a read-write transaction that commits or
rolls back as a whole, and read-only snapshots that never take SQLite's write lock."""

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlmodel import Session

from surveil.db.engine import READ_ONLY


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
