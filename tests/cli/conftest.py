from collections.abc import Callable

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from surveil.cli import _register, cli
from surveil.db import migrate
from surveil.db.engine import make_engine

Invoke = Callable[..., Result]


@pytest.fixture
def fresh_cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """`surveil ...` on an empty registry, nobody named to act as (tests/cli/acting.py)."""
    from tests.cli.acting import fresh_invoke

    return fresh_invoke(db_url, monkeypatch)


@pytest.fixture
def nina_cli(fresh_cli: Invoke, engine: sa.Engine) -> Invoke:
    """``fresh_cli`` acting as nina, a navigator of the configured clinic (``--as nina``)."""
    import functools

    from tests.cli.acting import CLINIC, add_account

    add_account(engine, "nina", role="navigator", clinic=CLINIC)
    return functools.partial(fresh_cli, "--as", "nina")


# `surveil patient add` arguments for a small G1 pancreatic NET on surveillance since 2025-03-02.
SMALL_PNET = ["--mrn", "100", "--given", "Ada", "--family", "Lovelace",
              "--birth-date", "1962-03-14", "--site", "pancreas", "--ki67", "2", "--size-mm", "12",
              "--diagnosed-on", "2025-03-02", "--state", "active_surveillance"]  # fmt: skip


@pytest.fixture
def surveil_cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """Run `surveil ...` in-process against the test database (both backends)."""
    _register()
    monkeypatch.setenv("SURVEIL_DATABASE_URL", db_url)
    monkeypatch.delenv("SURVEIL_CONFIG", raising=False)
    engine = make_engine(db_url)
    migrate.upgrade(engine)
    engine.dispose()
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return invoke


CLI_USER = "nurse"  # the navigator the clinical-record commands act as (SURVEIL_USER)


def add_cli_user(
    db_url: str, username: str, *, role: str = "navigator", clinic: str | None = None
) -> None:
    """A surveil account for commands to act as (``--as``). It never logs in to the web, so
    its password hash is a placeholder that no password matches."""
    from sqlmodel import Session

    from surveil.config import ClinicSettings
    from surveil.db import models as m

    engine = make_engine(db_url)
    with Session(engine) as session:
        session.add(
            m.User(
                username=username,
                display_name=username.title(),
                role=role,
                clinic=clinic or ClinicSettings().name,
                password_hash="!",
            )
        )
        session.commit()
    engine.dispose()


@pytest.fixture
def cli_user(
    surveil_cli: Invoke,  # noqa: ARG001 - migrates the database before the user is added
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    """Commands act as the navigator ``nurse`` of the configured clinic (SURVEIL_USER)."""
    add_cli_user(db_url, CLI_USER)
    monkeypatch.setenv("SURVEIL_USER", CLI_USER)
    return CLI_USER
