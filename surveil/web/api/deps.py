"""What API routes receive: the engine and settings of the web app, the token's holder (read or
write scope), the clinic's today, and the edges every request is checked at."""

import datetime as dt
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Request

from surveil.config import Settings
from surveil.errors import InvalidInput
from surveil.services.users.api_tokens import TokenHolder, TokenRefused, authenticate_api_token
from surveil.services.validate import control_character_problem
from surveil.web.deps import client_ip, clinic_today, utc_now

DEFAULT_REQUESTS_PER_MINUTE = 120


def _parent_state(request: Request) -> object:
    """The web app's state: the API is mounted in it and shares its engine and settings."""
    return request.app.state.parent.state


def get_engine(request: Request) -> sa.Engine:
    engine: sa.Engine = _parent_state(request).engine  # type: ignore[attr-defined]
    return engine


def get_settings(request: Request) -> Settings:
    settings: Settings = _parent_state(request).settings  # type: ignore[attr-defined]
    return settings


async def refuse_control_characters(request: Request) -> None:
    """A control character in a path segment or query value, named by its field (API-wide
    dependency; JSON bodies are checked by the schemas)."""
    items = [*request.path_params.items(), *request.query_params.multi_items()]
    problems = [
        problem
        for name, value in items
        if isinstance(value, str) and (problem := control_character_problem(name[:64], value))
    ]
    if problems:
        raise InvalidInput(problems, what="request")


def token_holder(
    request: Request, engine: Annotated[sa.Engine, Depends(get_engine)]
) -> TokenHolder:
    """The holder of the request's bearer token. Only the Authorization header is read: a
    session cookie opens nothing here."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenRefused("send Authorization: Bearer TOKEN (see surveil token issue)")
    limit = getattr(request.app.state, "requests_per_minute", DEFAULT_REQUESTS_PER_MINUTE)
    return authenticate_api_token(
        engine, token=token.strip(), ip=client_ip(request), now=utc_now(), requests_per_minute=limit
    )


def writer(holder: Annotated[TokenHolder, Depends(token_holder)]) -> TokenHolder:
    from surveil.web.api.problems import ApiRefusal

    if not holder.may_write:
        raise ApiRefusal(403, "read-only-token", "Forbidden", "this token may only read")
    return holder


def today(settings: Annotated[Settings, Depends(get_settings)]) -> dt.date:
    return clinic_today(settings)


EngineDep = Annotated[sa.Engine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ReaderDep = Annotated[TokenHolder, Depends(token_holder)]
WriterDep = Annotated[TokenHolder, Depends(writer)]
TodayDep = Annotated[dt.date, Depends(today)]
