"""Log in and log out. Every attempt, good or bad, is recorded (login_attempt + audit)."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from surveil.services.users import accounts, sessions
from surveil.web import login_steps, security
from surveil.web.contexts import LoginPage
from surveil.web.deps import (
    EngineDep,
    SessionActorDep,
    SettingsDep,
    client_ip,
    flash,
    frame,
    render,
    utc_now,
)

router = APIRouter()


@router.get("/login", name="auth.login")
def login_form(request: Request, settings: SettingsDep, next: str = "/worklist") -> Response:
    page = LoginPage(
        frame=frame(request, None, section="login", settings=settings),
        next=security.safe_next(next),
    )
    return render(request, "web/auth/login.html", page)


@router.post("/login", name="auth.login_submit")
def login(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=500)] = "/worklist",
) -> Response:
    target = security.safe_next(next)
    now = utc_now()
    try:
        account = sessions.log_in(
            engine,
            username=username,
            password=password,
            ip=client_ip(request),
            now=now,
            settings=settings.web,
            user_agent=request.headers.get("user-agent", ""),
            previous_session=security.session_token(request),
            security=settings.security,
        )
    except accounts.LoginRefused as refused:  # the attempt is stored and counted already
        page = LoginPage(
            frame=frame(request, None, section="login", settings=settings),
            next=target,
            username=username[:64],
            error=str(refused),
        )
        return render(
            request, "web/auth/login.html", page, status_code=429 if refused.throttled else 401
        )
    if account.next_step is not None:  # a second factor or a new password first (issue 21)
        return login_steps.park(
            request, user_id=account.id, step=account.next_step, target=target, now=now
        )
    security.start_session(request, token=account.session_token, user_id=account.id)
    flash(request, f"Welcome, {account.display_name}.")
    return RedirectResponse(target, status_code=303)


@router.post("/logout", name="auth.logout")
def logout(request: Request, engine: EngineDep, actor: SessionActorDep) -> Response:
    if actor is not None:
        sessions.log_out(engine, actor=actor, session_token=security.session_token(request))
    security.end_session(request)
    # ASVS 14.3.1: the browser drops what it kept of the session (cached pages hold PHI).
    headers = {"Clear-Site-Data": '"cache", "cookies", "storage"'}
    return RedirectResponse("/login", status_code=303, headers=headers)
