"""The demo's bulk rows through PostgreSQL's ``COPY … FROM STDIN`` (psycopg 3).

``executemany`` of a Core ``insert()`` sends one statement per row (pipelined, but each still
parsed, planned and executed on the server); ``COPY`` streams every row of a table in one
statement, which is what makes a million-patient registry loadable in minutes instead of hours.

The rows must come out exactly as the Core insert would write them, so that the same seed gives
the same registry on either path (tests/services/test_demo_copy.py compares them): each value goes
through its column type's bind processor (the UTC datetime decorator, booleans, floats), and a
column the rows leave out gets its Python-side default, as Core's ``insert()`` applies it. Columns
without one are left out of the ``COPY`` too, so the server fills them (the ``id`` sequence) in
row order, as the inserts would.
"""

import enum
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

from surveil.demo.story import Row

Processor = Callable[[Any], Any] | None


def copy_rows(connection: sa.Connection, table: sa.Table, rows: Sequence[Row]) -> None:
    """Write ``rows`` (dicts keyed by column name, all with the keys of the first, as
    ``executemany`` requires) into ``table`` with one ``COPY``, in ``connection``'s transaction."""
    if not rows:
        return
    names = list(rows[0])
    defaulted = [c for c in table.columns if c.name not in rows[0] and c.default is not None]
    columns = [table.c[name] for name in names] + defaulted
    fill = tuple(_default(column) for column in defaulted)
    processors = [column.type.bind_processor(connection.dialect) for column in columns]
    quote = connection.dialect.identifier_preparer
    sql = (
        f"COPY {quote.format_table(table)} "
        f"({', '.join(quote.quote(column.name) for column in columns)}) FROM STDIN"
    )
    raw = connection.connection.driver_connection  # the psycopg connection, same transaction
    assert raw is not None
    with raw.cursor() as cursor, cursor.copy(sql) as copy:
        if not any(processors):
            for row in rows:
                copy.write_row([row[name] for name in names] + list(fill))
            return
        for row in rows:
            values = [row[name] for name in names]
            values += fill
            copy.write_row(
                [p(v) if p is not None else v for p, v in zip(processors, values, strict=True)]
            )


def _default(column: sa.Column[Any]) -> Any:
    """The value Core's ``insert()`` gives a column the rows leave out."""
    default = column.default
    assert isinstance(default, sa.ColumnDefault)
    value = default.arg(None) if default.is_callable else default.arg
    # An enum default reaches the database as its value (the columns are plain strings).
    return value.value if isinstance(value, enum.Enum) else value
