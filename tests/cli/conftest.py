from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result

from surveil.cli import _register, cli
from surveil.db import migrate
from surveil.db.session import make_engine
from tests.cli.acting import fresh_cli, nina_cli  # noqa: F401 - fixtures for tests/cli

Invoke = Callable[..., Result]

# `surveil patient add` arguments for a small G1 pancreatic NET on surveillance since 2025-03-02.
SMALL_PNET = ["--mrn", "100", "--given", "Ada", "--family", "Lovelace",
              "--birth-date", "1962-03-14", "--site", "pancreas", "--ki67", "2", "--size-mm", "12",
              "--diagnosed-on", "2025-03-02", "--state", "active_surveillance"]  # fmt: skip


@pytest.fixture
def surveil_cli(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> Invoke:
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
