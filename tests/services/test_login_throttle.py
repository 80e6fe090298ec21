"""Login throttling that cannot be turned against users (issue 21, point 5), on SQLite and
PostgreSQL: one address posting wrong passwords is stopped without locking the user out from
elsewhere; the account-wide lock needs many addresses and spares the user's known ones; a
refusal by the throttle does not extend it."""

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.config import WebSettings
from surveil.db import models as m
from surveil.services.users import accounts, sessions
from tests.services.test_one_way_in_accounts import world
from tests.web.seed import PASSWORD

__all__ = ["world"]

WEB = WebSettings(secret_key="x" * 40, login_attempts=3, login_window_minutes=15)
START = dt.datetime(2026, 6, 10, 9, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)


def attempt(engine: sa.Engine, ip: str, at: dt.datetime, password: str = "wrong") -> str:
    """ "ok", "refused" (wrong password) or "throttled"."""
    try:
        sessions.log_in(engine, username="nina", password=password, ip=ip, now=at, settings=WEB)
    except accounts.LoginRefused as refused:
        return "throttled" if refused.throttled else "refused"
    return "ok"


@pytest.mark.usefixtures("world")
def test_one_address_cannot_lock_the_user_out_from_elsewhere(engine: sa.Engine) -> None:
    results = [attempt(engine, "198.51.100.66", START + i * MINUTE / 10) for i in range(24)]
    assert results[:3] == ["refused"] * 3 and set(results[3:]) == {"throttled"}
    # The attacker's address is held even with the right password...
    assert attempt(engine, "198.51.100.66", START + 3 * MINUTE, PASSWORD) == "throttled"
    # ...while nina, from her own workstation, signs in at once.
    assert attempt(engine, "10.0.0.7", START + 3 * MINUTE, PASSWORD) == "ok"


@pytest.mark.usefixtures("world")
def test_the_account_wide_lock_needs_many_addresses_and_spares_known_ones(
    engine: sa.Engine,
) -> None:
    assert attempt(engine, "10.0.0.7", START - 60 * MINUTE, PASSWORD) == "ok"  # her usual PC
    at = START
    for n in range(4):  # 4 addresses × 3 failures: 12 = login_attempts × WIDE_FACTOR
        for _ in range(5):  # the 2 extra posts of each are throttled and do not count
            attempt(engine, f"203.0.113.{n}", at)
            at += MINUTE / 10
    assert attempt(engine, "192.0.2.1", at) == "throttled"  # a new address: held
    assert attempt(engine, "10.0.0.7", at, PASSWORD) == "ok"  # a known address: not


@pytest.mark.usefixtures("world")
def test_three_addresses_do_not_make_an_account_wide_lock(engine: sa.Engine) -> None:
    at = START
    for n in range(3):
        for _ in range(20):
            attempt(engine, f"203.0.113.{n}", at)
            at += MINUTE / 20
    assert attempt(engine, "192.0.2.1", at, PASSWORD) == "ok"


@pytest.mark.usefixtures("world")
def test_a_refusal_by_the_throttle_does_not_extend_it(engine: sa.Engine) -> None:
    for i in range(3):
        assert attempt(engine, "198.51.100.66", START + i * MINUTE) == "refused"
    for i in range(3, 15):  # hammering on: every post refused by the throttle
        assert attempt(engine, "198.51.100.66", START + i * MINUTE) == "throttled"
    # 15 minutes after its last real failure the address may try again.
    assert attempt(engine, "198.51.100.66", START + 18 * MINUTE, PASSWORD) == "ok"


@pytest.mark.usefixtures("world")
def test_attempts_nothing_reads_any_more_are_forgotten_at_the_next_login(
    engine: sa.Engine,
) -> None:
    """The table keeps about a month (what the known-address rule reads); older attempts, of any
    user or of names nobody has, go at the next successful login. The audit trail keeps them."""
    long_ago = START - accounts.KEEP_ATTEMPTS - MINUTE
    assert attempt(engine, "10.0.0.7", long_ago, PASSWORD) == "ok"
    sessions_ago = START - accounts.KNOWN_ADDRESS + 60 * MINUTE
    assert attempt(engine, "10.0.0.8", sessions_ago, PASSWORD) == "ok"
    with engine.begin() as connection:
        connection.execute(
            sa.insert(m.LoginAttempt),
            [{"username": "nobody", "ip": "203.0.113.9", "at": long_ago, "success": False}],
        )
    assert attempt(engine, "198.51.100.1", START) == "refused"  # a failure purges nothing
    assert _attempts(engine) == [
        ("nina", long_ago, True), ("nina", sessions_ago, True),
        ("nobody", long_ago, False), ("nina", START, False),
    ]  # fmt: skip
    assert attempt(engine, "10.0.0.9", START + MINUTE, PASSWORD) == "ok"
    assert _attempts(engine) == [
        ("nina", sessions_ago, True), ("nina", START, False), ("nina", START + MINUTE, True),
    ]  # fmt: skip
    # The address from 29 days ago is still known: the account-wide lock spares it.
    with Session(engine) as session:  # the rule the purge must not break
        assert accounts._known_address(session, "nina", "10.0.0.8", START + MINUTE)
    with Session(engine) as session:
        logins = session.exec(
            select(m.AuditEvent).where(col(m.AuditEvent.action) == "login.succeeded")
        ).all()
    assert len(logins) == 3  # the trail remembers what the table forgot


def _attempts(engine: sa.Engine) -> list[tuple[str, dt.datetime, bool]]:
    with Session(engine) as session:
        rows = session.exec(select(m.LoginAttempt).order_by(col(m.LoginAttempt.id))).all()
    return [(r.username, _utc(r.at), r.success) for r in rows]


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
