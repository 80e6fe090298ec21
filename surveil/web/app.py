"""``create_app(settings)``: the navigators' web app, assembled in one place.

Routers are listed in ``ROUTERS`` and included by ``create_app`` alone; another area (e.g. the
calendar feeds) plugs in by adding its router there or passing ``extra_routers``. Every router
inherits the app-wide CSRF dependency and the security headers. The calendar feed itself is a
plain route matched first (a read-only GET polled by every calendar app; see ``web/feeds.py``).
"""

import functools
import gc
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import jinja2
import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from surveil.config import Settings
from surveil.config_rules import secret_key_problems
from surveil.core.zones import wall_clock
from surveil.db import models as m
from surveil.db.engine import make_engine
from surveil.errors import (
    ConfigError,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Problem,
)
from surveil.resources import resource_dir
from surveil.services.feeds.fetches import FetchTally
from surveil.services.labels import kind_label, state_label, trigger_label
from surveil.services.protocols import check_clinic_protocol
from surveil.services.reasons import choices
from surveil.services.triggers import roles
from surveil.services.users import accounts
from surveil.services.users.accounts import AccessDenied
from surveil.services.users.sessions import record_refusal, signed_in_user
from surveil.web import (
    account,
    account_sessions,
    actions,
    admin,
    auth,
    enrol,
    feeds,
    fhir,
    hl7_queue,
    imports,
    inputs,
    item_life,
    login_steps,
    merge,
    outreach,
    patient_list,
    patients,
    record_forms,
    replies,
    report_quality,
    reports,
    result_forms,
    security,
    trigger_decisions,
    worklist,
)
from surveil.web.api import problems as api_problems
from surveil.web.api.app import PREFIX as API_PREFIX
from surveil.web.api.app import create_api
from surveil.web.contexts import ErrorPage, Frame
from surveil.web.deps import LoginRequired, client_ip, take_flashes

logger = logging.getLogger(__name__)

# One text for every 404, whether the thing is missing or belongs to another clinic: a
# different answer would tell a navigator which ids exist elsewhere.
NOT_FOUND_TITLE = "Not found"
NOT_FOUND_TEXT = "There is no such page, or it is not open to you."

ROUTERS: tuple[APIRouter, ...] = (
    auth.router,
    worklist.router,
    patient_list.router,
    enrol.router,  # before patients: /patients/new is not a patient id
    patients.router,
    record_forms.router,
    actions.router,
    result_forms.router,
    outreach.router,
    hl7_queue.router,
    admin.router,
    feeds.router,
    fhir.router,
    login_steps.router,  # issue 21: second factor and passwords
    account.router,
    account_sessions.router,
    item_life.router,
    trigger_decisions.router,
    merge.router,
    imports.router,
    reports.router,  # issue 20: the clinic as a whole
    report_quality.router,
    replies.router,  # issue 18: a patient's reply handled from the worklist
)


def create_app(
    settings: Settings,
    *,
    engine: sa.Engine | None = None,
    extra_routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """The app for ``settings``. Pass ``engine`` to share one (tests, benchmarks); otherwise the
    lifespan makes one and disposes of it at shutdown. Raises ConfigError, before anything is
    built, when the clinic's protocol pack or profile does not exist, or when ``web.secret_key``
    is missing, a placeholder or short (with it anyone could sign an admin's cookie)."""
    check_clinic_protocol(settings)
    if problems := secret_key_problems(settings.web.secret_key):
        raise ConfigError(problems)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = engine is None
        accounts.prepare_login_timing()
        app.state.engine = engine or make_engine(
            settings.database.url,
            echo=settings.database.echo,
            prepared_polls=settings.database.prepared_statements,
        )
        # Calendar polls are counted in memory and written every half minute (feed_fetches).
        fetches = getattr(app.state, "feed_fetches", None) or FetchTally(app.state.engine)
        app.state.feed_fetches = fetches
        fetches.start()
        # What start-up loaded (modules, templates, mappers, packs) lives as long as the
        # process: frozen out of the cycle collector's sight, a full collection walks only what
        # requests made since. Unfrozen it walked ~250,000 objects, 120-250 ms during which a
        # request waited (scripts/gc_pause.py).
        gc.freeze()
        yield
        gc.unfreeze()
        fetches.close()  # writes the counts still in memory
        if owned:
            app.state.engine.dispose()

    app = FastAPI(
        title="surveil",
        lifespan=lifespan,
        dependencies=[Depends(security.csrf_protect), Depends(inputs.refuse_bad_input)],
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    if engine is not None:
        app.state.engine = engine
    templates_root = resource_dir("templates", settings.paths.templates)
    app.state.templates = Jinja2Templates(
        env=_environment(templates_root, settings.clinic.timezone)
    )
    # The clinic's coded reasons ([reasons]), for the forms' choices.
    app.state.templates.env.globals["reason_choices"] = functools.partial(choices, settings.reasons)
    # Only the buttons a person may use: a navigator acknowledges a clinical trigger, not more.
    app.state.templates.env.globals["may_resolve"] = roles.role_may_resolve
    app.mount("/static", StaticFiles(directory=templates_root / "web" / "static"), name="static")
    api = create_api(app, requests_per_minute=settings.interop.api_requests_per_minute)
    app.mount(API_PREFIX, api, name="api")  # bearer tokens, problem+json (web/api)
    app.router.routes.insert(0, feeds.FEED_ROUTE)  # the hot path: matched first (web/feeds.py)
    # Patients' replies: no session and no CSRF form token; signed instead (web/replies.py).
    app.router.routes[1:1] = replies.ROUTES
    for router in (*ROUTERS, *extra_routers):
        app.include_router(router)
    _add_error_handlers(app)
    security.install(app, settings.web)
    return app


def _environment(root: Any, clinic_zone: str) -> jinja2.Environment:
    # Autoescape by extension: every page template is *.html, so every value is escaped.
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(root),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "svg")),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # Words and times as people read them, the same on every page: an appointment in the
    # patient's zone, a staff action in the clinic's, each with the zone named (core.zones).
    env.globals.update(
        wall_clock=wall_clock,
        clinic_time=functools.partial(wall_clock, timezone=clinic_zone),
        kind_label=kind_label,
        trigger_label=trigger_label,
        state_label=state_label,
    )
    return env


def _add_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(security.CsrfRejected, _csrf_rejected)
    app.add_exception_handler(AccessDenied, _access_denied)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(PermissionDenied, _forbidden)
    app.add_exception_handler(Conflict, _conflict)
    app.add_exception_handler(InvalidInput, _invalid)
    app.add_exception_handler(RequestValidationError, _unprocessable)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _server_error)


async def _login_required(request: Request, _exc: Exception) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET":
        target = "/worklist"
    from urllib.parse import quote

    return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)


async def _csrf_rejected(request: Request, exc: Exception) -> Response:
    _audit_refusal(request, "csrf.rejected", None, str(exc))
    return _error_page(request, 403, "Request refused", str(exc))


async def _access_denied(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AccessDenied)
    _audit_refusal(request, "access.denied", exc.patient_id, request.url.path)
    return _error_page(request, 404, NOT_FOUND_TITLE, NOT_FOUND_TEXT)


async def _not_found(request: Request, _exc: Exception) -> Response:
    if request.url.path.startswith("/fhir/"):
        return fhir.not_found()  # a FHIR client reads an OperationOutcome, never a page
    return _error_page(request, 404, NOT_FOUND_TITLE, NOT_FOUND_TEXT)


async def _forbidden(request: Request, exc: Exception) -> Response:
    return _error_page(request, 403, "Not allowed", str(exc))


async def _conflict(request: Request, exc: Exception) -> Response:
    return _error_page(request, 409, "Already changed", str(exc))


async def _invalid(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidInput)
    return _error_page(request, 422, "Please check", "; ".join(str(p) for p in exc.problems))


async def _unprocessable(request: Request, exc: Exception) -> Response:
    """A path, query or form value the route's types refuse (``page=0``, ``/patients/abc``):
    the same page as any other bad input, naming each field, never echoing the value."""
    assert isinstance(exc, RequestValidationError)
    problems = [
        Problem(str(error["loc"][-1]) if error.get("loc") else "input", str(error["msg"]))
        for error in exc.errors()
    ]
    return await _invalid(request, InvalidInput(problems, what="request"))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404 and request.url.path.startswith(API_PREFIX + "/"):
        # A path the mount could not take (a line break in a segment): still the API's answer.
        return api_problems.problem(404, "not-found", "Not found", "no such route")
    if exc.status_code == 404:
        return _error_page(request, 404, NOT_FOUND_TITLE, NOT_FOUND_TEXT)
    title = "Not allowed here" if exc.status_code == 405 else "Error"
    # exc.headers carries Allow on a 405 (RFC 9110 15.5.6).
    return _error_page(request, exc.status_code, title, str(exc.detail), headers=exc.headers)


async def _server_error(request: Request, _exc: Exception) -> Response:
    # The web boundary: log the failure (never the request body: it may hold PHI) and show a
    # calm page instead of a traceback.
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return _error_page(
        request, 500, "Something went wrong", "The error has been logged. Nothing was changed."
    )


def _error_page(
    request: Request,
    status: int,
    title: str,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
) -> Response:
    user = _session_user(request)
    frame = Frame(
        user=user,
        csrf=security.csrf_token(request) if user is not None else "",  # see deps.frame
        flashes=take_flashes(request),
        section="",
        clinic_name=request.app.state.settings.clinic.name,
        path=request.url.path,
    )
    templates: Jinja2Templates = request.app.state.templates
    page = ErrorPage(frame=frame, status=status, title=title, message=message)
    return templates.TemplateResponse(
        request, "web/errors/error.html", {"page": page}, status_code=status, headers=headers
    )


def _session_user(request: Request) -> m.User | None:
    """The logged-in user, so an error page keeps the navigation (and the way to log out)."""
    return signed_in_user(request.app.state.engine, user_id=security.session_user_id(request))


def _audit_refusal(request: Request, action: str, patient_id: int | None, detail: str) -> None:
    """Failed authorisation is audited (ASVS 16.3.2) in its own transaction: the request's own
    transaction was rolled back with the error."""
    try:
        record_refusal(
            request.app.state.engine,
            action=action,
            user_id=security.session_user_id(request),
            ip=client_ip(request),
            patient_id=patient_id,
            detail=detail,
        )
    except Exception:  # a failed audit write must not turn a 403 into a 500
        logger.exception("could not audit %s", action)
