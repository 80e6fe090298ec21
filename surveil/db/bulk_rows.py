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

import functools
import json
from collections.abc import Callable, Iterable, Sequence
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from pydantic_core import PydanticUndefined
from sqlalchemy.dialects.postgresql import ARRAY
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


def insert_dicts(
    session: Session,
    table: sa.Table,
    rows: list[dict[str, Any]],
    *,
    constants: dict[str, Any] | None = None,
) -> None:
    """Rows given as dicts naming the same columns, inserted by :func:`insert_plain`."""
    if not rows:
        return
    first = rows[0].keys()
    if any(row.keys() != first for row in rows):
        raise ValueError(f"rows for {table.name} do not all name the same columns")
    columns = tuple(first)
    if len(columns) == 1:
        values = [(row[columns[0]],) for row in rows]
    else:
        get = itemgetter(*columns)  # by name: two dicts may hold the same keys in another order
        values = [get(row) for row in rows]
    insert_plain(session, table, columns, values, constants=constants)


def insert_plain(
    session: Session,
    table: sa.Table,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    constants: dict[str, Any] | None = None,
) -> None:
    """Insert ``rows`` (values in ``columns`` order), every row also taking ``constants`` (a
    column's value shared by the batch: a state, an empty note, the batch's timestamp), straight
    through the driver: an executemany on SQLite, ``COPY ... FROM STDIN`` on PostgreSQL. Each
    value is bind-processed as SQLAlchemy would (dates as text on SQLite, aware instants in
    UTC), the constants once for the batch, so the stored values are those ``sa.insert(table)``
    stores; building and processing a parameter dict of every column for each row was about a
    third of inserting a first planning's 59,000 follow-up items. Flush the session first."""
    connection = session.connection()
    dialect = connection.dialect

    def processor(name: str) -> Callable[[Any], Any] | None:
        kind = table.c[name].type
        process = kind.dialect_impl(dialect).bind_processor(dialect)
        if process is not None and isinstance(getattr(kind, "impl", kind), sa.Date | sa.DateTime):
            # A batch's dates repeat (a plan's windows, the day's triggers): format each once.
            return functools.lru_cache(maxsize=4096)(process)
        return process

    fixed = dict(constants or {})
    for column in table.c:  # what ``sa.insert`` fills in for a column not given
        if column.name in fixed or column.name in columns or column.default is None:
            continue
        if not column.default.is_scalar:
            raise ValueError(f"{table.name}.{column.name}: give its value (a computed default)")
        fixed[column.name] = column.default.arg  # type: ignore[attr-defined]
    for name, value in fixed.items():
        if (process := processor(name)) is not None:
            fixed[name] = process(value)
    tail = tuple(fixed.values())
    processors = [processor(name) for name in columns]
    if any(processors):
        out = [
            tuple([v if p is None else p(v) for p, v in zip(processors, row, strict=True)]) + tail
            for row in rows
        ]
    else:
        out = [tuple(row) + tail for row in rows]
    if not out:
        return
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(name) for name in (*columns, *fixed))
    if dialect.name == "postgresql":
        # COPY: the rows go as one stream (an executemany is a statement per row); psycopg
        # adapts the values with the same dumpers as it does a statement's parameters.
        driver = connection.connection.driver_connection
        copying = f"COPY {quote(table.name)} ({names}) FROM STDIN"
        with driver.cursor() as cursor, cursor.copy(copying) as copy:  # type: ignore[union-attr]
            for row in out:
                copy.write_row(row)
        return
    marks = ", ".join("?" * len(out[0]))
    connection.exec_driver_sql(f"INSERT INTO {quote(table.name)} ({names}) VALUES ({marks})", out)


def among(session: Session, column: Any, ids: Sequence[int | None]) -> Any:
    """``column IN (ids)`` with the ids as one parameter, so the statement reads the same
    whatever the ids: ``= ANY(array)`` on PostgreSQL, ``IN (SELECT value FROM json_each(?))``
    on SQLite (which still seeks ``column``'s index for each id). With a placeholder per id,
    psycopg converts a statement of hundreds of them anew each time it runs (its cache keeps
    short ones), and SQLAlchemy renders and binds the expanded list on every execution: each
    such read of a 500-patient chunk cost about 0.5 ms more on SQLite, for each of the ~8 a
    replan makes per chunk."""
    if session.get_bind().dialect.name == "postgresql":
        return column == sa.any_(sa.bindparam(None, list(ids), type_=ARRAY(sa.Integer)))
    listed = sa.bindparam(None, json.dumps(list(ids)), type_=sa.String)
    return column.in_(sa.select(_JSON_VALUE).select_from(sa.func.json_each(listed)))


_JSON_VALUE: sa.ColumnClause[int] = sa.column("value")  # json_each's column of the array's elements
