"""The session middleware: a cookie with a random id in front of ``services.users.web_sessions``.

For each request it opens the session the cookie names (or none), gives routes its data as
``request.session`` (a plain dict: the CSRF secret and flash messages), and, as the response
starts, writes the data back when it changed (or once a minute, to push the idle expiry on),
creates a session for a visitor whose page needed one (the login form's CSRF secret), and sets
or clears the cookie. A request without a cookie (a calendar app polling its feed) costs nothing.
"""

import copy
import datetime as dt
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from surveil.config import WebSettings
from surveil.services.users import web_sessions

STATE_KEY = "surveil.session"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


@dataclass
class SessionState:
    """What the middleware knows of the request's session; routes change it through
    ``security.start_session``/``end_session`` and ``request.session``."""

    token: str | None
    user_id: int | None
    data: dict[str, Any]
    row_id: int | None = None  # the stored session's id (shown to its user, never the cookie's)
    loaded: dict[str, Any] = field(default_factory=dict)
    last_seen_at: dt.datetime | None = None
    cookie_sent: bool = False
    adopted: bool = False
    forgotten: bool = False

    def adopt(self, token: str, user_id: int) -> None:
        self.token, self.user_id, self.adopted, self.forgotten = token, user_id, True, False
        self.row_id = None
        self.data.clear()

    def forget(self) -> None:
        self.token, self.user_id, self.row_id, self.forgotten = None, None, None, True
        self.data.clear()


def session_state(scope: Scope) -> SessionState:
    state = scope.get(STATE_KEY)
    if not isinstance(state, SessionState):  # a request that did not pass the middleware
        state = SessionState(token=None, user_id=None, data={})
        scope[STATE_KEY] = state
        scope["session"] = state.data
    return state


class ServerSessions:
    """Pure ASGI middleware (no body buffering)."""

    def __init__(self, app: ASGIApp, *, cookie: str, settings: WebSettings) -> None:
        self.app = app
        self.cookie = cookie
        self.settings = settings
        self.idle = dt.timedelta(minutes=settings.session_minutes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return
        engine: sa.Engine = scope["app"].state.engine
        token = HTTPConnection(scope).cookies.get(self.cookie)
        opened = None
        if token:
            now = dt.datetime.now(dt.UTC)
            opened = await run_in_threadpool(
                web_sessions.open_session, engine, token=token, now=now
            )
        state = SessionState(
            token=token if opened else None,
            user_id=opened.user_id if opened else None,
            data=dict(opened.data) if opened else {},
            row_id=opened.id if opened else None,
            loaded=copy.deepcopy(opened.data) if opened else {},  # nested values change in place
            last_seen_at=opened.last_seen_at if opened else None,
            cookie_sent=bool(token),
        )
        scope[STATE_KEY] = state
        scope["session"] = state.data

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                if self._writes(state, dt.datetime.now(dt.UTC)):
                    cookie = await run_in_threadpool(self._persist, engine, state, scope)
                else:
                    # Nothing to store (a calendar poll, a page read within the minute): no
                    # hand-over to a worker thread, which cost a poll about a millisecond.
                    expire = state.token is None and state.cookie_sent  # a stale cookie
                    cookie = self._cookie("", expire=True) if expire else None
                if cookie is not None:
                    MutableHeaders(scope=message).append("set-cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _writes(self, state: SessionState, now: dt.datetime) -> bool:
        """Whether ``_persist`` may touch the database for this response."""
        if state.token is not None:
            stale = state.last_seen_at is None or now - state.last_seen_at >= (
                web_sessions.TOUCH_EVERY
            )
            return state.adopted or stale or state.data != state.loaded
        return bool(state.data) and not state.forgotten

    def _persist(self, engine: sa.Engine, state: SessionState, scope: Scope) -> str | None:
        """Write the session back; the Set-Cookie value to send, if any."""
        now = dt.datetime.now(dt.UTC)
        if state.token is not None:
            stale = state.last_seen_at is None or now - state.last_seen_at >= (
                web_sessions.TOUCH_EVERY
            )
            if state.adopted or stale or state.data != state.loaded:
                # A page that only reads never waits for the write lock (SQLite): its write
                # (a shown flash, the idle expiry pushed on) is skipped if the lock is busy.
                web_sessions.save(
                    engine,
                    token=state.token,
                    data=state.data,
                    now=now,
                    idle=self.idle,
                    wait=state.adopted or scope["method"] not in SAFE_METHODS,
                )
            return self._cookie(state.token) if state.adopted else None
        if state.data and not state.forgotten:
            headers = dict(HTTPConnection(scope).headers)
            client = scope.get("client")
            token = web_sessions.create_anonymous(
                engine,
                data=state.data,
                now=now,
                idle=self.idle,
                user_agent=headers.get("user-agent", ""),
                address=client[0] if client else "",
            )
            return self._cookie(token) if token else None
        return self._cookie("", expire=True) if state.cookie_sent else None

    def _cookie(self, value: str, *, expire: bool = False) -> str:
        cookie: SimpleCookie = SimpleCookie()
        cookie[self.cookie] = value
        morsel = cookie[self.cookie]
        morsel["path"] = "/"
        morsel["httponly"] = True
        morsel["samesite"] = "strict"
        if self.settings.https_only:
            morsel["secure"] = True
        if expire:
            morsel["max-age"] = 0
            morsel["expires"] = "Thu, 01 Jan 1970 00:00:00 GMT"
        return morsel.OutputString()
