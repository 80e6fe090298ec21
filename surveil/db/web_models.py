"""Tables of the web app's defences: server-side sessions, login attempts and the shared
rate-limit counters.

Kept beside ``models.py`` (which would otherwise pass 600 lines) and re-exported from it, so
``m.WebSession`` reads like every other table.
"""

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from surveil.db.base import created_field, fk, utcnow


class WebSession(SQLModel, table=True):
    """A browser's session. The cookie holds a random id; only its SHA-256 is stored here, so a
    copy of this table opens nobody's session. ``user_id`` is empty before login (the CSRF
    secret of the login form lives here too). A session is over once ``ended_at`` is set or
    either expiry has passed; ended rows are kept a while so users see what ended them."""

    __tablename__ = "web_session"
    __table_args__ = (sa.Index("ix_web_session_user", "user_id", "ended_at"),)

    id: int | None = Field(default=None, primary_key=True)
    id_hash: str = Field(max_length=64, unique=True)
    user_id: int | None = fk("user_account.id", nullable=True, index=False)
    created_at: dt.datetime = created_field()
    last_seen_at: dt.datetime
    idle_expires_at: dt.datetime = Field(index=True)
    absolute_expires_at: dt.datetime
    ended_at: dt.datetime | None = None
    end_reason: str = Field(default="", max_length=32)
    user_agent: str = Field(default="", max_length=120)  # a summary: "Firefox on Windows"
    address: str = Field(default="", max_length=64)
    # The CSRF secret and the flash messages, as JSON: never in the cookie.
    data: str = Field(default="{}", max_length=8000)


class RateLimit(SQLModel, table=True):
    """One fixed-window counter (``key`` names the limit and what it counts: an address, an
    account from an address, a feed). Incremented with one atomic upsert, so every web worker
    and every process shares the same count."""

    __tablename__ = "rate_limit"

    key: str = Field(primary_key=True, max_length=160)
    window_start: dt.datetime = Field(primary_key=True)
    count: int = 0
    expires_at: dt.datetime = Field(index=True)


class LoginAttempt(SQLModel, table=True):
    __tablename__ = "login_attempt"
    __table_args__ = (sa.Index("ix_login_attempt_recent", "username", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64)
    ip: str = Field(default="", max_length=64)
    at: dt.datetime = Field(default_factory=utcnow)
    success: bool = False
