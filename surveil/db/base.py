"""What every table shares: the constraint naming convention (set before any table is declared,
so Alembic's batch mode on SQLite sees stable names) and small helpers for columns."""

import datetime as dt
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    """Aware UTC now: the only clock the persistence layer uses for timestamps."""
    return dt.datetime.now(dt.UTC)


def as_utc(value: dt.datetime) -> dt.datetime:
    """A stored instant, aware: every one is UTC, but SQLite hands them back naive."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def one_of(
    column: str, values: type[StrEnum] | tuple[str, ...], name: str | None = None
) -> sa.CheckConstraint:
    """CHECK that a text column holds one of a vocabulary's values (NULL allowed)."""
    allowed = [v.value for v in values] if isinstance(values, type) else list(values)
    quoted = ", ".join(f"'{v}'" for v in allowed)
    return sa.CheckConstraint(f"{column} IN ({quoted})", name=name or f"{column}_valid")


def created_field() -> dt.datetime:
    return Field(default_factory=utcnow, nullable=False)  # type: ignore[no-any-return]


def fk(
    target: str, *, nullable: bool = False, ondelete: str = "CASCADE", index: bool = True
) -> int:
    return Field(  # type: ignore[no-any-return, call-overload]
        default=None if nullable else ...,
        foreign_key=target,
        nullable=nullable,
        ondelete=ondelete,
        index=index,
    )
