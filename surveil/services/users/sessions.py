"""Signing in and out of the web app, and the requests it turns away: the entry points that
record them.

A failed login is a write on purpose: the attempt is counted (login throttling reads the
``login_attempt`` table) and audited, and both are committed before the refusal reaches the
caller. A refusal of access (another clinic's patient, a forged form) is audited in a
transaction of its own, because the request's own work was rolled back with the error.
"""

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from surveil.config import SecuritySettings, WebSettings
from surveil.db import models as m
from surveil.db.session import read_scope, session_scope
from surveil.errors import InvalidInput, Problem
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.entry import change
from surveil.services.users import accounts, totp, web_sessions
from surveil.services.users.admin import Account

REFUSALS = ("access.denied", "csrf.rejected")


@dataclass(frozen=True)
class SignedIn(Account):
    """The account, and the id of the server-side session opened for it (the cookie's value;
    only its hash is stored)."""

    session_token: str = ""
    next_step: str | None = None  # what the login still needs before its session starts


@change("login.succeeded", "login.failed")
def log_in(
    engine: sa.Engine,
    *,
    username: str,
    password: str,
    ip: str,
    now: dt.datetime,
    settings: WebSettings,
    user_agent: str = "",
    previous_session: str | None = None,
    security: SecuritySettings | None = None,
) -> SignedIn:
    """The account these credentials open, with a new server-side session (the one the
    browser had before ends), or ``accounts.LoginRefused`` once the failed attempt is stored:
    a refusal must still count towards the throttle. With ``security`` (the web login), a user who
    still owes a step (a second-factor code, its set-up, a new password) gets no session: the
    result names the step, its ``session_token`` is empty, and ``complete_login`` opens the
    session once the step is done."""
    refused: accounts.LoginRefused | None = None
    with session_scope(engine) as session:
        try:
            user = accounts.authenticate(
                session, username=username, password=password, ip=ip, now=now, settings=settings
            )
        except accounts.LoginRefused as error:
            refused = error  # leave the block normally, so the attempt is committed
        else:
            assert user.id is not None
            step = totp.step_for(session, user, security) if security is not None else None
            if step is not None:
                return SignedIn(**vars(Account.of(user)), next_step=step)
            token = web_sessions.start(
                session,
                user_id=user.id,
                now=now,
                idle=dt.timedelta(minutes=settings.session_minutes),
                user_agent=user_agent,
                address=ip,
                previous=previous_session,
            )
            return SignedIn(**vars(Account.of(user)), session_token=token)
    assert refused is not None
    raise refused


@change("login.completed")
def complete_login(
    engine: sa.Engine,
    *,
    user_id: int,
    ip: str,
    now: dt.datetime,
    settings: WebSettings,
    user_agent: str = "",
    previous_session: str | None = None,
) -> str:
    """Open the server-side session of a login whose password (and, where required, second
    factor and new password) were accepted; the browser's session from before ends. Returns the
    new id for the cookie. Refused for an account that was deactivated meanwhile."""
    with session_scope(engine) as session:
        user = accounts.get_user(session, user_id=user_id)
        if user is None or not user.active:
            raise InvalidInput(Problem("user", "this account cannot sign in"))
        token = web_sessions.start(
            session,
            user_id=user_id,
            now=now,
            idle=dt.timedelta(minutes=settings.session_minutes),
            user_agent=user_agent,
            address=ip,
            previous=previous_session,
        )
        audit(session, actor=Actor.of(user, ip=ip), action="login.completed", ip=ip)
        return token


@change("logout")
def log_out(engine: sa.Engine, *, actor: Actor, session_token: str | None = None) -> None:
    """``actor`` signs out: their server-side session ends for every copy of its cookie (the
    shell also clears the cookie in the browser)."""
    with session_scope(engine) as session:
        if session_token:
            now = dt.datetime.now(dt.UTC)
            web_sessions.end_by_token(session, token=session_token, now=now, reason="logout")
        audit(session, actor=actor, action="logout")


@change(*REFUSALS)
def record_refusal(
    engine: sa.Engine,
    *,
    action: str,
    user_id: int | None,
    ip: str,
    patient_id: int | None = None,
    detail: str = "",
) -> None:
    """Audit a refused request (ASVS 16.3.2) under the signed-in user's name, or "-" when
    nobody is signed in."""
    if action not in REFUSALS:
        raise InvalidInput(Problem("action", f"{action!r} is not one of {', '.join(REFUSALS)}"))
    with session_scope(engine) as session:
        user = accounts.get_user(session, user_id=user_id)
        who: Actor | str = Actor.of(user, ip=ip) if user is not None else "-"
        audit(session, actor=who, action=action, patient_id=patient_id, detail=detail, ip=ip)


def signed_in_user(engine: sa.Engine, *, user_id: int | None) -> m.User | None:
    """The active account behind a session, detached so it can be shown after its read-only
    transaction has ended (an error page keeps its navigation)."""
    if user_id is None:
        return None
    with read_scope(engine) as session:
        user = accounts.get_user(session, user_id=user_id)
        if user is None or not user.active:
            return None
        session.expunge(user)  # the rollback that ends a read scope would expire it
        return user
