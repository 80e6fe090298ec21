"""The second factor: TOTP (RFC 6238, 6 digits, 30-second steps) and single-use recovery codes.

Enrolment is two steps: ``start_enrolment`` stores a new secret, unconfirmed, that the user
scans as a QR code; ``confirm_enrolment`` takes the first code, confirms the secret and returns
ten recovery codes, shown once and stored only as SHA-256 digests. At login,
``verify_second_step`` accepts the current code, or the one before or after it (clock skew,
``valid_window=1``), never a step already used (replay, RFC 6238 5.2), or an unused recovery
code. A wrong code counts as a failed login for the password throttle. An administrator resets a
lost factor with ``reset_second_factor``. Every one of these is audited; secrets and codes never
reach the audit trail or a log.
"""

import datetime as dt
import hashlib
import hmac
import secrets
import unicodedata
from dataclasses import dataclass

import pyotp
import sqlalchemy as sa
from sqlmodel import Session, col, delete, select

from surveil.config import SecuritySettings, WebSettings
from surveil.core.digits import is_digits, only_digits
from surveil.db import models as m
from surveil.db.second_factor import RecoveryCode, SecondFactor
from surveil.db.session import read_scope, session_scope
from surveil.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Problem
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.entry import change
from surveil.services.users import accounts
from surveil.services.users.admin import Account

STEP_SECONDS = 30
SKEW_STEPS = 1  # one step either side: pyotp's valid_window=1
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread


@dataclass(frozen=True)
class Enrolment:
    """What the enrolment page shows: the secret (typed by hand) and the otpauth:// URI (QR)."""

    secret: str
    uri: str


@dataclass(frozen=True)
class FactorStatus:
    enrolled: bool
    required: bool
    recovery_codes_left: int


def requires_second_factor(role: str, settings: SecuritySettings) -> bool:
    """Clinicians and administrators must use a second factor; navigators when configured."""
    if not settings.totp_required:
        return False
    return role != m.Role.NAVIGATOR or settings.totp_for_navigators


def login_step(engine: sa.Engine, *, user_id: int, settings: SecuritySettings) -> str | None:
    """What a login whose password was right still needs before a session starts:
    ``"second-factor"`` (a code), ``"enrol"`` (set up the required factor first),
    ``"new-password"`` (after an administrator's reset), or None."""
    with read_scope(engine) as session:
        user = session.get(m.User, user_id)
        if user is None or not user.active:
            raise NotFound(f"no user with id {user_id}")
        return step_for(session, user, settings)


def step_for(session: Session, user: m.User, settings: SecuritySettings) -> str | None:
    """``login_step`` inside the caller's transaction (the login's own)."""
    factor = session.get(SecondFactor, user.id)
    if factor is not None and factor.confirmed_at is not None:
        return "second-factor"
    if requires_second_factor(user.role, settings):
        return "enrol"
    return "new-password" if user.must_change_password else None


def after_second_factor(engine: sa.Engine, *, user_id: int) -> str | None:
    """The step after the second factor: ``"new-password"`` after a reset, or None."""
    with read_scope(engine) as session:
        user = session.get(m.User, user_id)
        return "new-password" if user is not None and user.must_change_password else None


def pending_actor(engine: sa.Engine, *, user_id: int, ip: str) -> Actor:
    """The user half-way through logging in, as the actor of their own enrolment steps."""
    with read_scope(engine) as session:
        user = session.get(m.User, user_id)
        if user is None or not user.active:
            raise PermissionDenied("this login has expired; log in again")
        return Actor.of(user, ip=ip)


def status(engine: sa.Engine, *, username: str, settings: SecuritySettings) -> FactorStatus:
    """Whether ``username`` has a confirmed factor, must have one, and how many codes are left.
    Not audited: no patient data."""
    with read_scope(engine) as session:
        user = _user(session, username)
        factor = session.get(SecondFactor, user.id)
        left = session.exec(
            select(sa.func.count()).where(
                RecoveryCode.user_id == user.id, col(RecoveryCode.used_at).is_(None)
            )
        ).one()
        return FactorStatus(
            enrolled=factor is not None and factor.confirmed_at is not None,
            required=requires_second_factor(user.role, settings),
            recovery_codes_left=int(left),
        )


def pending_enrolment(engine: sa.Engine, *, actor: Actor, issuer: str) -> Enrolment | None:
    """The secret waiting for its first code, to show again (a reload of the page)."""
    with read_scope(engine) as session:
        user = _user(session, actor.username)
        factor = session.get(SecondFactor, user.id)
        if factor is None or factor.confirmed_at is not None:
            return None
        return Enrolment(secret=factor.secret, uri=_uri(factor.secret, user.username, issuer))


@change("second_factor.enrolment_started")
def start_enrolment(engine: sa.Engine, *, actor: Actor, issuer: str) -> Enrolment:
    """A new secret (160 bits) for the actor, unconfirmed until its first code. Refused when a
    confirmed factor exists: a lost phone is for an administrator's reset."""
    with session_scope(engine) as session:
        user = _user(session, actor.username)
        assert user.id is not None
        factor = session.get(SecondFactor, user.id)
        if factor is not None and factor.confirmed_at is not None:
            raise Conflict("a second factor is already set up; an administrator can reset it")
        secret = pyotp.random_base32(length=32)
        if factor is None:
            factor = SecondFactor(user_id=user.id, secret=secret)
        factor.secret, factor.last_step = secret, None
        session.add(factor)
        audit(session, actor=actor, action="second_factor.enrolment_started",
              subject=f"user:{user.id}", detail=user.username)  # fmt: skip
        return Enrolment(secret=secret, uri=_uri(secret, user.username, issuer))


@change("second_factor.enrolled")
def confirm_enrolment(engine: sa.Engine, *, actor: Actor, code: str, now: dt.datetime) -> list[str]:
    """Confirm the pending secret with a code from the app; the ten recovery codes, in clear
    this once (only their digests are stored)."""
    with session_scope(engine) as session:
        user = _user(session, actor.username)
        factor = session.get(SecondFactor, user.id)
        if factor is None or factor.confirmed_at is not None:
            raise InvalidInput(Problem("code", "start the set-up first"), what="second factor")
        step = _matching_step(factor.secret, code, now)
        if step is None:
            problem = Problem("code", "is not the current code of your authenticator app")
            raise InvalidInput(problem, what="second factor")
        factor.confirmed_at, factor.last_step = now, step
        session.add(factor)
        assert user.id is not None
        codes = _new_recovery_codes(session, user.id, now)
        audit(session, actor=actor, action="second_factor.enrolled", subject=f"user:{user.id}",
              after={"second_factor": "totp", "recovery_codes": RECOVERY_CODES},
              detail=user.username)  # fmt: skip
        return codes


class SecondStepRefused(accounts.LoginRefused):
    """A wrong, replayed or used code at login (counted like a wrong password)."""


@change(
    "login.second_factor_passed", "login.second_factor_failed", "second_factor.recovery_code_used"
)
def verify_second_step(
    engine: sa.Engine, *, user_id: int, code: str, ip: str, now: dt.datetime, settings: WebSettings
) -> Account:
    """The account once ``code`` (TOTP or recovery code) is right; otherwise the failure is
    stored (it counts towards the login throttle) and ``SecondStepRefused`` raised."""
    refused: SecondStepRefused | None = None
    with session_scope(engine) as session:
        user = session.get(m.User, user_id)
        if user is None or not user.active:
            raise PermissionDenied("this login has expired; log in again")
        if _codes_throttled(session, user.username, now, settings) or accounts.is_throttled(
            session, username=user.username, ip=ip, now=now, settings=settings
        ):
            minutes = settings.login_window_minutes
            refused = SecondStepRefused(
                f"Too many failed attempts. Wait {minutes} minutes, then try again.", throttled=True
            )
        elif _accept(session, user, code, ip, now):
            return Account.of(user)
        else:
            session.add(m.LoginAttempt(username=user.username, ip=ip[:64], at=now, success=False))
            audit(session, actor=Actor.of(user, ip=ip), action="login.second_factor_failed",
                  subject=f"user:{user.id}")  # fmt: skip
            refused = SecondStepRefused("That code is not right.", throttled=False)
    raise refused  # after the block: the failure is committed


@change("second_factor.reset")
def reset_second_factor(
    engine: sa.Engine, *, actor: Actor, user_id: int | None = None, username: str | None = None
) -> Account:
    """An administrator removes a user's second factor and recovery codes (a lost phone); the
    user sets up a new one at their next login when their role requires it."""
    if not actor.is_admin:
        raise PermissionDenied(
            f"only an administrator can reset a second factor ({actor.username} is {actor.role})"
        )
    with session_scope(engine) as session:
        user = session.get(m.User, user_id) if user_id is not None else None
        if user is None and username is not None:
            user = _user(session, username.strip().lower(), missing=NotFound)
        if user is None:
            raise NotFound(f"no user with id {user_id}")
        had = session.get(SecondFactor, user.id) is not None
        session.exec(delete(SecondFactor).where(col(SecondFactor.user_id) == user.id))
        session.exec(delete(RecoveryCode).where(col(RecoveryCode.user_id) == user.id))
        audit(session, actor=actor, action="second_factor.reset", subject=f"user:{user.id}",
              before={"second_factor": "totp" if had else None},
              after={"second_factor": None}, detail=user.username)  # fmt: skip
        return Account.of(user)


# --------------------------------------------------------------------------- helpers


def _codes_throttled(
    session: Session, username: str, now: dt.datetime, settings: WebSettings
) -> bool:
    """Too many wrong codes for this account in the window, from any address. Counted apart
    from password failures on purpose: a right password clears those, and whoever holds the
    password could otherwise guess codes without end, five per parked login. Only someone with
    the password can reach this step, so it cannot be used to lock out anyone else."""
    since = now - dt.timedelta(minutes=settings.login_window_minutes)
    failures = session.exec(
        select(sa.func.count()).where(
            m.AuditEvent.action == "login.second_factor_failed",
            m.AuditEvent.actor == username,
            m.AuditEvent.at > since,
        )
    ).one()
    return int(failures) >= settings.login_attempts


def _accept(session: Session, user: m.User, code: str, ip: str, now: dt.datetime) -> bool:
    factor = session.get(SecondFactor, user.id)
    if factor is None or factor.confirmed_at is None:
        return False
    typed = "".join(ch for ch in _as_typed(code).lower() if ch.isalnum())[:32]
    actor = Actor.of(user, ip=ip)
    if is_digits(typed):
        step = _matching_step(factor.secret, typed, now)
        if step is None or not _claim_step(session, user.id, step):
            return False
        audit(session, actor=actor, action="login.second_factor_passed", subject=f"user:{user.id}")
        return True
    used = session.exec(
        sa.update(RecoveryCode)
        .where(
            col(RecoveryCode.user_id) == user.id,
            col(RecoveryCode.code_hash) == _digest(typed),
            col(RecoveryCode.used_at).is_(None),
        )
        .values(used_at=now)
    )
    if used.rowcount != 1:
        return False
    audit(session, actor=actor, action="second_factor.recovery_code_used",
          subject=f"user:{user.id}", detail="a recovery code was used at login")  # fmt: skip
    return True


def _claim_step(session: Session, user_id: int | None, step: int) -> bool:
    """Record ``step`` as used, atomically: only if no later or equal step was used before, so
    two logins racing with one code cannot both pass (on either backend)."""
    claimed = session.exec(
        sa.update(SecondFactor)
        .where(
            col(SecondFactor.user_id) == user_id,
            sa.or_(col(SecondFactor.last_step).is_(None), col(SecondFactor.last_step) < step),
        )
        .values(last_step=step)
    )
    return bool(claimed.rowcount == 1)


def _matching_step(secret: str, code: str, now: dt.datetime) -> int | None:
    """The time step (within the allowed skew) whose code is ``code``, or None."""
    typed = only_digits(_as_typed(code))
    if len(typed) != 6:
        return None
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    current = int(now.timestamp()) // STEP_SECONDS
    for step in range(current - SKEW_STEPS, current + SKEW_STEPS + 1):
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), typed):
            return step
    return None


def _as_typed(code: str) -> str:
    """A code as the person meant it: a phone's keyboard in a Japanese or Chinese input mode
    types fullwidth digits ("１２３"), which NFKC turns into ASCII ones."""
    return unicodedata.normalize("NFKC", code)


def _new_recovery_codes(session: Session, user_id: int, now: dt.datetime) -> list[str]:
    session.exec(delete(RecoveryCode).where(col(RecoveryCode.user_id) == user_id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))  # ~49 bits
        codes.append(f"{raw[:5]}-{raw[5:]}")
        session.add(RecoveryCode(user_id=user_id, code_hash=_digest(raw), created_at=now))
    return codes


def _digest(normalised_code: str) -> str:
    return hashlib.sha256(normalised_code.encode()).hexdigest()


def _uri(secret: str, username: str, issuer: str) -> str:
    return pyotp.TOTP(secret, interval=STEP_SECONDS).provisioning_uri(
        name=username, issuer_name=issuer
    )


def _user(
    session: Session, username: str, *, missing: type[Exception] = PermissionDenied
) -> m.User:
    user = session.exec(select(m.User).where(m.User.username == username)).first()
    if user is None or not user.active:
        raise missing(f"{username}: no active surveil user of that name")
    return user
