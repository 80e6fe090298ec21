"""``surveil user password`` and ``surveil user reset-second-factor`` (issue 21), on both
backends: each leaves its audit row with the CLI channel and the OS account; refusals leave none."""

import datetime as dt
import getpass
from pathlib import Path

import pyotp
import sqlalchemy as sa
from click.testing import CliRunner
from sqlmodel import Session, select

from surveil.cli import cli
from surveil.config import WebSettings
from surveil.core.vocab import Channel
from surveil.db import models as m
from surveil.db.second_factor import SecondFactor
from surveil.services.actor import Actor
from surveil.services.users import sessions, totp
from surveil.services.users.accounts import LoginRefused
from tests.cli.acting import CLINIC, PASSPHRASE, Invoke, add_account

SHELL_COVERED: frozenset[str] = frozenset({"user password", "user reset-second-factor"})
NOT_AUDITED: dict[str, str] = {}
WEB = WebSettings(secret_key="x" * 40)
NEW = "my own new passphrase"


def rows(engine: sa.Engine, since: int = 0) -> list[tuple[str, str, str, str | None]]:
    with Session(engine) as session:
        query = select(m.AuditEvent).where(m.AuditEvent.id > since).order_by(m.AuditEvent.id)
        return [(e.action, e.actor, e.channel, e.os_user) for e in session.exec(query)]


def last(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(sa.select(sa.func.max(m.AuditEvent.id))).scalar() or 0


def file_with(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text + "\n", encoding="utf-8")
    return str(path)


def test_own_change_and_admin_reset(fresh_cli: Invoke, engine: sa.Engine, tmp_path: Path) -> None:
    add_account(engine, "ada", role="admin", clinic=CLINIC)
    add_account(engine, "nina", role="navigator", clinic=CLINIC)
    me = getpass.getuser()
    start = last(engine)
    wrong = fresh_cli(
        "--as",
        "nina",
        "user",
        "password",
        "--current-password-file",
        file_with(tmp_path, "cur", "not it"),
        "--password-file",
        file_with(tmp_path, "new", "password"),
    )
    assert wrong.exit_code == 2
    assert "current_password: is not your current password" in wrong.output
    assert "new_password: must be at least 12 characters" in wrong.output
    assert rows(engine, start) == []
    # Asked interactively: current, then the new one twice.
    answers = f"{PASSPHRASE}\n{NEW}\n{NEW}\n"
    changed = CliRunner().invoke(cli, ["--as", "nina", "user", "password"], input=answers)
    assert changed.exit_code == 0, changed.output
    assert rows(engine, start) == [("user.password_changed", "nina", "cli", me)]
    sessions.log_in(engine, username="nina", password=NEW, ip="", now=_now(), settings=WEB)
    refused = fresh_cli(
        "--as",
        "nina",
        "user",
        "password",
        "ada",
        "--password-file",
        file_with(tmp_path, "t", "temporary passphrase"),
    )
    assert refused.exit_code == 2 and "only an administrator" in refused.output
    start = last(engine)
    reset = fresh_cli(
        "--as",
        "ada",
        "user",
        "password",
        "nina",
        "--password-file",
        file_with(tmp_path, "t2", "temporary passphrase"),
    )
    assert reset.exit_code == 0, reset.output
    assert rows(engine, start) == [("user.password_reset", "ada", "cli", me)]
    with Session(engine) as session:
        nina = session.exec(select(m.User).where(m.User.username == "nina")).one()
        assert nina.must_change_password
    try:
        sessions.log_in(engine, username="nina", password=NEW, ip="", now=_now(), settings=WEB)
    except LoginRefused:
        pass
    else:
        raise AssertionError("the old password still worked after the reset")


def test_reset_second_factor(fresh_cli: Invoke, engine: sa.Engine) -> None:
    add_account(engine, "ada", role="admin", clinic=CLINIC)
    add_account(engine, "carl", role="clinician", clinic=CLINIC)
    carl = Actor(username="carl", role="clinician", clinic=CLINIC, channel=Channel.CLI)
    started = totp.start_enrolment(engine, actor=carl, issuer="t")
    now = _now()
    totp.confirm_enrolment(engine, actor=carl, code=pyotp.TOTP(started.secret).at(now), now=now)
    start = last(engine)
    assert fresh_cli("--as", "carl", "user", "reset-second-factor", "carl").exit_code == 2
    assert fresh_cli("--as", "ada", "user", "reset-second-factor", "nobody").exit_code != 0
    assert rows(engine, start) == []
    done = fresh_cli("--as", "ada", "user", "reset-second-factor", "carl")
    assert done.exit_code == 0, done.output
    assert rows(engine, start) == [("second_factor.reset", "ada", "cli", getpass.getuser())]
    with Session(engine) as session:
        assert not list(session.exec(select(SecondFactor)))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
