"""Units of work: writers queue for the lock, read-only scopes never wait and never write."""

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from surveil.db.engine import make_engine
from surveil.db.session import read_connection, read_scope, session_scope

COUNT = sa.text("SELECT count(*) FROM t")


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'scopes.db'}")
    with session_scope(engine) as session:
        session.execute(sa.text("CREATE TABLE t (x INTEGER)"))
        session.execute(sa.text("INSERT INTO t VALUES (1)"))
    yield engine
    engine.dispose()


@pytest.mark.parametrize("scope", [read_scope, read_connection])
def test_a_read_scope_on_sqlite_does_not_wait_for_a_writer_and_sees_a_snapshot(
    engine: sa.Engine, scope: Callable[[sa.Engine], AbstractContextManager[Any]]
) -> None:
    with session_scope(engine) as writer:
        writer.execute(sa.text("INSERT INTO t VALUES (2)"))  # holds the write lock (IMMEDIATE)
        started = time.perf_counter()
        with scope(engine) as reader:
            assert reader.execute(COUNT).scalar_one() == 1  # the committed state only
        # A writer would wait up to the 30 s busy timeout here; the reader is not a writer.
        assert time.perf_counter() - started < 5
    with read_scope(engine) as reader:
        assert reader.execute(COUNT).scalar_one() == 2


@pytest.mark.parametrize("scope", [read_scope, read_connection])
def test_a_read_scope_keeps_no_write_made_through_it_by_mistake(
    db_url: str, scope: Callable[[sa.Engine], AbstractContextManager[Any]]
) -> None:
    engine = make_engine(db_url)
    try:
        with session_scope(engine) as session:
            session.execute(sa.text("CREATE TABLE IF NOT EXISTS scratch (x INTEGER)"))
        with scope(engine) as reader:
            reader.execute(sa.text("INSERT INTO scratch VALUES (1)"))
        with read_scope(engine) as reader:
            count = reader.execute(sa.text("SELECT count(*) FROM scratch")).scalar_one()
        with session_scope(engine) as session:
            session.execute(sa.text("DROP TABLE scratch"))
    finally:
        engine.dispose()
    assert count == 0
