"""Settings: the example file documents every key; env overrides; every error at once."""

import tomllib
from pathlib import Path

import pytest

from surveil.config import documented_keys, load_settings
from surveil.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"


def test_example_loads_and_documents_every_key() -> None:
    settings = load_settings(EXAMPLE, environ={})
    assert settings.clinic.profile == "default"
    text = EXAMPLE.read_text(encoding="utf-8").splitlines()
    raw = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    for section, keys in documented_keys().items():
        assert f"[{section}]" in text, f"section [{section}] missing from config.example.toml"
        for key in keys:
            # The key is written (perhaps commented out) and the line above it is a comment.
            index = next(
                (i for i, line in enumerate(text) if line.lstrip("# ").startswith(f"{key} =")),
                None,
            )
            assert index is not None, f"{section}.{key} is not in config.example.toml"
            assert text[index - 1].startswith("#"), f"{section}.{key} has no comment above it"
    assert set(raw) <= {*documented_keys(), "reminders"}


def test_environment_overrides_file(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[web]\nport = 9000\n[clinic]\nname = "A"\n', encoding="utf-8")
    settings = load_settings(
        config, environ={"SURVEIL_WEB_PORT": "9100", "SURVEIL_WEB_HTTPS_ONLY": "true"}
    )
    assert settings.web.port == 9100
    assert settings.web.https_only is True
    assert settings.clinic.name == "A"


def test_secret_from_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cret-value\n", encoding="utf-8")
    config = tmp_path / "c.toml"
    config.write_text(f'[smtp]\npassword_file = "{secret}"\n', encoding="utf-8")
    assert load_settings(config, environ={}).smtp.password == "s3cret-value"
    env = {"SURVEIL_WEB_SECRET_KEY_FILE": str(secret)}
    assert load_settings(None, environ=env).web.secret_key == "s3cret-value"


def test_every_error_reported_at_once(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        '[web]\nport = "eighty"\ncolour = "blue"\n[clinic]\ntimezone = "Mars/Olympus"\n'
        '[database]\nurl = "mysql://x"\n[smtp]\nsecurity = "maybe"\n[nonsense]\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(config, environ={"SURVEIL_DAEMON_BATCH_SIZE": "-3"})
    fields = {p.field for p in caught.value.problems}
    assert {
        "web.port",
        "web.colour",
        "clinic.timezone",
        "database.url",
        "smtp.security",
        "nonsense",
        "daemon.batch_size",
    } <= fields


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_invalid_config_exits_2_from_cli(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from surveil.cli import _register, cli

    _register()
    config = tmp_path / "c.toml"
    config.write_text('[web]\nport = "x"\n[clinic]\ntimezone = "Nowhere"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config), "init"])
    assert result.exit_code == 2
    assert "web.port" in result.output and "clinic.timezone" in result.output


def test_default_patient_facing_name_does_not_disclose_the_diagnosis() -> None:
    from surveil.config import Settings
    from surveil.services.reminders.sending import clinic

    name = clinic(Settings()).name.lower()
    for word in ("neuroendocrine", "tumour", "tumor", "cancer", "oncology", "net "):
        assert word not in f"{name} ", word


def test_the_public_url_is_configured_or_the_address_served_on() -> None:
    from surveil.cli.serve import served_settings

    default = load_settings(None, environ={})
    assert default.web.public_url == "http://127.0.0.1:8000"
    moved = load_settings(None, environ={"SURVEIL_WEB_PORT": "8123"})
    assert moved.web.public_url == "http://127.0.0.1:8123"
    assert served_settings(default, host=None, port=9001).web.public_url == "http://127.0.0.1:9001"
    assert served_settings(default, host="::1", port=9001).web.public_url == "http://[::1]:9001"
    proxied = load_settings(None, environ={"SURVEIL_WEB_BASE_URL": "https://fu.example.org/"})
    # Behind a proxy the configured address stands, whatever port surveil itself listens on.
    assert served_settings(proxied, host=None, port=9001).web.public_url == "https://fu.example.org"
    with pytest.raises(ConfigError) as refused:
        load_settings(None, environ={"SURVEIL_WEB_BASE_URL": "fu.example.org"})
    assert "web.base_url" in str(refused.value)
