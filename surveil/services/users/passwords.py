"""Changing passwords: a user's own change, the forced change after an administrator's reset,
and the reset itself. Each is an audited entry point; none ever audits or logs a password or hash.

When a password changes, every session of that user must end (ASVS 7.4.3): the entry points call
``end_all_sessions_for_user`` in their transaction. It is a thin hook for now: on this branch
sessions are signed cookies that nothing on the server can revoke; the server-side session table
(branch sec21a) gives it a body (delete the user's session rows), wired at merge.
"""

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, select

from surveil.db import models as m
from surveil.db.session import session_scope
from surveil.errors import InvalidInput, NotFound, PermissionDenied, Problem
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.entry import change
from surveil.services.users import accounts, web_sessions
from surveil.services.users.admin import Account
from surveil.services.users.password_policy import password_problems


def end_all_sessions_for_user(session: Session, *, user_id: int, reason: str) -> None:
    """End every open session of ``user_id`` inside the caller's transaction (``reason`` says
    why, kept on the ended sessions): a new password signs out every copy of every cookie."""
    web_sessions.end_all(session, user_id=user_id, now=dt.datetime.now(dt.UTC), reason=reason)


@dataclass(frozen=True)
class NewPassword:
    """A new password as typed twice on a form (``confirm`` None: the CLI asked twice itself)."""

    password: str | None
    confirm: str | None = None


@change("user.password_changed")
def change_password(
    engine: sa.Engine, *, actor: Actor, current_password: str, new: NewPassword
) -> Account:
    """The actor changes their own password, proving the current one (ASVS 6.2.3). Every
    problem is reported at once: a wrong current password, a weak or mistyped new one."""
    with session_scope(engine) as session:
        user = _user_of(session, actor)
        problems: list[Problem] = []
        if not accounts.verify_password(user.password_hash, current_password or ""):
            problems.append(Problem("current_password", "is not your current password"))
        problems += _new_password_problems(user, new)
        if not problems and new.password == current_password:
            problems.append(Problem("new_password", "must differ from the current password"))
        if problems:
            raise InvalidInput(problems, what="password")
        return _store(session, actor, user, new, forced=False)


@change("user.password_changed")
def choose_new_password(engine: sa.Engine, *, actor: Actor, new: NewPassword) -> Account:
    """The forced change at login after an administrator's reset: the actor has just proved the
    temporary password (and their second factor), so it is not asked again. Refused for an
    account that is not waiting for a new password."""
    with session_scope(engine) as session:
        user = _user_of(session, actor)
        if not user.must_change_password:
            raise PermissionDenied("change your password on the account page (/account/password)")
        problems = _new_password_problems(user, new)
        if not problems and accounts.verify_password(user.password_hash, new.password or ""):
            problems.append(Problem("new_password", "must differ from the temporary password"))
        if problems:
            raise InvalidInput(problems, what="password")
        return _store(session, actor, user, new, forced=True)


@change("user.password_reset")
def reset_password(
    engine: sa.Engine,
    *,
    actor: Actor,
    temporary_password: str | None,
    user_id: int | None = None,
    username: str | None = None,
) -> Account:
    """An administrator gives ``user`` a temporary password that must be changed at their next
    login (the second factor is still asked). Their open sessions end."""
    if not actor.is_admin:
        raise PermissionDenied(
            f"only an administrator can reset passwords ({actor.username} is {actor.role})"
        )
    with session_scope(engine) as session:
        user = _find(session, user_id=user_id, username=username)
        problems = password_problems(temporary_password, username=user.username)
        if problems:
            raise InvalidInput(problems, what="password")
        assert temporary_password is not None and user.id is not None
        user.password_hash = accounts.hash_password(temporary_password)
        user.must_change_password = True
        session.add(user)
        end_all_sessions_for_user(session, user_id=user.id, reason="password reset")
        audit(
            session,
            actor=actor,
            action="user.password_reset",
            subject=f"user:{user.id}",
            after={"must_change_password": True},
            detail=user.username,
        )
        return Account.of(user)


def _new_password_problems(user: m.User, new: NewPassword) -> list[Problem]:
    problems = password_problems(new.password, username=user.username, field="new_password")
    if new.confirm is not None and new.confirm != new.password:
        problems.append(Problem("confirm_password", "does not match the new password"))
    return problems


def _store(
    session: Session, actor: Actor, user: m.User, new: NewPassword, *, forced: bool
) -> Account:
    assert new.password is not None and user.id is not None
    user.password_hash = accounts.hash_password(new.password)
    user.must_change_password = False
    session.add(user)
    end_all_sessions_for_user(session, user_id=user.id, reason="password changed")
    audit(
        session,
        actor=actor,
        action="user.password_changed",
        subject=f"user:{user.id}",
        detail="after an administrator's reset" if forced else "",
    )
    return Account.of(user)


def _user_of(session: Session, actor: Actor) -> m.User:
    user = session.exec(select(m.User).where(m.User.username == actor.username)).first()
    if user is None or not user.active:
        raise PermissionDenied(f"{actor.username}: no active surveil user of that name")
    return user


def _find(session: Session, *, user_id: int | None, username: str | None) -> m.User:
    if user_id is not None:
        user = session.get(m.User, user_id)
        if user is None:
            raise NotFound(f"no user with id {user_id}")
        return user
    name = (username or "").strip().lower()
    found = session.exec(select(m.User).where(m.User.username == name)).first()
    if found is None:
        raise NotFound(f"no user called {username!r}")
    return found
