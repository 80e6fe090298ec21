"""``surveil secret generate``, the key check of ``surveil serve`` and the web app, and the
demo's own key (``make run`` must keep working without a key shipped in the repository)."""

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from surveil.cli import _register, cli
from surveil.cli.rundemo import DEMO_SECRET_KEY_FILE, demo_secret_key_file
from surveil.config import DatabaseSettings, Settings, WebSettings, load_settings
from surveil.config_rules import secret_key_problems
from surveil.errors import ConfigError
from surveil.web.app import create_app
from tests.web.live_server import free_port


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    """A CLI runner in an empty directory with no surveil settings in the environment."""
    _register()
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("SURVEIL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SURVEIL_DATABASE_URL", f"sqlite:///{tmp_path / 's.db'}")
    return CliRunner()


def test_generate_prints_a_key_the_loader_accepts(runner: CliRunner) -> None:
    first = runner.invoke(cli, ["secret", "generate"])
    second = runner.invoke(cli, ["secret", "generate"])
    assert first.exit_code == 0, first.output
    key = first.output.strip()
    assert len(key) == 64 and key != second.output.strip()
    assert secret_key_problems(key) == []


def test_generate_out_writes_an_owner_only_file_and_never_overwrites(
    runner: CliRunner, tmp_path: Path
) -> None:
    out = tmp_path / "keys" / "secret_key"
    made = runner.invoke(cli, ["secret", "generate", "--out", str(out)])
    assert made.exit_code == 0, made.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    key = out.read_text()
    environ = {"SURVEIL_WEB_SECRET_KEY_FILE": str(out)}
    assert load_settings(None, environ=environ, require_secret_key=True).web.secret_key == (
        key.strip()
    )
    again = runner.invoke(cli, ["secret", "generate", "--out", str(out)])
    assert again.exit_code == 1 and "exists" in again.output
    assert out.read_text() == key


def test_help_shows_the_example(runner: CliRunner) -> None:
    shown = runner.invoke(cli, ["secret", "generate", "--help"]).output
    assert "surveil secret generate --out /etc/surveil/secret_key" in shown
    assert "secret_key_file" in shown
    assert "secret" in runner.invoke(cli, ["--help"]).output


@pytest.mark.parametrize(
    "settings_env",
    [
        {},
        {"SURVEIL_WEB_SECRET_KEY": "dev-only-change-me"},
        {"SURVEIL_WEB_SECRET_KEY": "dev-only-change-me", "SURVEIL_WEB_HTTPS_ONLY": "true"},
        {"SURVEIL_WEB_SECRET_KEY": "too-short-a-key"},
    ],
)
@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "0.0.0.0"])
def test_serve_refuses_a_weak_key_on_every_address(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, settings_env: dict[str, str], host: str
) -> None:
    for name, value in settings_env.items():
        monkeypatch.setenv(name, value)
    result = runner.invoke(cli, ["serve", "--host", host, "--port", "8999"])
    assert result.exit_code == 2, result.output
    assert "web.secret_key" in result.output


def test_create_app_refuses_a_weak_key(sqlite_url: str) -> None:
    for key in ("", "dev-only-change-me", "x" * 31):
        settings = Settings(
            database=DatabaseSettings(url=sqlite_url), web=WebSettings(secret_key=key)
        )
        with pytest.raises(ConfigError, match=r"web\.secret_key"):
            create_app(settings)


def test_the_demo_makes_its_key_once_and_keeps_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    made = demo_secret_key_file("")
    assert made == DEMO_SECRET_KEY_FILE and made.exists()
    key = made.read_text()
    assert demo_secret_key_file("") == made and made.read_text() == key
    assert stat.S_IMODE(made.stat().st_mode) == 0o600
    assert demo_secret_key_file("k" * 64) is None  # a configured good key wins
    with pytest.raises(ConfigError, match="placeholder"):
        demo_secret_key_file("dev-only-change-me")


def test_run_demo_starts_with_its_own_key(tmp_path: Path) -> None:
    """What ``make run`` does, minus the demo patients: init, then run-demo with no key
    configured. The web worklist answers, and the key it signs with is in var/."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURVEIL_")}
    env["SURVEIL_DATABASE_URL"] = "sqlite:///var/demo.db"
    surveil = [sys.executable, "-m", "surveil"]
    subprocess.run([*surveil, "init"], cwd=tmp_path, env=env, check=True, capture_output=True)
    port = free_port()
    log = tmp_path / "demo.log"
    with log.open("wb") as sink:
        demo = subprocess.Popen(
            [*surveil, "run-demo", "--host", "127.0.0.1", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    page = httpx.get(f"http://127.0.0.1:{port}/login", timeout=2)
                    break
                except httpx.TransportError:
                    assert demo.poll() is None, log.read_text()
                    assert time.monotonic() < deadline, log.read_text()
                    time.sleep(0.2)
            assert page.status_code == 200
        finally:
            demo.send_signal(signal.SIGINT)
            demo.wait(timeout=30)
    key = (tmp_path / DEMO_SECRET_KEY_FILE).read_text().strip()
    assert secret_key_problems(key) == []
    assert key not in log.read_text()


# The one-way-in register (tests/test_one_way_in.py).
NOT_AUDITED = {"secret generate": "writes a new random key to a file; reads no database"}
