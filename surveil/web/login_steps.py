"""The login's extra steps after a right password: the second factor's code, the set-up of a
required second factor, and the new password after an administrator's reset.

Until these steps are done there is no session: the (cleared) session only holds a *pending
login* — the account id, when the password was accepted, where to go after, the step, and the
wrong codes typed so far. It lasts ``PENDING_MINUTES``; ``MAX_CODE_FAILURES`` wrong codes end it
(the password is asked again, and it is throttled; each wrong code also counts as a failed
login). ``auth.login`` calls ``park`` when the password was accepted but a step remains.
"""

import datetime as dt
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from surveil.config import Settings
from surveil.errors import Conflict, InvalidInput, PermissionDenied
from surveil.services.actor import Actor
from surveil.services.users import passwords, sessions, totp
from surveil.web import security
from surveil.web.account_pages import CodePage, PasswordPage, RecoveryCodesPage
from surveil.web.account_views import second_factor_page
from surveil.web.deps import EngineDep, SettingsDep, client_ip, flash, frame, render, utc_now

router = APIRouter(prefix="/login")

PENDING = "pending_login"
PENDING_MINUTES = 10
MAX_CODE_FAILURES = 5
Code = Annotated[str, Form(max_length=64)]
Secret = Annotated[str, Form(max_length=1024)]


def park(request: Request, *, user_id: int, step: str, target: str, now: dt.datetime) -> Response:
    """After a right password, when the login still owes ``step``: the login is parked in the
    (cleared) pre-login session and the browser sent to that step; no session starts yet."""
    request.session.clear()
    request.session[PENDING] = {
        "uid": user_id,
        "at": now.timestamp(),
        "next": target,
        "step": step,
        "fails": 0,
    }
    return RedirectResponse(f"/login/{step}", status_code=303)


def _pending(request: Request, step: str) -> dict[str, Any] | None:
    """The parked login if it is at ``step`` and not expired."""
    parked = request.session.get(PENDING)
    if not isinstance(parked, dict) or parked.get("step") != step:
        return None
    started = dt.datetime.fromtimestamp(float(parked.get("at", 0)), dt.UTC)
    if utc_now() - started > dt.timedelta(minutes=PENDING_MINUTES):
        request.session.pop(PENDING, None)
        return None
    return parked


def _expired(request: Request) -> Response:
    request.session.pop(PENDING, None)
    flash(request, "Your login has expired. Log in again.", kind="error")
    return RedirectResponse("/login", status_code=303)


def _advance(
    request: Request, engine: sa.Engine, settings: Settings, parked: dict[str, Any]
) -> Response:
    """The next step after a factor, or the session itself."""
    uid = int(parked["uid"])
    if totp.after_second_factor(engine, user_id=uid) == "new-password":
        request.session[PENDING] = {**parked, "step": "new-password", "at": utc_now().timestamp()}
        return RedirectResponse("/login/new-password", status_code=303)
    return _finish(request, engine, settings, uid, str(parked["next"]))


def open_session(
    request: Request, engine: sa.Engine, settings: Settings, *, user_id: int, now: dt.datetime
) -> None:
    """Every step passed: the server-side session starts, and this browser switches to it."""
    token = sessions.complete_login(
        engine,
        user_id=user_id,
        ip=client_ip(request),
        now=now,
        settings=settings.web,
        user_agent=request.headers.get("user-agent", ""),
        previous_session=security.session_token(request),
    )
    security.start_session(request, token=token, user_id=user_id)


def _finish(
    request: Request, engine: sa.Engine, settings: Settings, uid: int, target: str
) -> Response:
    open_session(request, engine, settings, user_id=uid, now=utc_now())
    flash(request, "Welcome back.")
    return RedirectResponse(security.safe_next(target), status_code=303)


def _actor(request: Request, engine: sa.Engine, parked: dict[str, Any]) -> Actor:
    return totp.pending_actor(engine, user_id=int(parked["uid"]), ip=client_ip(request))


# --------------------------------------------------------------------------- the code


@router.get("/second-factor", name="login.second_factor")
def code_form(request: Request, settings: SettingsDep) -> Response:
    if _pending(request, "second-factor") is None:
        return _expired(request)
    page = CodePage(frame=frame(request, None, section="login", settings=settings))
    return render(request, "web/auth/second_factor.html", page)


@router.post("/second-factor", name="login.second_factor_submit")
def code_submit(
    request: Request, engine: EngineDep, settings: SettingsDep, code: Code = ""
) -> Response:
    parked = _pending(request, "second-factor")
    if parked is None:
        return _expired(request)
    try:
        totp.verify_second_step(
            engine,
            user_id=int(parked["uid"]),
            code=code,
            ip=client_ip(request),
            now=utc_now(),
            settings=settings.web,
        )
    except totp.SecondStepRefused as refused:
        parked["fails"] = int(parked.get("fails", 0)) + 1
        if parked["fails"] >= MAX_CODE_FAILURES:
            return _expired(request)
        request.session[PENDING] = parked
        page = CodePage(frame(request, None, section="login", settings=settings), str(refused))
        status = 429 if refused.throttled else 401
        return render(request, "web/auth/second_factor.html", page, status_code=status)
    return _advance(request, engine, settings, parked)


# --------------------------------------------------------------------------- set-up at login


@router.get("/enrol", name="login.enrol")
def enrol_form(request: Request, engine: EngineDep, settings: SettingsDep) -> Response:
    parked = _pending(request, "enrol")
    if parked is None:
        return _expired(request)
    page = second_factor_page(
        request,
        engine,
        settings,
        actor=_actor(request, engine, parked),
        user=None,
        action="/login/enrol",
    )
    return render(request, "web/account/second_factor.html", page)


@router.post("/enrol/start", name="login.enrol_start")
def enrol_start(request: Request, engine: EngineDep, settings: SettingsDep) -> Response:
    parked = _pending(request, "enrol")
    if parked is None:
        return _expired(request)
    actor = _actor(request, engine, parked)
    try:
        totp.start_enrolment(engine, actor=actor, issuer=settings.security.totp_issuer)
    except Conflict:  # set up meanwhile (another tab): ask for its code instead
        request.session[PENDING] = {**parked, "step": "second-factor"}
        return RedirectResponse("/login/second-factor", status_code=303)
    return RedirectResponse("/login/enrol", status_code=303)


@router.post("/enrol/confirm", name="login.enrol_confirm")
def enrol_confirm(
    request: Request, engine: EngineDep, settings: SettingsDep, code: Code = ""
) -> Response:
    parked = _pending(request, "enrol")
    if parked is None:
        return _expired(request)
    actor = _actor(request, engine, parked)
    try:
        codes = totp.confirm_enrolment(engine, actor=actor, code=code, now=utc_now())
    except InvalidInput as error:
        page = second_factor_page(
            request,
            engine,
            settings,
            actor=actor,
            user=None,
            action="/login/enrol",
            problems=error.problems,
        )
        return render(request, "web/account/second_factor.html", page, status_code=422)
    target = str(parked["next"])
    if totp.after_second_factor(engine, user_id=int(parked["uid"])) == "new-password":
        request.session[PENDING] = {**parked, "step": "new-password", "at": utc_now().timestamp()}
        url, label = "/login/new-password", "Continue: choose a new password"
    else:
        open_session(request, engine, settings, user_id=int(parked["uid"]), now=utc_now())
        url, label = security.safe_next(target), "Continue"
    codes_page = RecoveryCodesPage(
        frame(request, None, section="login", settings=settings), tuple(codes), url, label
    )
    return render(request, "web/account/recovery_codes.html", codes_page)


# --------------------------------------------------------------------------- new password


@router.get("/new-password", name="login.new_password")
def new_password_form(request: Request, settings: SettingsDep) -> Response:
    if _pending(request, "new-password") is None:
        return _expired(request)
    page = PasswordPage(
        frame(request, None, section="login", settings=settings),
        action="/login/new-password",
        ask_current=False,
    )
    return render(request, "web/account/password.html", page)


@router.post("/new-password", name="login.new_password_submit")
def new_password_submit(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    new_password: Secret = "",
    confirm_password: Secret = "",
) -> Response:
    parked = _pending(request, "new-password")
    if parked is None:
        return _expired(request)
    new = passwords.NewPassword(new_password, confirm_password)
    try:
        passwords.choose_new_password(engine, actor=_actor(request, engine, parked), new=new)
    except InvalidInput as error:
        page = PasswordPage(
            frame(request, None, section="login", settings=settings),
            action="/login/new-password",
            ask_current=False,
            problems=tuple(str(p) for p in error.problems),
        )
        return render(request, "web/account/password.html", page, status_code=422)
    except PermissionDenied:
        return _expired(request)
    return _finish(request, engine, settings, int(parked["uid"]), str(parked["next"]))
