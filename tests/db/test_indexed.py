"""IndexedAlias: SQLite must read through the named index; other backends plan for themselves."""

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from surveil.db import models as m
from surveil.db.indexed import indexed_alias, ordered_join

ITEMS = m.FollowUpItem.__table__  # type: ignore[attr-defined]


def _open(alias: sa.Alias) -> sa.ColumnElement[bool]:
    return alias.c.state.in_(
        [sa.literal(s.value, literal_execute=True) for s in m.OPEN_ITEM_STATES]
    )


def _executed(engine: sa.Engine, *statements: sa.Select[tuple[int]]) -> list[str]:
    seen: list[str] = []

    def record(*args: object) -> None:
        if str(args[2]).startswith("SELECT"):  # not SQLite's BEGIN IMMEDIATE
            seen.append(str(args[2]))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        with engine.connect() as connection:
            for statement in statements:
                connection.execute(statement).all()
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    return seen


def test_sqlite_reads_through_the_named_index(engine: sa.Engine) -> None:
    i = indexed_alias(ITEMS, "i", "ix_followup_item_open_by_latest")
    stmt = sa.select(i.c.id).where(_open(i), i.c.latest < dt.date(2026, 1, 1))
    (sql,) = _executed(engine, stmt)
    if engine.dialect.name == "sqlite":
        assert "followup_item AS i INDEXED BY ix_followup_item_open_by_latest" in sql
        with engine.connect() as connection:
            plan = connection.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + sql.replace("?", "'2026-01-01'")
            ).all()
        assert "INDEX ix_followup_item_open_by_latest" in plan[0][-1]
    else:
        assert "INDEXED BY" not in sql  # PostgreSQL plans from its own statistics


def test_a_query_the_index_cannot_serve_fails_instead_of_slowing_down(engine: sa.Engine) -> None:
    # Done items are outside the partial index: SQLite refuses; PostgreSQL ignores the name.
    i = indexed_alias(ITEMS, "i", "ix_followup_item_open_by_latest")
    stmt = sa.select(i.c.id).where(i.c.state == "done")
    if engine.dialect.name == "sqlite":
        with pytest.raises(sa.exc.OperationalError, match="no query solution"):
            _executed(engine, stmt)
    else:
        assert _executed(engine, stmt)


def test_the_index_is_part_of_the_cached_statement(sqlite_url: str) -> None:
    from surveil.db.engine import make_engine

    engine = make_engine(sqlite_url)
    by_latest = indexed_alias(ITEMS, "i", "ix_followup_item_open_by_latest")
    by_earliest = indexed_alias(ITEMS, "i", "ix_followup_item_open_by_earliest")
    first, second = (sa.select(a.c.id).where(_open(a)) for a in (by_latest, by_earliest))
    sql = _executed(engine, first, second, first)
    engine.dispose()
    assert ["open_by_latest" in s for s in sql] == [True, False, True]
    assert "INDEXED BY ix_followup_item_open_by_earliest" in sql[1]


def test_other_dialects_render_a_plain_alias_and_unknown_indexes_are_refused() -> None:
    i = indexed_alias(ITEMS, "i", "ix_followup_item_open_by_latest")
    sql = str(sa.select(i.c.id).compile(dialect=postgresql.dialect()))
    assert "FROM followup_item AS i" in sql and "INDEXED" not in sql
    with pytest.raises(ValueError, match="no index 'ix_nope'"):
        indexed_alias(ITEMS, "i", "ix_nope")


def test_an_ordered_join_is_a_cross_join_on_sqlite_only(engine: sa.Engine) -> None:
    # SQLite keeps the left table outside for CROSS JOIN; PostgreSQL has no CROSS JOIN ... ON.
    i = indexed_alias(ITEMS, "i", "ix_followup_item_open_by_latest")
    p = m.Patient.__table__.alias("p")  # type: ignore[attr-defined]
    stmt = sa.select(i.c.id).select_from(ordered_join(i, p, p.c.id == i.c.patient_id))
    (sql,) = _executed(engine, stmt.where(_open(i)))
    crossed = "INDEXED BY ix_followup_item_open_by_latest CROSS JOIN patient AS p ON"
    assert (crossed in sql) == (engine.dialect.name == "sqlite")
    with pytest.raises(ValueError, match="outer side"):
        ordered_join(i.join(p, p.c.id == i.c.patient_id), p, sa.true())
