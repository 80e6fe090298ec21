"""Server-side sessions (issue 21, point 1), on SQLite and PostgreSQL: the entry points that end
sessions with their audit rows, and the building blocks the web shell uses. Only the hash of a
session id is stored; an ended session never comes back."""

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from surveil.config import SecuritySettings, WebSettings
from surveil.db import models as m
from surveil.errors import InvalidInput, NotFound, PermissionDenied
from surveil.services.users import admin, sessions, web_sessions
from tests.services.test_one_way_in_accounts import (
    ADA,
    NINA,
    SAM,
    World,
    audited,
    nothing_written,
    world,
)
from tests.web.seed import PASSWORD

__all__ = ["world"]  # the fixture, shared with the accounts' one-way-in tests

COVERED: frozenset[str] = frozenset(
    {
        "surveil.services.users.web_sessions.end_session",
        "surveil.services.users.web_sessions.end_all_for_user",
    }
)

WEB = WebSettings(secret_key="x" * 40, session_minutes=30)
IDLE = dt.timedelta(minutes=30)


def sign_in(engine: sa.Engine, *, previous: str | None = None) -> sessions.SignedIn:
    now = dt.datetime.now(dt.UTC)
    return sessions.log_in(engine, username="nina", password=PASSWORD, ip="10.0.0.7", now=now,
                           settings=WEB, user_agent="Mozilla/5.0 (X11; Linux x86_64) "
                           "Gecko/20100101 Firefox/133.0", previous_session=previous)  # fmt: skip


def is_open(engine: sa.Engine, token: str) -> bool:
    return web_sessions.open_session(engine, token=token, now=dt.datetime.now(dt.UTC)) is not None


def test_login_opens_a_session_stored_only_as_a_hash(engine: sa.Engine, world: World) -> None:
    now = dt.datetime.now(dt.UTC)
    before_login = web_sessions.create_anonymous(
        engine, data={"csrf": "c"}, now=now, idle=IDLE, user_agent="curl/8", address="10.0.0.7"
    )
    signed = sign_in(engine, previous=before_login)
    assert signed.id == world.nina and is_open(engine, signed.session_token)
    assert not is_open(engine, before_login)  # the login form's session ends at login
    with Session(engine) as session:
        hashes = set(session.exec(select(m.WebSession.id_hash)))
        row = session.exec(select(m.WebSession).where(m.WebSession.user_id == world.nina)).one()
    assert signed.session_token not in str(hashes)
    assert web_sessions.hash_token(signed.session_token) in hashes
    assert (row.user_agent, row.address) == ("Firefox on Linux", "10.0.0.7")
    assert row.absolute_expires_at - row.created_at == dt.timedelta(hours=12)


def test_a_login_with_further_steps_opens_its_session_only_when_completed(
    engine: sa.Engine, world: World
) -> None:
    now = dt.datetime.now(dt.UTC)
    before_login = web_sessions.create_anonymous(
        engine, data={"csrf": "c"}, now=now, idle=IDLE, user_agent="curl/8", address="10.0.0.7"
    )
    strict = SecuritySettings(totp_for_navigators=True)  # nina must set up a second factor
    checked = sessions.log_in(engine, username="nina", password=PASSWORD, ip="10.0.0.7",
                              now=now, settings=WEB, previous_session=before_login,
                              security=strict)  # fmt: skip
    assert (checked.id, checked.session_token, checked.next_step) == (world.nina, "", "enrol")
    assert is_open(engine, before_login)  # the password alone opens nothing
    with audited(engine, [("login.completed", "nina", "web", None, None)]):
        token = sessions.complete_login(engine, user_id=world.nina, ip="10.0.0.7", now=now,
                                        settings=WEB, previous_session=before_login)  # fmt: skip
    assert is_open(engine, token) and not is_open(engine, before_login)
    admin.set_account_active(engine, actor=ADA, user_id=world.nina, active=False)
    with nothing_written(engine), pytest.raises(InvalidInput):
        sessions.complete_login(engine, user_id=world.nina, ip="10.0.0.7", now=now,
                                settings=WEB)  # fmt: skip


@pytest.mark.usefixtures("world")
def test_logout_ends_the_session_for_every_copy_of_the_cookie(engine: sa.Engine) -> None:
    signed = sign_in(engine)
    with audited(engine, [("logout", "nina", "web", None, None)]):
        sessions.log_out(engine, actor=NINA, session_token=signed.session_token)
    assert not is_open(engine, signed.session_token)
    # Nothing writes an ended session back to life.
    now = dt.datetime.now(dt.UTC)
    assert not web_sessions.save(engine, token=signed.session_token, data={"x": 1}, now=now,
                                 idle=IDLE)  # fmt: skip
    assert not is_open(engine, signed.session_token)


def test_deactivation_ends_sessions_and_reactivation_does_not_revive_them(
    engine: sa.Engine, world: World
) -> None:
    first, second = sign_in(engine), sign_in(engine)
    admin.set_account_active(engine, actor=ADA, user_id=world.nina, active=False)
    assert not is_open(engine, first.session_token) and not is_open(engine, second.session_token)
    admin.set_account_active(engine, actor=ADA, user_id=world.nina, active=True)
    assert not is_open(engine, first.session_token) and not is_open(engine, second.session_token)
    assert is_open(engine, sign_in(engine).session_token)  # a new login works


@pytest.mark.usefixtures("world")
def test_idle_and_absolute_expiry(engine: sa.Engine) -> None:
    token = sign_in(engine).session_token
    start = dt.datetime.now(dt.UTC)
    assert web_sessions.open_session(
        engine, token=token, now=start + IDLE - dt.timedelta(seconds=5)
    )
    assert (
        web_sessions.open_session(engine, token=token, now=start + IDLE + dt.timedelta(seconds=5))
        is None
    )
    # Kept busy, the session still ends 12 hours after login.
    for hours in range(1, 12):
        at = start + dt.timedelta(hours=hours)
        assert web_sessions.save(engine, token=token, data={}, now=at, idle=IDLE)
        assert web_sessions.open_session(engine, token=token, now=at)
    late = start + dt.timedelta(hours=12, minutes=1)
    assert web_sessions.save(
        engine, token=token, data={}, now=late - dt.timedelta(minutes=2), idle=IDLE
    )
    assert web_sessions.open_session(engine, token=token, now=late) is None


def test_end_session_signs_out_one_of_your_own(engine: sa.Engine, world: World) -> None:
    kept, ended = sign_in(engine), sign_in(engine)
    target = next(
        view.id for view in web_sessions.list_for_user(engine, user_id=world.nina)
        if view.id != session_id(engine, kept.session_token)
    )  # fmt: skip
    assert target == session_id(engine, ended.session_token)
    with audited(engine, [("session.ended", "nina", "web", None, f"session:{target}")]):
        web_sessions.end_session(engine, actor=NINA, user_id=world.nina, session_id=target)
    assert is_open(engine, kept.session_token) and not is_open(engine, ended.session_token)
    # Somebody else's session, or one already ended, is "not found" and nothing changes.
    other = session_id(engine, kept.session_token)
    with nothing_written(engine), pytest.raises(NotFound):
        web_sessions.end_session(engine, actor=SAM, user_id=world.nina + 1000, session_id=other)
    with nothing_written(engine), pytest.raises(NotFound):
        web_sessions.end_session(engine, actor=NINA, user_id=world.nina, session_id=target)


def test_an_admin_signs_a_user_out_everywhere(engine: sa.Engine, world: World) -> None:
    tokens = [sign_in(engine).session_token for _ in range(3)]
    expected = [("sessions.ended", "ada", "cli", None, f"user:{world.nina}")]
    with audited(engine, expected) as rows:
        ended = web_sessions.end_all_for_user(
            engine, actor=ADA, user_id=world.nina, reason="lost laptop"
        )
    assert ended == 3 and not any(is_open(engine, token) for token in tokens)
    assert rows[0].after == '{"sessions_ended": 3}'
    # A navigator cannot sign somebody else out; an unknown user is not found.
    with nothing_written(engine), pytest.raises(PermissionDenied):
        web_sessions.end_all_for_user(engine, actor=SAM, user_id=world.nina, reason="x")
    with nothing_written(engine), pytest.raises(NotFound):
        web_sessions.end_all_for_user(engine, actor=ADA, user_id=world.nina + 1000, reason="x")


def session_id(engine: sa.Engine, token: str) -> int:
    opened = web_sessions.open_session(engine, token=token, now=dt.datetime.now(dt.UTC))
    assert opened is not None
    return opened.id


def test_user_agents_are_summarised() -> None:
    iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Version/17.0 Safari/604.1"
    edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0 Safari/537.36 Edg/131.0"
    assert web_sessions.summarise_agent(iphone) == "Safari on iOS"
    assert web_sessions.summarise_agent(edge) == "Edge on Windows"
    assert web_sessions.summarise_agent("") == "a browser"


def test_a_user_signs_out_everywhere_but_here(engine: sa.Engine, world: World) -> None:
    here, elsewhere = sign_in(engine), sign_in(engine)
    kept = session_id(engine, here.session_token)
    expected = [("sessions.ended", "nina", "web", None, f"user:{world.nina}")]
    with audited(engine, expected):
        ended = web_sessions.end_all_for_user(
            engine, actor=NINA, user_id=world.nina, reason="signed out by user", keep=kept
        )
    assert ended == 1
    assert is_open(engine, here.session_token) and not is_open(engine, elsewhere.session_token)


def test_a_session_before_login_idles_out_after_an_hour(engine: sa.Engine) -> None:
    now = dt.datetime.now(dt.UTC)
    long_idle = dt.timedelta(hours=8)
    token = web_sessions.create_anonymous(engine, data={"csrf": "c"}, now=now, idle=long_idle)
    assert token is not None
    assert web_sessions.save(engine, token=token, data={"csrf": "d"}, now=now, idle=long_idle)
    hour = web_sessions.ANONYMOUS_IDLE
    opened = web_sessions.open_session(
        engine, token=token, now=now + hour - dt.timedelta(seconds=1)
    )
    assert opened is not None and opened.data == {"csrf": "d"}
    assert (
        web_sessions.open_session(engine, token=token, now=now + hour + dt.timedelta(seconds=1))
        is None
    )
