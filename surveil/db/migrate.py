"""Alembic, driven from surveil's settings: ``surveil db upgrade`` and friends."""

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from surveil.db.session import normalise_url
from surveil.resources import resource_dir


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resource_dir("migrations")))
    # ConfigParser interpolation would choke on a % in a password.
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    with engine.begin() as connection:
        config = alembic_config(engine.url.render_as_string(hide_password=False))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


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
    return None
