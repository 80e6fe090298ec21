"""Managing accounts: the entry points that add, deactivate and reactivate users.

Each opens its own transaction, checks that the actor is an administrator, changes the account
and records the audit event in that same transaction (``accounts.add_user``/``set_active`` are
the building blocks). They return an ``Account``: plain data a shell can print after the
transaction has closed.

The one change made without a named actor is the very first account: on an empty registry
there is nobody to act as, so ``add_first_admin`` lets the operating-system account that ran
the command create an administrator, and refuses as soon as any account exists.
"""

import dataclasses
import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, select

from surveil.core.vocab import Channel
from surveil.db import models as m
from surveil.db.session import read_scope, session_scope
from surveil.errors import NotFound, PermissionDenied
from surveil.services.actor import Actor
from surveil.services.entry import change
from surveil.services.users import accounts


@dataclass(frozen=True)
class Account:
    """An account as shells show it: everything but the password hash."""

    id: int
    username: str
    display_name: str
    role: str
    clinic: str
    email: str | None
    active: bool
    created_at: dt.datetime

    @classmethod
    def of(cls, user: m.User) -> "Account":
        assert user.id is not None, "an account is shown once it is stored"
        return cls(
            id=user.id,
            username=user.username,
            display_name=user.display_name,
            role=user.role,
            clinic=user.clinic,
            email=user.email,
            active=user.active,
            created_at=user.created_at,
        )


@change("user.added")
def add_account(
    engine: sa.Engine,
    *,
    actor: Actor,
    username: str | None,
    display_name: str | None,
    role: str | None,
    clinic: str | None,
    password: str | None,
    email: str | None = None,
) -> Account:
    """Create an account (every field checked at once; a taken username is a Conflict)."""
    _require_admin(actor, "add users")
    with session_scope(engine) as session:
        user = accounts.add_user(
            session,
            username=username,
            display_name=display_name,
            role=role,
            clinic=clinic,
            password=password,
            actor=actor,
            email=email,
        )
        return Account.of(user)


@change("user.added")
def add_first_admin(
    engine: sa.Engine,
    *,
    os_user: str,
    channel: Channel,
    username: str | None,
    display_name: str | None,
    role: str | None,
    clinic: str | None,
    password: str | None,
    email: str | None = None,
) -> Account:
    """The first administrator of an empty registry, added by whoever runs the command.

    Audited as surveil itself with the operating-system account, since no surveil user exists
    yet. Refused once any account exists (then an administrator adds users with ``--as``), and
    for any role but admin (the first account is the one that adds the others). The emptiness
    check and the insert share one transaction."""
    with session_scope(engine) as session:
        if _has_accounts(session):
            raise PermissionDenied(
                "say which surveil user you are: --as USER or SURVEIL_USER=USER (an account "
                "can be added without one only on an empty registry)"
            )
        if role != m.Role.ADMIN:
            raise PermissionDenied(
                "the first account must be an administrator (--role admin): it adds the others"
            )
        bootstrap = dataclasses.replace(Actor.system(channel), os_user=os_user)
        user = accounts.add_user(
            session,
            username=username,
            display_name=display_name,
            role=role,
            clinic=clinic,
            password=password,
            actor=bootstrap,
            email=email,
        )
        return Account.of(user)


@change("user.activated", "user.deactivated")
def set_account_active(
    engine: sa.Engine,
    *,
    actor: Actor,
    active: bool,
    user_id: int | None = None,
    username: str | None = None,
) -> Account:
    """Deactivate (or reactivate) the account with ``user_id`` (web) or ``username`` (CLI).
    Deactivation ends the user's sessions at once; nobody deactivates themselves."""
    _require_admin(actor, "deactivate or reactivate users")
    with session_scope(engine) as session:
        found = _find(session, user_id=user_id, username=username)
        assert found.id is not None
        user = accounts.set_active(session, user_id=found.id, active=active, actor=actor)
        return Account.of(user)


def list_accounts(engine: sa.Engine, *, clinic: str | None = None) -> list[Account]:
    """Every account (of ``clinic``), active first. Not audited: no patient data, and it is
    how an operator finds the name to pass to ``--as``."""
    with read_scope(engine) as session:
        return [Account.of(user) for user in accounts.list_users(session, clinic=clinic)]


def has_accounts(engine: sa.Engine) -> bool:
    """Whether any account exists (an empty registry lets its first admin in without one)."""
    with read_scope(engine) as session:
        return _has_accounts(session)


def _require_admin(actor: Actor, what: str) -> None:
    if not actor.is_admin:
        raise PermissionDenied(
            f"only an administrator can {what} ({actor.username} is {actor.role})"
        )


def _has_accounts(session: Session) -> bool:
    return session.exec(select(m.User.id).limit(1)).first() is not None


def _find(session: Session, *, user_id: int | None, username: str | None) -> m.User:
    if user_id is not None:
        user = accounts.get_user(session, user_id=user_id)
        if user is None:
            raise NotFound(f"no user with id {user_id}")
        return user
    name = (username or "").strip().lower()
    user = session.exec(select(m.User).where(m.User.username == name)).first()
    if user is None:
        raise NotFound(f"no user called {username!r}")
    return user
