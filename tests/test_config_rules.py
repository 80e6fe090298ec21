"""Settings beyond their types: every number has a range, unknown keys and environment variables
are refused, the SMS header is checked at load, and the session key must be a real one."""

import dataclasses
import re
import typing
from pathlib import Path

import pytest

from surveil.config import SECTIONS, load_settings
from surveil.config_rules import BOUNDS, MIN_SECRET_KEY_LENGTH, secret_key_problems
from surveil.errors import ConfigError
from surveil.transports.sms import WebhookSmsTransport

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"
GOOD_KEY = "k" * 20 + "0123456789ABCDEFghij-_"


def problems_of(text: str, tmp_path: Path, environ: dict[str, str] | None = None) -> set[str]:
    config = tmp_path / "c.toml"
    config.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(config, environ=environ or {})
    return {str(p) for p in caught.value.problems}


def test_every_numeric_setting_has_a_range() -> None:
    numeric = {
        (section, f.name)
        for section, cls in SECTIONS.items()
        for f in dataclasses.fields(cls)
        if typing.get_type_hints(cls)[f.name] in (int, float)
    }
    assert numeric == set(BOUNDS)


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("web", "login_attempts", "0"),
        ("worklist", "page_size", "0"),
        ("web", "port", "99999"),
        ("smtp", "port", "0"),
        ("web", "session_minutes", "100000"),
        ("daemon", "max_attempts", "0"),
        ("sms", "timeout_seconds", "0"),
        ("feeds", "refresh_hours", "-1"),
    ],
)
def test_out_of_range_values_are_refused(
    section: str, key: str, value: str, tmp_path: Path
) -> None:
    found = problems_of(f"[{section}]\n{key} = {value}\n", tmp_path)
    assert any(p.startswith(f"{section}.{key}: {value} is outside") for p in found), found


@pytest.mark.parametrize("edge", ["low", "high"])
def test_the_edges_of_each_range_are_accepted(edge: str, tmp_path: Path) -> None:
    lines: dict[str, list[str]] = {}
    for (section, key), bound in BOUNDS.items():
        lines.setdefault(section, []).append(f"{key} = {getattr(bound, edge)!r}")
    config = tmp_path / "c.toml"
    config.write_text(
        "".join(f"[{s}]\n" + "\n".join(keys) + "\n" for s, keys in lines.items()),
        encoding="utf-8",
    )
    settings = load_settings(config, environ={})
    assert settings.web.port == (1 if edge == "low" else 65535)


def test_unknown_keys_name_their_section(tmp_path: Path) -> None:
    found = problems_of("[worklist]\npagesize = 20\n[reminders]\nsend_at = '09:00'\n", tmp_path)
    assert any(p.startswith("worklist.pagesize: unknown key") for p in found), found
    assert any(p.startswith("reminders.send_at: unknown setting") for p in found), found


@pytest.mark.usefixtures("tmp_path")
def test_a_misspelt_environment_variable_is_refused() -> None:
    environ = {
        "SURVEIL_WEB_SECRETKEY": GOOD_KEY,  # typo: would silently leave the key unset
        "SURVEIL_SMTP_PASSWORD_FILE": "/nonexistent",  # a real one (fails as unreadable)
        "SURVEIL_USER": "nina",  # not a setting at all: not ours to judge
    }
    with pytest.raises(ConfigError) as caught:
        load_settings(None, environ=environ)
    fields = {p.field for p in caught.value.problems}
    assert fields == {"SURVEIL_WEB_SECRETKEY", "smtp.password_file"}


@pytest.mark.parametrize("header", ["Bearer abc", "Authorization:", ": x", "Auth orization: x"])
def test_a_malformed_sms_header_is_refused_at_load_without_quoting_it(
    header: str, tmp_path: Path
) -> None:
    found = problems_of(f'[sms]\nauth_header = "{header}"\n', tmp_path)
    assert len(found) == 1 and next(iter(found)).startswith("sms.auth_header:")
    if header.strip(": "):
        assert header.strip(": ") not in next(iter(found))


@pytest.mark.usefixtures("tmp_path")
def test_a_header_with_a_line_break_is_refused() -> None:
    environ = {"SURVEIL_SMS_AUTH_HEADER": "Authorization: Bearer x\r\nX-Evil: 1"}
    with pytest.raises(ConfigError, match="control characters"):
        load_settings(None, environ=environ)


def test_the_example_header_in_config_example_works(tmp_path: Path) -> None:
    """The form config.example.toml shows loads, and the SMS transport accepts it (the old
    example, "Bearer abc", crashed the daemon at start)."""
    found = re.search(r'^# auth_header = "([^"]+)"$', EXAMPLE.read_text(), re.MULTILINE)
    assert found, "config.example.toml shows no auth_header example"
    config = tmp_path / "c.toml"
    config.write_text(f'[sms]\nurl = "https://sms.example"\nauth_header = "{found[1]}"\n')
    settings = load_settings(config, environ={})
    transport = WebhookSmsTransport(url=settings.sms.url, auth_header=settings.sms.auth_header)
    transport.close()


def test_addresses_must_be_http(tmp_path: Path) -> None:
    found = problems_of('[web]\nbase_url = "ftp://x"\n[sms]\nurl = "sms.example/send"\n', tmp_path)
    assert {p.split(":")[0] for p in found} == {"web.base_url", "sms.url"}


# --------------------------------------------------------------------------- the signing key


@pytest.mark.parametrize(
    "key", ["", "   ", "dev-only-change-me", "please-CHANGE-ME-" + "x" * 40, "short-but-random-7Gq"]
)
def test_weak_secret_keys_are_refused(key: str) -> None:
    (problem,) = secret_key_problems(key)
    assert problem.field == "web.secret_key"
    assert "surveil secret generate" in problem.message
    if key.strip():
        assert key not in problem.message


def test_the_key_is_required_only_by_the_commands_that_sign_cookies() -> None:
    assert load_settings(None, environ={}).web.secret_key == ""
    with pytest.raises(ConfigError, match=r"web\.secret_key: is not set"):
        load_settings(None, environ={}, require_secret_key=True)
    environ = {"SURVEIL_WEB_SECRET_KEY": "x" * (MIN_SECRET_KEY_LENGTH - 1)}
    with pytest.raises(ConfigError, match="shorter than 32"):
        load_settings(None, environ=environ, require_secret_key=True)
    environ = {"SURVEIL_WEB_SECRET_KEY": GOOD_KEY}
    assert load_settings(None, environ=environ, require_secret_key=True).web.secret_key == GOOD_KEY


def test_the_key_problem_comes_with_every_other_problem(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[web]\nsecret_key = "dev-only-change-me"\nport = 0\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(config, environ={}, require_secret_key=True)
    assert {p.field for p in caught.value.problems} == {"web.secret_key", "web.port"}


def test_a_bad_reminder_cadence_is_refused_at_load_with_its_key(tmp_path: Path) -> None:
    found = problems_of(
        "[reminders]\ndays_before_window = [14, 0]\nrepeats = 11\nrepeat_every_days = 0\n",
        tmp_path,
    )
    fields = {p.split(":")[0] for p in found}
    assert fields == {
        "reminders.days_before_window", "reminders.repeats", "reminders.repeat_every_days"
    }, found  # fmt: skip
    config = tmp_path / "good.toml"
    config.write_text("[reminders]\ndays_before_window = [3, 14]\nrepeats = 2\n", encoding="utf-8")
    assert load_settings(config, environ={}).reminders["repeats"] == 2
