"""Rows written in bulk as plain values, their ids known before they are inserted.

Flushing a SQLModel object costs its construction (validation, instrumentation) and its own
INSERT; thousands of new rows (a 100,000-row import opens thousands of triggers, each with
items, consequences and an audit event) are cheaper as one executemany per table. Rows that
point at each other (a trigger's tumour-board item is named after the trigger, the trigger
points back at the item) need their ids first:

* SQLite: the next ids after the largest, which is what SQLite itself would give the rows
  (these tables have no AUTOINCREMENT). A writing transaction holds the database's one write
  lock from its start (``BEGIN IMMEDIATE``, ``db.engine``), so nobody else can take them.
  (``INSERT ... RETURNING`` in parameter order is not batched on SQLite: SQLAlchemy falls back
  to one statement per row because SQLite does not promise the order of returned rows.)
* PostgreSQL: drawn from the column's own sequence, as an INSERT would draw them.

The session's pending objects must be flushed first (they could take the same ids), and the rows
inserted before ids are drawn again for the same table.
"""

from typing import Any

import sqlalchemy as sa
from pydantic_core import PydanticUndefined
from sqlmodel import Session, SQLModel


def table_of(model: type[SQLModel]) -> sa.Table:
    """A table model's Core table (SQLModel's classes do not declare ``__table__`` to mypy)."""
    table: sa.Table = model.__table__  # type: ignore[attr-defined]
    return table


def new_ids(session: Session, table: sa.Table, count: int) -> list[int]:
    """``count`` ids for new rows of ``table``, ascending."""
    if count <= 0:
        return []
    if session.get_bind().dialect.name == "sqlite":
        largest = session.execute(sa.select(sa.func.max(table.c.id))).scalar_one()
        first = (largest or 0) + 1
        return list(range(first, first + count))
    drawn = session.execute(
        sa.text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
        {"table": f'"{table.name}"', "n": count},
    ).scalars()
    return sorted(drawn)


def defaults_of(model: type[SQLModel]) -> dict[str, Any]:
    """The values a new ``model`` object takes for the fields it is not given (a state, a
    count, ``created_at`` now), for the rows inserted without building one; call it once per
    batch (the timestamps are taken at the call)."""
    values: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if name == "id":
            continue
        if field.default_factory is not None:
            values[name] = field.default_factory()  # type: ignore[call-arg]
        elif field.default is not PydanticUndefined:
            values[name] = field.default
    return values


def insert_rows(session: Session, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """One executemany (SQLAlchemy batches it into multi-row INSERTs on PostgreSQL)."""
    if rows:
        session.execute(sa.insert(table), rows)
