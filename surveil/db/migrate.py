"""Alembic, driven from surveil's settings: ``surveil db upgrade`` and friends."""

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from surveil.db import plan_inputs
from surveil.db.engine import normalise_url
from surveil.resources import resource_dir


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resource_dir("migrations")))
    # ConfigParser interpolation would choke on a % in a password.
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Migrate to ``revision``; when anything was applied, refresh the planner's statistics."""
    before = current_revision(engine)
    with engine.begin() as connection:
        config = alembic_config(engine.url.render_as_string(hide_password=False))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    if current_revision(engine) != before:
        analyze(engine)


def analyze(engine: sa.Engine) -> None:
    """Refresh the query planner's statistics after a bulk step (a migration, a demo load, an
    import, a full replan). Without them PostgreSQL plans a freshly loaded registry as if it
    were empty: the worklist took 8.2 s on the 100k registry until one ANALYZE made it 135 ms.
    Autovacuum gets there eventually; a clinic should not have to wait for it.

    PostgreSQL only: surveil's SQLite statements are written for SQLite's planner *without*
    statistics (``db/indexed.py``), and statistics taken on a near-empty database would steer it
    away from the partial indexes the worklist is built on."""
    if engine.dialect.name != "postgresql":
        return
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")


def downgrade(engine: sa.Engine, revision: str) -> None:
    with engine.begin() as connection:
        config = alembic_config(engine.url.render_as_string(hide_password=False))
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def pending_changes(engine: sa.Engine) -> list[object]:
    """What autogenerate would still emit: empty when the schema matches the models."""
    from alembic.autogenerate import compare_metadata
    from sqlmodel import SQLModel

    # Registers every table on SQLModel.metadata; only this check needs the complete metadata.
    import surveil.db.models  # noqa: F401

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, SQLModel.metadata))


def schema_problem(engine: sa.Engine) -> str | None:
    """What ``surveil db check`` would refuse, in words, or None when the schema is at head and
    matches the models."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        return f"schema is at {current}, code expects {head}: run surveil db upgrade"
    diff = pending_changes(engine)
    if diff:
        return f"schema differs from the models: {diff}"
    with engine.connect() as connection:
        return plan_inputs.trigger_problem(connection)
