"""The command line on an empty registry, and the accounts commands act as.

``fresh_cli`` runs ``surveil ...`` in-process against a migrated, empty database on both
backends, with ``SURVEIL_USER`` unset, so a test says who acts (``--as``) or proves that
nobody named is refused. ``add_account`` makes a user through the accounts service;
``nina_cli`` is ``fresh_cli`` acting as the navigator nina of the configured clinic.
(Registered for tests/cli by its conftest.)"""

import functools
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from sqlmodel import Session

from surveil.cli import _register, cli
from surveil.services.users import accounts

Invoke = Callable[..., Result]
PASSPHRASE = "a long enough passphrase"
CLINIC = "Neuroendocrine Tumour Clinic"  # the default clinic.name


@pytest.fixture
def fresh_cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    _register()
    monkeypatch.setenv("SURVEIL_DATABASE_URL", db_url)
    for name in ("SURVEIL_CONFIG", "SURVEIL_USER"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return invoke


def add_account(engine: sa.Engine, username: str, *, role: str, clinic: str) -> None:
    with Session(engine) as session:
        accounts.add_user(
            session,
            username=username,
            display_name=None,
            role=role,
            clinic=clinic,
            password=PASSPHRASE,
        )
        session.commit()


@pytest.fixture
def nina_cli(fresh_cli: Invoke, engine: sa.Engine) -> Invoke:
    add_account(engine, "nina", role="navigator", clinic=CLINIC)
    return functools.partial(fresh_cli, "--as", "nina")
