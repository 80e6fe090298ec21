"""Server-side web sessions: the browser's cookie carries a random id, everything else is here.

Only the SHA-256 of the id is stored, so neither a copy of the table nor a log line opens a
session. A session ends at once, for every copy of its cookie, when its user logs out, is
deactivated, signs it out from their sessions page, or an administrator signs the user out
everywhere; it also ends after ``web.session_minutes`` without a request (idle) and 12 hours
after login (absolute, NIST 800-63B AAL2). An ended session stays ended: reactivating an
account does not bring its old sessions back.

``open_session``/``save``/``create_anonymous`` are the web shell's plumbing (a session's own
CSRF secret and flash messages, no patient data, not audited); the changes a person makes to
sessions are entry points with their audit rows.
"""

import datetime as dt
import hashlib
import json
import logging
import re
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.db import models as m
from surveil.db.session import read_scope, session_scope
from surveil.errors import NotFound, PermissionDenied
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.entry import change
from surveil.services.throttle import quick_scope

log = logging.getLogger(__name__)

ABSOLUTE_LIFETIME = dt.timedelta(hours=12)

# A session's last-seen time (and so its idle expiry) is written at most this often when
# nothing else in it changed: one write a minute per browser, not one per click.
TOUCH_EVERY = dt.timedelta(seconds=60)
# Ended and expired sessions are kept this long for the user's sessions page, then removed.
KEEP_ENDED = dt.timedelta(days=7)
MAX_DATA = 8000
# A session before login lives only as long as a login form needs to be filled in.
ANONYMOUS_IDLE = dt.timedelta(hours=1)


@dataclass(frozen=True)
class OpenSession:
    """A live session as the web shell needs it for one request."""

    id: int
    user_id: int | None
    data: dict[str, Any]
    last_seen_at: dt.datetime


@dataclass(frozen=True)
class SessionView:
    """One of a user's sessions as their sessions page shows it (never the id itself)."""

    id: int
    created_at: dt.datetime
    last_seen_at: dt.datetime
    idle_expires_at: dt.datetime
    absolute_expires_at: dt.datetime
    user_agent: str
    address: str


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def summarise_agent(user_agent: str) -> str:
    """ "Firefox on Windows": enough for a user to recognise a session, not a fingerprint."""
    browser = next(
        (name for pattern, name in _BROWSERS if re.search(pattern, user_agent)), "a browser"
    )
    system = next((name for pattern, name in _SYSTEMS if re.search(pattern, user_agent)), "")
    return f"{browser} on {system}" if system else browser


_BROWSERS = (
    (r"Edg/", "Edge"),
    (r"Firefox/", "Firefox"),
    (r"Chrom(e|ium)/", "Chrome"),
    (r"Safari/", "Safari"),
)
_SYSTEMS = (
    (r"Android", "Android"),
    (r"iPhone|iPad", "iOS"),
    (r"Windows", "Windows"),
    (r"Mac OS X", "macOS"),
    (r"Linux", "Linux"),
)


# --------------------------------------------------------------------------- plumbing


def open_session(engine: sa.Engine, *, token: str, now: dt.datetime) -> OpenSession | None:
    """The live session behind a cookie's id, or None when unknown, ended or expired."""
    if not token or len(token) > 128:
        return None
    with read_scope(engine) as session:
        row = session.exec(
            select(m.WebSession).where(m.WebSession.id_hash == hash_token(token))
        ).first()
        if row is None or row.id is None or not _is_live(row, now):
            return None
        return OpenSession(
            id=row.id, user_id=row.user_id, data=_decode(row.data), last_seen_at=row.last_seen_at
        )


def create_anonymous(
    engine: sa.Engine,
    *,
    data: dict[str, Any],
    now: dt.datetime,
    idle: dt.timedelta,
    user_agent: str = "",
    address: str = "",
) -> str | None:
    """A session before login (it holds the login form's CSRF secret); returns its new id, or
    None when the database stayed busy for the whole lock timeout. It waits for the write lock
    like any change (unlike a read-only page's touch): without it the login form cannot be
    posted, and the daemon's write transactions are short (each under half a second)."""
    token = new_token()
    idle = min(idle, ANONYMOUS_IDLE)
    try:
        with session_scope(engine) as session:
            _purge(session, now)
            session.add(_row(token, None, now, idle, user_agent, address, data))
    except sa.exc.OperationalError:
        log.warning("session not stored: the database is busy")
        return None
    return token


def save(
    engine: sa.Engine,
    *,
    token: str,
    data: dict[str, Any],
    now: dt.datetime,
    idle: dt.timedelta,
    wait: bool = True,
) -> bool:
    """Store the session's data and push its idle expiry on. False when it ended meanwhile
    (a logout in another tab wins: an ended session is never written back to life), or, with
    ``wait=False`` (a page that only reads), when the database was too busy to write at once."""
    try:
        with session_scope(engine) if wait else quick_scope(engine) as session:
            return _update(session, token, data, now, idle)
    except sa.exc.OperationalError:
        if wait:
            raise
        log.info("session write skipped: the database is busy")
        return False


def _update(
    session: Session, token: str, data: dict[str, Any], now: dt.datetime, idle: dt.timedelta
) -> bool:
    result = session.execute(
        sa.update(m.WebSession)
        .where(
            col(m.WebSession.id_hash) == hash_token(token),
            col(m.WebSession.ended_at).is_(None),
        )
        .values(
            data=_encode(data),
            last_seen_at=now,
            # A session before login keeps its short idle time (ANONYMOUS_IDLE).
            idle_expires_at=sa.case(
                (col(m.WebSession.user_id).is_(None), now + min(idle, ANONYMOUS_IDLE)),
                else_=now + idle,
            ),
        )
    )
    return bool(getattr(result, "rowcount", 0))


def start(
    session: Session,
    *,
    user_id: int,
    now: dt.datetime,
    idle: dt.timedelta,
    user_agent: str,
    address: str,
    previous: str | None,
) -> str:
    """A new session at login (ASVS 7.2.4), inside the caller's transaction; the session the
    browser had before (the login form's) ends. Returns the new id for the cookie."""
    if previous:
        _end_where(session, col(m.WebSession.id_hash) == hash_token(previous), now, "replaced")
    _purge(session, now)
    token = new_token()
    session.add(_row(token, user_id, now, idle, user_agent, address, {}))
    session.flush()
    return token


def end_all(session: Session, *, user_id: int, now: dt.datetime, reason: str) -> int:
    """End every live session of ``user_id`` inside the caller's transaction (deactivation,
    and later a password change); returns how many ended."""
    return _end_where(session, col(m.WebSession.user_id) == user_id, now, reason)


def end_by_token(session: Session, *, token: str, now: dt.datetime, reason: str) -> int:
    return _end_where(session, col(m.WebSession.id_hash) == hash_token(token), now, reason)


# --------------------------------------------------------------------------- entry points


@change("session.ended")
def end_session(engine: sa.Engine, *, actor: Actor, user_id: int, session_id: int) -> None:
    """``actor`` (user ``user_id``) signs out one of their own sessions, e.g. a browser left
    signed in elsewhere. Another user's session is "not found", like a missing one."""
    now = dt.datetime.now(dt.UTC)
    with session_scope(engine) as session:
        row = session.get(m.WebSession, session_id)
        if row is None or row.user_id != user_id or not _is_live(row, now):
            raise NotFound(f"no session {session_id} of yours is open")
        _end_where(session, col(m.WebSession.id) == session_id, now, "signed out")
        audit(
            session,
            actor=actor,
            action="session.ended",
            subject=f"session:{session_id}",
            detail=row.user_agent,
        )


@change("sessions.ended")
def end_all_for_user(
    engine: sa.Engine, *, actor: Actor, user_id: int, reason: str, keep: int | None = None
) -> int:
    """Sign ``user_id`` out everywhere, at once (an administrator, for a lost laptop or a
    suspected theft; or the user themselves, keeping the session ``keep`` they are using).
    Returns how many sessions ended."""
    now = dt.datetime.now(dt.UTC)
    with session_scope(engine) as session:
        user = session.get(m.User, user_id)
        if user is None:
            raise NotFound(f"no user with id {user_id}")
        if not actor.is_admin and user.username != actor.username:
            raise PermissionDenied("only an administrator can sign other users out")
        which = col(m.WebSession.user_id) == user_id
        if keep is not None:
            which = sa.and_(which, col(m.WebSession.id) != keep)
        ended = _end_where(session, which, now, reason[:32] or "signed out")
        audit(
            session,
            actor=actor,
            action="sessions.ended",
            subject=f"user:{user_id}",
            after={"sessions_ended": ended},
            detail=f"{user.username}: {reason[:100]}",
        )
        return ended


def list_for_user(engine: sa.Engine, *, user_id: int) -> list[SessionView]:
    """The user's live sessions, most recent first. Not audited: no patient data, and only
    ever shown to the user themselves."""
    now = dt.datetime.now(dt.UTC)
    with read_scope(engine) as session:
        rows = session.exec(
            select(m.WebSession)
            .where(m.WebSession.user_id == user_id, col(m.WebSession.ended_at).is_(None))
            .order_by(col(m.WebSession.last_seen_at).desc())
        ).all()
        return [
            SessionView(
                id=row.id,
                created_at=row.created_at,
                last_seen_at=row.last_seen_at,
                idle_expires_at=row.idle_expires_at,
                absolute_expires_at=row.absolute_expires_at,
                user_agent=row.user_agent,
                address=row.address,
            )
            for row in rows
            if row.id is not None and _is_live(row, now)
        ]


# --------------------------------------------------------------------------- helpers


def _row(
    token: str,
    user_id: int | None,
    now: dt.datetime,
    idle: dt.timedelta,
    user_agent: str,
    address: str,
    data: dict[str, Any],
) -> m.WebSession:
    absolute = now + ABSOLUTE_LIFETIME
    return m.WebSession(
        id_hash=hash_token(token),
        user_id=user_id,
        created_at=now,
        last_seen_at=now,
        idle_expires_at=min(now + idle, absolute),
        absolute_expires_at=absolute,
        user_agent=summarise_agent(user_agent)[:120],
        address=address[:64],
        data=_encode(data),
    )


def _is_live(row: m.WebSession, now: dt.datetime) -> bool:
    return row.ended_at is None and now < row.idle_expires_at and now < row.absolute_expires_at


def _end_where(
    session: Session, condition: sa.ColumnElement[bool], now: dt.datetime, reason: str
) -> int:
    result = session.execute(
        sa.update(m.WebSession)
        .where(condition, col(m.WebSession.ended_at).is_(None))
        .values(ended_at=now, end_reason=reason[:32], data="{}")
    )
    return int(getattr(result, "rowcount", 0))


def _purge(session: Session, now: dt.datetime) -> None:
    """Remove sessions long over, so the table does not grow with every visit to /login:
    anonymous ones once idle, signed-in ones a week after they ended (the idle expiry of an
    ended session is never pushed on, so one indexed condition finds them all)."""
    session.execute(
        sa.delete(m.WebSession).where(
            col(m.WebSession.idle_expires_at) < now,
            sa.or_(
                col(m.WebSession.user_id).is_(None),
                col(m.WebSession.idle_expires_at) < now - KEEP_ENDED,
            ),
        )
    )


def _encode(data: dict[str, Any]) -> str:
    text = json.dumps(data, separators=(",", ":"), default=str)
    if len(text) > MAX_DATA:  # flashes are the only thing that grows: drop them first
        text = json.dumps({k: v for k, v in data.items() if k != "flash"}, default=str)
    return text if len(text) <= MAX_DATA else "{}"


def _decode(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
