"""Every command checks the clinic's protocol pack and profile as soon as it has read its settings:
a wrong name is exit status 2 with the key, the value and the choices, and nothing is touched."""

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from surveil.cli import _register, cli


@pytest.fixture
def database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Where the commands would create their SQLite database (they must not get that far)."""
    path = tmp_path / "never-created.db"
    monkeypatch.setenv("SURVEIL_DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.delenv("SURVEIL_CONFIG", raising=False)
    for name in ("SURVEIL_CLINIC_PACK", "SURVEIL_CLINIC_PROFILE", "SURVEIL_PATHS_SCHEDULES"):
        monkeypatch.delenv(name, raising=False)
    # A good signing key, so `serve` gets as far as the protocol check.
    monkeypatch.setenv("SURVEIL_WEB_SECRET_KEY", "startup-test-" + "k" * 40)
    return path


def surveil(*args: str) -> Result:
    _register()
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.parametrize(
    "command", [("init",), ("worklist",), ("serve",), ("daemon", "--once")], ids=" ".join
)
def test_an_unknown_pack_stops_every_entry_point_before_the_database(
    command: tuple[str, ...], database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SURVEIL_CLINIC_PACK", "nccn-2024")
    result = surveil(*command)
    assert result.exit_code == 2
    assert "clinic.pack: 'nccn-2024' is not a protocol pack (available: net-default)" in (
        result.output
    )
    assert "Traceback" not in result.output
    assert not database.exists()


def test_an_unknown_profile_in_the_config_file_is_named_with_the_pack_s_profiles(
    database: Path, tmp_path: Path
) -> None:
    config = tmp_path / "surveil.toml"
    config.write_text('[clinic]\nprofile = "enets"\n', encoding="utf-8")
    result = surveil("--config", str(config), "init")
    assert result.exit_code == 2
    assert (
        "clinic.profile: 'enets' is not a profile of pack 'net-default' "
        "(available: default, esmo-2020)"
    ) in result.output
    assert not database.exists()


def test_a_known_pack_and_profile_let_the_command_run(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SURVEIL_CLINIC_PROFILE", "net-default:esmo-2020")
    result = surveil("init")
    assert result.exit_code == 0, result.output
    assert database.exists()
