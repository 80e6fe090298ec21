"""The database schema, for the commands that create and check it (``surveil init``, ``db``).

Not an entry point and not audited, on purpose: a migration changes tables, not records, it
runs before any account exists (there is nobody to name as the actor), and Alembic's version
table is its record. The shells reach ``db.migrate`` only through here.
"""

import sqlalchemy as sa

from surveil.db import migrate


def upgrade_schema(engine: sa.Engine, revision: str = "head") -> str | None:
    """Apply the migrations up to ``revision``; the revision the database is at afterwards."""
    migrate.upgrade(engine, revision)
    return migrate.current_revision(engine)


def schema_revision(engine: sa.Engine) -> str | None:
    """The revision the database is at; None before ``surveil init``."""
    return migrate.current_revision(engine)


def code_revision() -> str | None:
    """The newest revision this version of surveil knows."""
    return migrate.head_revision()


def schema_differences(engine: sa.Engine) -> list[object]:
    """Where the tables differ from the models (empty when they agree)."""
    return migrate.pending_changes(engine)
