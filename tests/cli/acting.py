"""The command line on an empty registry, and the accounts commands act as.

``fresh_invoke`` runs ``surveil ...`` in-process against a migrated, empty database on both
backends, with ``SURVEIL_USER`` unset, so a test says who acts (``--as``) or proves that
nobody named is refused; ``add_account`` makes a user through the accounts service. The
fixtures ``fresh_cli`` and ``nina_cli`` (acting as the navigator nina of the configured
clinic) are made from them in tests/cli/conftest.py."""

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


def fresh_invoke(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Invoke:
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
