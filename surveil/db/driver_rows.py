"""Many patients' rows of one table, read straight from the database driver's cursor.

A replan reads eight tables for every chunk of 500 patients, about twenty rows a patient. Through
a Session each row costs SQLAlchemy's ORM result machinery (a Row, its processors, the IN list of
500 bound parameters rendered again per execution): in a profile of the facts read that was three
quarters of it, for rows that are only unpacked once. Here the statement is compiled once per
dialect, with the patient ids left as the only parameters, and the cursor's plain tuples are
returned with the same Python values SQLAlchemy would give:

* PostgreSQL (psycopg) already returns dates and booleans, and takes the ids as one array
  (``= ANY(%s)``);
* SQLite returns dates as the ISO text SQLAlchemy stored and booleans as 0/1: those columns are
  named for two converters registered with the sqlite3 module (``"c2 [surveil_day]"``), which
  it calls as it fetches (``detect_types=PARSE_COLNAMES``, set by ``db.engine``; each
  distinct day is parsed once, and a known one is a dict lookup in C). The ids are bound as
  ``IN (?, ?, ...)``.

The rows are read on the session's own connection, inside its transaction, after its pending
changes are flushed (as ``Session.execute`` would autoflush): a refresh reads back what the same
transaction has just written.
"""

import datetime as dt
import sqlite3
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

_IDS = "__surveil_patient_ids__"  # where the compiled statement takes the ids condition
_PLACES = "__surveil_id_places__"  # SQLite: one ? for each id of the chunk
_DAY_CONVERTER = "surveil_day"
_FLAG_CONVERTER = "surveil_flag"


class ChunkQuery:
    """``statement`` (a SELECT without parameters of its own) for the rows whose
    ``patient_id`` column (a Core or ORM column) is in a given list of ids."""

    def __init__(self, statement: sa.Select[Any], patient_id: Any) -> None:
        self.statement = statement
        self.patient_id: sa.ColumnElement[Any] = patient_id
        self._compiled: dict[str, str] = {}

    def rows(self, session: Session, ids: list[int], *, chunk: int = 900) -> list[Any]:
        """The rows for ``ids`` as tuples, ``chunk`` ids per statement."""
        if not ids:
            return []
        if session.autoflush:
            session.flush()
        connection = session.connection()
        sql = self.sql(connection.dialect)
        rows: list[Any] = []
        cursor = connection.connection.cursor()
        try:
            for start in range(0, len(ids), chunk):
                cursor.execute(*bound(connection.dialect, sql, ids[start : start + chunk]))
                rows.extend(cursor.fetchall())
        finally:
            cursor.close()
        return rows

    def sql(self, dialect: sa.Dialect) -> str:
        """The statement as the driver runs it, ids still to be bound (:func:`bound`)."""
        sql = self._compiled.get(dialect.name)
        if sql is None:
            sql = self._compiled[dialect.name] = self._compile(dialect)
        return sql

    def _compile(self, dialect: sa.Dialect) -> str:
        statement = self.statement
        if dialect.name == "sqlite":
            statement = _with_sqlite_converters(statement)
        elif dialect.name != "postgresql":
            raise NotImplementedError(f"no driver read for {dialect.name}")
        statement = statement.where(sa.text(_IDS))
        sql = str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
        column = str(self.patient_id.compile(dialect=dialect))
        if dialect.name == "postgresql":
            return sql.replace(_IDS, f"{column} = ANY(%s)")
        return sql.replace(_IDS, f"{column} IN ({_PLACES})")


def bound(dialect: sa.Dialect, sql: str, ids: list[int]) -> tuple[str, Any]:
    """:meth:`ChunkQuery.sql` and its parameters for ``ids``, as a cursor's ``execute`` takes
    them: one array on PostgreSQL, a placeholder per id on SQLite."""
    if dialect.name == "postgresql":
        return sql, (ids,)
    return sql.replace(_PLACES, ",".join("?" * len(ids))), ids


def _with_sqlite_converters(statement: sa.Select[Any]) -> sa.Select[Any]:
    """``statement`` with its date and boolean columns named for the converters below."""
    columns: list[sa.ColumnElement[Any]] = []
    for index, selected in enumerate(statement.selected_columns):
        kind = selected.type
        if isinstance(kind, sa.DateTime):
            raise TypeError(f"{selected}: timestamps are not read by the driver here")
        if isinstance(kind, sa.Date):
            columns.append(selected.label(f"c{index} [{_DAY_CONVERTER}]"))
        elif isinstance(kind, sa.Boolean):
            columns.append(selected.label(f"c{index} [{_FLAG_CONVERTER}]"))
        else:
            columns.append(selected)
    return statement.with_only_columns(*columns)


class _Days(dict[bytes, dt.date]):
    """ISO text -> date, parsing each distinct day once (few distinct days exist). The sqlite3
    module calls the converter for every date it fetches: registered as this dict's own
    ``__getitem__``, a known day costs a C lookup instead of a Python call (a replan fetches
    about ten dates a patient)."""

    def __missing__(self, text: bytes) -> dt.date:
        if len(self) > _DAYS_CAP:  # a long-lived process stays bounded
            self.clear()
        day = self[text] = dt.date.fromisoformat(text.decode())
        return day


class _Flags(dict[bytes, bool]):
    """Stored 0/1 -> bool, looked up in C as :class:`_Days` is."""

    def __missing__(self, text: bytes) -> bool:
        return text != b"0"


_DAYS = _Days()
_DAYS_CAP = 200_000
_FLAGS = _Flags({b"0": False, b"1": True})

sqlite3.register_converter(_DAY_CONVERTER, _DAYS.__getitem__)
sqlite3.register_converter(_FLAG_CONVERTER, _FLAGS.__getitem__)
