"""``INDEXED BY`` for SQLite: an alias that SQLite must read through one named index.

SQLite plans without statistics unless someone runs ``ANALYZE``, and without them it guesses that
``clinic = ?`` or ``state IN (...)`` picks out a handful of rows. On a large registry that guess
turns a walk down an ordered index that stops after ten rows into a sort of a hundred thousand.
For the few statements that must stay fast whatever the statistics say, the statement names
its index: on SQLite that is a requirement (a query the index cannot serve fails loudly, it
does not silently slow down); every other backend ignores it and plans from its own statistics.
SQLAlchemy's ``with_hint`` renders nothing on SQLite, hence this construct.
"""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.selectable import Alias
from sqlalchemy.sql.visitors import InternalTraversal


class IndexedAlias(Alias):
    """``table AS name``, and on SQLite ``table AS name INDEXED BY index``."""

    inherit_cache = True
    # The index is part of the statement's cache key: two aliases differing only in it differ.
    _traverse_internals = [  # noqa: RUF012 - SQLAlchemy's own (instance-typed) attribute
        *Alias._traverse_internals,
        ("index", InternalTraversal.dp_string),
    ]
    index: str

    def _init(self, selectable: Any, *, name: str | None = None, index: str = "") -> None:
        super()._init(selectable, name=name)
        self.index = index


def indexed_alias(table: sa.Table, name: str, index: str) -> IndexedAlias:
    if index not in {i.name for i in table.indexes}:
        raise ValueError(f"{table.name} has no index {index!r}")
    return IndexedAlias._construct(table, name=name, index=index)


@compiles(IndexedAlias)
def _plain(element: IndexedAlias, compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.visit_alias(element, **kw))  # type: ignore[no-untyped-call]


@compiles(IndexedAlias, "sqlite")
def _sqlite(element: IndexedAlias, compiler: SQLCompiler, **kw: Any) -> str:
    text = str(compiler.visit_alias(element, **kw))  # type: ignore[no-untyped-call]
    if not kw.get("asfrom"):
        return text
    return f"{text} INDEXED BY {compiler.preparer.quote(element.index)}"
