"""``INDEXED BY`` and a fixed join order for SQLite: statements that must stay fast whatever the
statistics say.

SQLite plans without statistics unless someone runs ``ANALYZE``, and without them it guesses that
``clinic = ?`` or ``state IN (...)`` picks out a handful of rows. On a large registry that guess
turns a walk down an ordered index that stops after ten rows into a sort of a hundred thousand.
For the few statements that must stay fast whatever the statistics say, the statement names
its index: on SQLite that is a requirement (a query the index cannot serve fails loudly, it
does not silently slow down); every other backend ignores it and plans from its own statistics.
SQLAlchemy's ``with_hint`` renders nothing on SQLite, hence this construct.

Naming the index is not enough: with the same poor guesses SQLite may still put the other table
outside, and run the index walk once per row of it. ``ordered_join`` writes ``CROSS JOIN``, which
SQLite documents as "the left table is the outer loop" (and otherwise treats as an inner join).
"""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.selectable import Alias, FromClause, Join
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


class OrderedJoin(Join):
    """An inner join that SQLite runs with the left side as the outer loop."""

    inherit_cache = True


def ordered_join(left: FromClause, right: FromClause, onclause: Any) -> OrderedJoin:
    if isinstance(left, Join):
        raise ValueError("the outer side of an ordered join must be a table or an alias")
    return OrderedJoin(left, right, onclause)


@compiles(OrderedJoin)
def _plain_join(element: OrderedJoin, compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.visit_join(element, **kw))  # type: ignore[no-untyped-call]


@compiles(OrderedJoin, "sqlite")
def _sqlite_join(element: OrderedJoin, compiler: SQLCompiler, **kw: Any) -> str:
    # The left side is a single table (see ordered_join), so the first JOIN keyword is ours.
    text = str(compiler.visit_join(element, **kw))  # type: ignore[no-untyped-call]
    return text.replace(" JOIN ", " CROSS JOIN ", 1)


class unindexed(FunctionElement[Any]):
    """A column whose equality SQLite must not treat as an index constraint: ``+column``.

    ``WHERE clinic = ? ORDER BY search_name, clinic, id`` down an index on exactly those columns
    should need no sort, yet SQLite 3.40 sorts "the right part of the ORDER BY" once ``clinic``
    is constrained. Written ``+clinic`` (SQLite's documented way to disqualify a term), the
    term is still tested from the index and the walk stays in index order. Other backends get
    the plain column.
    """

    inherit_cache = True
    name = "unindexed"

    def __init__(self, column: Any) -> None:
        super().__init__(column)
        self.type = column.type


@compiles(unindexed)
def _plain_column(element: unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(unindexed, "sqlite")
def _sqlite_plus(element: unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return "+" + str(compiler.process(element.clauses, **kw))
