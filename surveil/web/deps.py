"""What routes receive: settings, a database session, the logged-in user, flashes and templates."""

import datetime as dt
from collections.abc import Iterator
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from fastapi import Depends, Request, Response
from fastapi.templating import Jinja2Templates
from sqlmodel import Session

from surveil.config import Settings
from surveil.db import models as m
from surveil.db.session import read_scope, session_scope
from surveil.errors import PermissionDenied
from surveil.services.actor import Actor
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


def get_db(engine: Annotated[sa.Engine, Depends(get_engine)]) -> Iterator[Session]:
    """One unit of work per request. Routes that change data commit explicitly before they
    redirect, so the effect is visible on the next page whatever order FastAPI closes things."""
    with session_scope(engine) as session:
        yield session


def get_read_db(engine: Annotated[sa.Engine, Depends(get_engine)]) -> Iterator[Session]:
    """For pages that only show data (the worklist): a read-only snapshot that, on SQLite,
    never waits behind a writer (the daemon, a long ``replan --all``) and is always rolled
    back, so nothing written through it is kept (``db.session.read_scope``)."""
    with read_scope(engine) as session:
        yield session


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def current_user(request: Request, db: Annotated[Session, Depends(get_db)]) -> m.User:
    return _signed_in(request, db)


def current_reader(request: Request, db: Annotated[Session, Depends(get_read_db)]) -> m.User:
    """``current_user`` for read-only pages: the same checks, on the page's read-only session."""
    return _signed_in(request, db)


def _signed_in(request: Request, db: Session) -> m.User:
    uid = security.session_user_id(request, now=utc_now())
    user = get_user(db, user_id=uid)
    if user is None or not user.active:
        request.session.clear()
        raise LoginRequired()
    return user


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def current_actor(request: Request, user: Annotated[m.User, Depends(current_user)]) -> Actor:
    return Actor.of(user, ip=client_ip(request))


def reader_actor(request: Request, user: Annotated[m.User, Depends(current_reader)]) -> Actor:
    return Actor.of(user, ip=client_ip(request))


def require_admin(user: Annotated[m.User, Depends(current_user)]) -> m.User:
    if user.role != m.Role.ADMIN:
        raise PermissionDenied("Only an administrator can open this page.")
    return user


SettingsDep = Annotated[Settings, Depends(get_settings)]
DbDep = Annotated[Session, Depends(get_db)]
UserDep = Annotated[m.User, Depends(current_user)]
ActorDep = Annotated[Actor, Depends(current_actor)]
# The same three for pages that only read: one read-only session for the whole request.
ReadDbDep = Annotated[Session, Depends(get_read_db)]
ReaderDep = Annotated[m.User, Depends(current_reader)]
ReaderActorDep = Annotated[Actor, Depends(reader_actor)]
AdminDep = Annotated[m.User, Depends(require_admin)]


def clinic_today(settings: Settings) -> dt.date:
    """Today where the clinic is: a navigator's day starts at local midnight, not UTC's."""
    return utc_now().astimezone(ZoneInfo(settings.clinic.timezone)).date()


# --------------------------------------------------------------------------- flashes


def flash(
    request: Request, text: str, *, kind: str = "ok", problems: list[str] | None = None
) -> None:
    """A message for the next page (post/redirect/get), kept in the signed session cookie."""
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
        csrf=security.csrf_token(request),
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
