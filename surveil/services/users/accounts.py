"""People who use surveil: accounts, passwords, login throttling, who may see which patient, and
the audit trail of what they did.

Passwords are hashed with argon2id (argon2-cffi's RFC 9106 defaults, above ASVS 11.4.2's floor).
Login throttling counts recent failures in the ``login_attempt`` table, so it survives restarts
and works across web workers; it is built so that nobody can use it to lock another user out
(``is_throttled``). Audit rows are written inside the caller's transaction: a change and
its audit event are committed together or not at all.
"""

import datetime as dt
import functools
import re

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func
from sqlmodel import Session, col, select

from surveil.config import WebSettings
from surveil.core.vocab import Channel
from surveil.db import models as m
from surveil.db.session import read_scope
from surveil.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Problem
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.users import web_sessions
from surveil.services.users.password_policy import (  # noqa: F401 (re-exported)
    MAX_PASSWORD,
    MIN_PASSWORD,
    password_problems,
)
from surveil.services.validate import Checker

_HASHER = PasswordHasher()
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
# An IP or an account that fails this many times the per-pair limit is throttled as a whole.
WIDE_FACTOR = 4


class LoginRefused(PermissionDenied):
    """A failed login. The message never says whether the username exists."""

    def __init__(self, message: str, *, throttled: bool) -> None:
        super().__init__(message)
        self.throttled = throttled


# --------------------------------------------------------------------------- passwords


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the username is unknown, so a wrong username costs as much time as a
    wrong password and timing does not reveal which accounts exist (ASVS 6.3.8).

    Made at the first failed lookup, not at import: hashing takes a fifth of a second, which every
    command would otherwise pay at start-up, whether or not anybody logs in."""
    return _HASHER.hash("surveil-timing-equaliser")


def prepare_login_timing() -> None:
    """Make the unknown-user hash now, so that even the first failed login after start-up takes as
    long as any other (the web app calls this as it starts)."""
    _dummy_hash()


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# --------------------------------------------------------------------------- accounts


def add_user(
    session: Session,
    *,
    username: str | None,
    display_name: str | None,
    role: str | None,
    clinic: str | None,
    password: str | None,
    actor: Actor | None = None,
    email: str | None = None,
) -> m.User:
    """Create an account after checking every field; a duplicate username is a Conflict."""
    check = Checker(today=dt.date.min, what="user")
    name = (username or "").strip().lower()
    if not _USERNAME.match(name):
        check.fail("username", "use 2–64 lowercase letters, digits, dots, dashes or underscores")
    shown = check.text("display_name", display_name or name, max_length=128)
    user_role = check.choice("role", role, m.Role)
    user_clinic = check.text("clinic", clinic, max_length=64)
    check.problems += password_problems(password, username=name)
    address = (email or "").strip() or None
    if address and ("@" not in address or " " in address or len(address) > 254):
        check.fail("email", f"{address!r} is not an email address")
    check.raise_if_problems()
    assert shown and user_role and user_clinic and password
    if session.exec(select(m.User.id).where(m.User.username == name)).first() is not None:
        raise Conflict(f"a user called {name!r} already exists")
    user = m.User(
        username=name,
        display_name=shown,
        role=user_role,
        clinic=user_clinic,
        password_hash=hash_password(password),
        email=address,
    )
    session.add(user)
    session.flush()
    audit(
        session,
        actor=actor or Actor.system(),
        action="user.added",
        subject=f"user:{user.id}",
        after={"username": name, "role": user_role, "clinic": user_clinic, "active": True},
        detail=f"{name} ({user_role}, {user_clinic})",
    )
    return user


def list_users(session: Session, *, clinic: str | None = None) -> list[m.User]:
    query = select(m.User).order_by(col(m.User.active).desc(), m.User.username)
    if clinic:
        query = query.where(m.User.clinic == clinic)
    return list(session.exec(query).all())


def get_user(session: Session, *, user_id: int | None) -> m.User | None:
    return session.get(m.User, user_id) if user_id is not None else None


def set_active(session: Session, *, user_id: int, active: bool, actor: Actor) -> m.User:
    """Deactivate (or reactivate) an account. Deactivation ends the user's sessions in the same
    transaction; reactivation does not bring them back (they stay ended)."""
    user = session.get(m.User, user_id)
    if user is None:
        raise NotFound(f"no user with id {user_id}")
    if user.username == actor.username and not active:
        raise InvalidInput(Problem("user", "you cannot deactivate your own account"), what="user")
    before = user.active
    user.active = active
    session.add(user)
    if not active:
        web_sessions.end_all(
            session, user_id=user_id, now=dt.datetime.now(dt.UTC), reason="deactivated"
        )
    audit(
        session,
        actor=actor,
        action="user.activated" if active else "user.deactivated",
        subject=f"user:{user.id}",
        before={"active": before},
        after={"active": active},
        detail=user.username,
    )
    return user


# --------------------------------------------------------------------------- login


def authenticate(
    session: Session,
    *,
    username: str,
    password: str,
    ip: str,
    now: dt.datetime,
    settings: WebSettings,
) -> m.User:
    """The user for these credentials, or LoginRefused. Every attempt is recorded and audited."""
    name = username.strip().lower()[:64]
    if is_throttled(session, username=name, ip=ip, now=now, settings=settings):
        # Audited, but not stored as a failure: a refusal by the throttle must not extend it.
        audit(session, actor=name or "-", action="login.failed", detail="throttled", ip=ip)
        minutes = settings.login_window_minutes
        raise LoginRefused(
            f"Too many failed attempts. Wait {minutes} minutes, then try again.", throttled=True
        )
    user = session.exec(select(m.User).where(m.User.username == name)).first()
    good = verify_password(user.password_hash if user else _dummy_hash(), password)
    if user is None or not good or not user.active:
        _record_attempt(session, name, ip, now, success=False, detail="bad credentials")
        raise LoginRefused("Wrong username or password.", throttled=False)
    if _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        session.add(user)
    _record_attempt(session, name, ip, now, success=True, detail="")
    _forget_old_attempts(session, now)
    return user


def is_throttled(
    session: Session, *, username: str, ip: str, now: dt.datetime, settings: WebSettings
) -> bool:
    """Whether a login for ``username`` from ``ip`` is refused now. Three limits, all counted in
    the ``login_attempt`` table, so every web worker shares them:

    - this account from this address: ``login_attempts`` failures in the window;
    - this address, whatever the account: ``WIDE_FACTOR`` times that (a password sprayer);
    - this account from everywhere: ``WIDE_FACTOR`` times that, where each address counts only
      the failures it made *before it was throttled itself* (at most ``login_attempts``). So one
      address cannot lock a user out from elsewhere, however often it posts; and an address the
      user signed in from in the last ``KNOWN_ADDRESS`` days is never held by the account-wide
      lock (the nurse at her usual workstation keeps working during a distributed attack).

    A success for the username clears its counts, so a nurse who finally types the right
    password is not punished for earlier slips. Attempts refused *because* of a limit are not
    failures: they neither extend nor spread a lock."""
    window = now - dt.timedelta(minutes=settings.login_window_minutes)
    since = max(window, _last_success(session, username) or window)
    limit = settings.login_attempts
    failed = select(func.count()).where(
        col(m.LoginAttempt.success).is_(False), m.LoginAttempt.at > since
    )
    pair = session.exec(
        failed.where(m.LoginAttempt.username == username, m.LoginAttempt.ip == ip)
    ).one()
    if pair >= limit:
        return True
    address = session.exec(
        select(func.count()).where(
            col(m.LoginAttempt.success).is_(False),
            m.LoginAttempt.ip == ip,
            m.LoginAttempt.at > window,
        )
    ).one()
    if address >= limit * WIDE_FACTOR:
        return True
    return _account_wide_failures(session, username, since, limit) >= limit * WIDE_FACTOR and (
        not _known_address(session, username, ip, now)
    )


KNOWN_ADDRESS = dt.timedelta(days=30)
# Attempts older than this decide nothing any more (the throttle's window is at most a day, an
# address is "known" for 30 days), and every attempt is in the audit trail as well: so they are
# deleted, and the table does not grow with every login and every password sprayer's guess.
KEEP_ATTEMPTS = KNOWN_ADDRESS + dt.timedelta(days=1)


def _last_success(session: Session, username: str) -> dt.datetime | None:
    return session.exec(
        select(func.max(m.LoginAttempt.at)).where(
            m.LoginAttempt.username == username, col(m.LoginAttempt.success).is_(True)
        )
    ).one()


def _account_wide_failures(session: Session, username: str, since: dt.datetime, limit: int) -> int:
    """Failures for ``username`` since ``since``, each address counting at most ``limit``."""
    per_address = (
        sa.select(func.count().label("failures"))
        .where(
            col(m.LoginAttempt.username) == username,
            col(m.LoginAttempt.success).is_(False),
            col(m.LoginAttempt.at) > since,
        )
        .group_by(col(m.LoginAttempt.ip))
        .subquery()
    )
    capped = sa.case((per_address.c.failures > limit, limit), else_=per_address.c.failures)
    total = session.execute(sa.select(func.coalesce(func.sum(capped), 0))).scalar_one()
    return int(total)


def _known_address(session: Session, username: str, ip: str, now: dt.datetime) -> bool:
    found = session.exec(
        select(m.LoginAttempt.id)
        .where(
            m.LoginAttempt.username == username,
            m.LoginAttempt.ip == ip,
            col(m.LoginAttempt.success).is_(True),
            m.LoginAttempt.at > now - KNOWN_ADDRESS,
        )
        .limit(1)
    ).first()
    return found is not None


def _forget_old_attempts(session: Session, now: dt.datetime) -> None:
    """Delete attempts nothing reads any more (``KEEP_ATTEMPTS``), at each successful login:
    often enough to keep the table to about a month of attempts, which that scan reads."""
    session.execute(sa.delete(m.LoginAttempt).where(col(m.LoginAttempt.at) < now - KEEP_ATTEMPTS))


def _record_attempt(
    session: Session, username: str, ip: str, now: dt.datetime, *, success: bool, detail: str
) -> None:
    session.add(m.LoginAttempt(username=username, ip=ip[:64], at=now, success=success))
    audit(
        session,
        actor=username or "-",
        action="login.succeeded" if success else "login.failed",
        detail=detail,
        ip=ip,
    )
    session.flush()


# --------------------------------------------------------------------------- who sees whom


def may_see(actor: Actor, patient: m.Patient) -> bool:
    """Navigators and clinicians see their own clinic's patients; admins see every clinic."""
    return actor.is_admin or patient.clinic == actor.clinic


def visible_patient(session: Session, *, actor: Actor, patient_id: int) -> m.Patient:
    """The patient if ``actor`` may see them. Otherwise NotFound, so that a guessed id does not
    even confirm that the patient exists; the refusal itself is audited."""
    patient = session.get(m.Patient, patient_id)
    if patient is None:
        raise NotFound(f"no patient with id {patient_id}")
    if not may_see(actor, patient):
        raise AccessDenied(f"no patient with id {patient_id} in your clinic", patient_id)
    return patient


class AccessDenied(NotFound):
    """A patient outside the actor's clinic. Shown as 'not found'; audited by the caller in a
    transaction of its own (the failing one is rolled back)."""

    def __init__(self, message: str, patient_id: int) -> None:
        super().__init__(message)
        self.patient_id = patient_id


def acting_user(
    engine: sa.Engine, *, username: str | None, os_user: str, channel: Channel
) -> Actor:
    """The account a command-line (or other non-web) caller acts as. Refused, before anything is
    read or written, when no username is given or the account is unknown or inactive."""
    if not username:
        raise PermissionDenied(
            "say which surveil user you are: --as USER or SURVEIL_USER=USER "
            "(see `surveil user list`)"
        )
    with read_scope(engine) as session:
        user = session.exec(select(m.User).where(m.User.username == username)).first()
        if user is None or not user.active:
            raise PermissionDenied(f"--as {username}: no active surveil user of that name")
        return Actor.of(user, channel=channel, os_user=os_user)
