"""What routes receive: settings, the engine, a read-only session, the logged-in user, flashes
and templates.

Routes that change something call a service entry point with the engine and the actor; the
entry point owns the transaction and its audit. The request-wide session routes get here is
read-only (``ReadDbDep``): the signed-in user is read on it, and pages read their data from it.
"""

import datetime as dt
from collections.abc import Iterator
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from fastapi import Depends, Request, Response
from fastapi.templating import Jinja2Templates

from surveil.config import Settings
from surveil.db import models as m
from surveil.errors import PermissionDenied
from surveil.services import reading
from surveil.services.actor import Actor
from surveil.services.reading import ReadSession
from surveil.services.users.accounts import get_user
from surveil.web import security
from surveil.web.contexts import Flash, Frame


class LoginRequired(Exception):
    """No valid session: the app answers with a redirect to the login page."""


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_engine(request: Request) -> sa.Engine:
    engine: sa.Engine = request.app.state.engine
    return engine


def get_read_db(engine: Annotated[sa.Engine, Depends(get_engine)]) -> Iterator[ReadSession]:
    """The request's read-only snapshot (``services.reading``): on SQLite it never waits behind
    a writer (the daemon, a long ``replan --all``), and nothing written through it is kept.
    The signed-in user and the page's data are read on it."""
    yield from reading.snapshot(engine)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def current_user(request: Request, db: Annotated[ReadSession, Depends(get_read_db)]) -> m.User:
    """The signed-in, active account, read on the request's read-only session: every request
    re-reads it, so a deactivated user is signed out at their next click."""
    user = get_user(db, user_id=security.session_user_id(request))
    if user is None or not user.active:
        raise LoginRequired()
    return user


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def current_actor(request: Request, user: Annotated[m.User, Depends(current_user)]) -> Actor:
    return Actor.of(user, ip=client_ip(request))


def session_actor(
    request: Request, db: Annotated[ReadSession, Depends(get_read_db)]
) -> Actor | None:
    """The account named by the session cookie, active or not, without requiring a login
    (logging out must work for a session that has just been deactivated)."""
    user = get_user(db, user_id=security.session_user_id(request))
    return Actor.of(user, ip=client_ip(request)) if user is not None else None


def require_admin(user: Annotated[m.User, Depends(current_user)]) -> m.User:
    if user.role != m.Role.ADMIN:
        raise PermissionDenied("Only an administrator can open this page.")
    return user


# Pages and forms alike read the user on the read-only session; both names are kept for the
# routes that used the read-only variants before every route did.
current_reader = current_user
reader_actor = current_actor

SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[sa.Engine, Depends(get_engine)]
UserDep = Annotated[m.User, Depends(current_user)]
ActorDep = Annotated[Actor, Depends(current_actor)]
SessionActorDep = Annotated[Actor | None, Depends(session_actor)]
ReadDbDep = Annotated[ReadSession, Depends(get_read_db)]
ReaderDep = UserDep
ReaderActorDep = ActorDep
AdminDep = Annotated[m.User, Depends(require_admin)]


def clinic_today(settings: Settings) -> dt.date:
    """Today where the clinic is: a navigator's day starts at local midnight, not UTC's."""
    return utc_now().astimezone(ZoneInfo(settings.clinic.timezone)).date()


# --------------------------------------------------------------------------- flashes


def flash(
    request: Request, text: str, *, kind: str = "ok", problems: list[str] | None = None
) -> None:
    """A message for the next page (post/redirect/get), kept in the server-side session."""
    messages = list(request.session.get("flash", []))
    messages.append({"kind": kind, "text": text, "problems": problems or []})
    request.session["flash"] = messages[-5:]


def take_flashes(request: Request) -> tuple[Flash, ...]:
    messages = request.session.pop("flash", [])
    return tuple(Flash(m["kind"], m["text"], tuple(m["problems"])) for m in messages)


def frame(
    request: Request, user: m.User | None, *, section: str, settings: Settings, search: str = ""
) -> Frame:
    return Frame(
        user=user,
        # A visitor who is not signed in needs a session (and a token) only for the login form:
        # a scanner's requests for other pages must not each leave a session row behind.
        csrf=security.csrf_token(request) if user is not None or section == "login" else "",
        flashes=take_flashes(request),
        section=section,
        clinic_name=settings.clinic.name,
        path=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        search=search,
    )


def render(request: Request, name: str, page: Any, *, status_code: int = 200) -> Response:
    templates: Jinja2Templates = request.app.state.templates
    response: Response = templates.TemplateResponse(
        request, name, {"page": page}, status_code=status_code
    )
    return response
