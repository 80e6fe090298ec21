"""Bearer tokens for the JSON API: issue (shown once), list, revoke, and the check every API
request goes through.

A token acts as one user, with that user's role and clinic, narrowed by its scope: ``read``
may only read, ``write`` may also change. Like a calendar-feed token it has 256 bits from
``secrets`` and only its SHA-256 is stored, so a database dump opens nothing; it is named in
lists and commands by ``public_id``, which has no power of its own. A token expires (90 days
unless told otherwise, at most a year) and can be revoked at once.

The per-token rate limit is counted in the token's row (a fixed one-minute window), not in
process memory, so every worker of the web app sees the same count. A refused token (unknown,
revoked, expired, its user deactivated) is audited as ``api_token.refused`` with the reason.
"""

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.core.vocab import Channel
from surveil.db import models as m
from surveil.db.session import read_scope, session_scope
from surveil.errors import InvalidInput, NotFound, PermissionDenied, Problem, SurveilError
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.entry import change

TOKEN_PREFIX = "sv_"  # makes a leaked token recognisable to secret scanners
TOKEN_BYTES = 32
DEFAULT_EXPIRY_DAYS = 90
MAX_EXPIRY_DAYS = 365
MAX_LABEL = 64
RATE_WINDOW = dt.timedelta(minutes=1)
DEFAULT_REQUESTS_PER_MINUTE = 120


class TokenRefused(SurveilError):
    """No usable token: the API answers 401 with the same words whatever the reason."""


class RateLimited(SurveilError):
    """Too many requests for this token in the current window: 429 with Retry-After."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"rate limit reached; retry in {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class TokenSummary:
    """A token as lists show it: never the token itself."""

    public_id: str
    username: str
    scope: str
    label: str
    created_by: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once; never stored, never logged
    summary: TokenSummary


@dataclass(frozen=True)
class TokenHolder:
    """Who an accepted token acts as, and what it may do."""

    actor: Actor
    scope: str
    public_id: str

    @property
    def may_write(self) -> bool:
        return self.scope == m.TokenScope.WRITE


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@change("api_token.issued")
def issue_api_token(
    engine: sa.Engine,
    *,
    actor: Actor,
    username: str | None,
    scope: str | None,
    now: dt.datetime,
    expires_days: int | None = DEFAULT_EXPIRY_DAYS,
    label: str = "",
) -> IssuedToken:
    """A new token for ``username``: an administrator issues for anyone, others only for
    themselves. Every field is checked at once; the token is returned once and only its hash is
    kept."""
    problems = _issue_problems(username, scope, expires_days, label)
    if problems:
        raise InvalidInput(problems, what="token")
    assert username is not None and scope is not None
    if not actor.is_admin and username != actor.username:
        raise PermissionDenied("only an administrator can issue a token for another user")
    with session_scope(engine) as session:
        user = session.exec(select(m.User).where(m.User.username == username)).first()
        if user is None or not user.active:
            raise InvalidInput(Problem("user", f"no active user {username!r}"), what="token")
        assert user.id is not None
        token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
        row = m.ApiToken(
            user_id=user.id,
            token_hash=hash_token(token),
            public_id=secrets.token_hex(8),
            scope=scope,
            label=label.strip(),
            created_by=actor.username,
            created_at=now,
            expires_at=now + dt.timedelta(days=expires_days) if expires_days else None,
        )
        session.add(row)
        session.flush()
        audit(
            session,
            actor=actor,
            action="api_token.issued",
            subject=f"api_token:{row.public_id}",
            after={"user": username, "scope": scope, "expires_at": row.expires_at},
            detail=f"API token {row.public_id} for {username} ({scope})",
        )
        return IssuedToken(token=token, summary=_summary(row, username))


def _issue_problems(
    username: str | None, scope: str | None, expires_days: int | None, label: str
) -> list[Problem]:
    problems = []
    if not username or not username.strip():
        problems.append(Problem("user", "is required"))
    if scope not in {s.value for s in m.TokenScope}:
        problems.append(Problem("scope", "must be read or write"))
    if expires_days is not None and not 1 <= expires_days <= MAX_EXPIRY_DAYS:
        problems.append(Problem("expires", f"must be 1 to {MAX_EXPIRY_DAYS} days"))
    if len(label) > MAX_LABEL or any(not c.isprintable() for c in label):
        problems.append(Problem("label", f"at most {MAX_LABEL} printable characters"))
    return problems


@change("api_token.revoked")
def revoke_api_token(
    engine: sa.Engine, *, actor: Actor, public_id: str, now: dt.datetime
) -> TokenSummary:
    """Revoke at once: the next request with it is refused. An administrator revokes any
    token, others their own; revoking twice is harmless (the first time stands)."""
    with session_scope(engine) as session:
        found = session.exec(
            select(m.ApiToken, m.User)
            .join(m.User, col(m.User.id) == m.ApiToken.user_id)
            .where(m.ApiToken.public_id == public_id)
        ).first()
        if found is None or not (actor.is_admin or found[1].username == actor.username):
            raise NotFound(f"no API token {public_id!r}")
        row, user = found
        if row.revoked_at is None:
            row.revoked_at = now
            session.add(row)
            audit(
                session,
                actor=actor,
                action="api_token.revoked",
                subject=f"api_token:{row.public_id}",
                before={"revoked": False},
                after={"revoked": True},
                detail=f"API token {row.public_id} of {user.username} revoked",
            )
        return _summary(row, user.username)


def list_api_tokens(engine: sa.Engine, *, actor: Actor) -> list[TokenSummary]:
    """Every token an administrator may see, or the actor's own; newest first. No patient
    data, so not an audited read."""
    with read_scope(engine) as session:
        query = (
            select(m.ApiToken, m.User)
            .join(m.User, col(m.User.id) == m.ApiToken.user_id)
            .order_by(col(m.ApiToken.created_at).desc(), col(m.ApiToken.id).desc())
        )
        if not actor.is_admin:
            query = query.where(m.User.username == actor.username)
        return [_summary(row, user.username) for row, user in session.exec(query)]


@change("api_token.refused")
def authenticate_api_token(
    engine: sa.Engine,
    *,
    token: str,
    ip: str,
    now: dt.datetime,
    requests_per_minute: int = DEFAULT_REQUESTS_PER_MINUTE,
) -> TokenHolder:
    """The holder of ``token``, with its use counted (last used, rate window), or
    ``TokenRefused`` once the refusal is audited, or ``RateLimited``."""
    refusal: str | None = None
    with session_scope(engine) as session:
        found = _token_row(session, token)
        refusal = _refusal(found, now)
        if refusal is not None:
            user = found[1] if found else None
            who: Actor | str = Actor.of(user, ip=ip, channel=Channel.API) if user else "-"
            audit(
                session,
                actor=who,
                action="api_token.refused",
                subject=f"api_token:{found[0].public_id}" if found else None,
                detail=refusal,
                ip=ip,
                channel=Channel.API,
            )
        else:
            assert found is not None
            row, user = found
            _count_use(session, row, now, requests_per_minute)
            return TokenHolder(
                actor=Actor.of(user, ip=ip, channel=Channel.API),
                scope=row.scope,
                public_id=row.public_id,
            )
    raise TokenRefused("the bearer token is missing, unknown, expired or revoked")


def _token_row(session: Session, token: str) -> tuple[m.ApiToken, m.User] | None:
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    found = session.exec(
        select(m.ApiToken, m.User)
        .join(m.User, col(m.User.id) == m.ApiToken.user_id)
        .where(m.ApiToken.token_hash == hash_token(token))
        .with_for_update(of=m.ApiToken)  # PostgreSQL: two requests count one after the other
    ).first()
    return (found[0], found[1]) if found else None


def _refusal(found: tuple[m.ApiToken, m.User] | None, now: dt.datetime) -> str | None:
    if found is None:
        return "unknown token"
    row, user = found
    if row.revoked_at is not None:
        return "revoked token"
    if row.expires_at is not None and row.expires_at <= now:
        return "expired token"
    if not user.active:
        return "token of a deactivated user"
    return None


def _count_use(session: Session, row: m.ApiToken, now: dt.datetime, limit: int) -> None:
    if row.window_start is None or now - row.window_start >= RATE_WINDOW:
        row.window_start, row.window_count = now, 0
    if row.window_count >= limit:
        left = row.window_start + RATE_WINDOW - now
        raise RateLimited(max(1, int(left.total_seconds()) + 1))
    row.window_count += 1
    row.last_used_at = now
    session.add(row)


def _summary(row: m.ApiToken, username: str) -> TokenSummary:
    return TokenSummary(
        public_id=row.public_id,
        username=username,
        scope=row.scope,
        label=row.label,
        created_by=row.created_by,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


__all__ = [
    "IssuedToken",
    "RateLimited",
    "TokenHolder",
    "TokenRefused",
    "TokenSummary",
    "authenticate_api_token",
    "issue_api_token",
    "list_api_tokens",
    "revoke_api_token",
]
