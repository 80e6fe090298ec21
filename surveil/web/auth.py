"""Log in and log out. Every attempt, good or bad, is recorded (login_attempt + audit)."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from surveil.services.audit import audit
from surveil.services.users import accounts as users
from surveil.web import security
from surveil.web.contexts import LoginPage
from surveil.web.deps import DbDep, SettingsDep, client_ip, flash, frame, render, utc_now

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
    db: DbDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=500)] = "/worklist",
) -> Response:
    target = security.safe_next(next)
    now = utc_now()
    try:
        user = users.authenticate(
            db,
            username=username,
            password=password,
            ip=client_ip(request),
            now=now,
            settings=settings.web,
        )
    except users.LoginRefused as refused:
        db.commit()  # the failed attempt must be counted even though we answer with an error
        page = LoginPage(
            frame=frame(request, None, section="login", settings=settings),
            next=target,
            username=username[:64],
            error=str(refused),
        )
        return render(
            request, "web/auth/login.html", page, status_code=429 if refused.throttled else 401
        )
    db.commit()
    assert user.id is not None
    security.start_session(request, user_id=user.id, now=now)
    flash(request, f"Welcome, {user.display_name}.")
    return RedirectResponse(target, status_code=303)


@router.post("/logout", name="auth.logout")
def logout(request: Request, db: DbDep) -> Response:
    uid = request.session.get("uid")
    user = users.get_user(db, user_id=uid if isinstance(uid, int) else None)
    if user is not None:
        audit(db, actor=user.username, action="logout", ip=client_ip(request))
        db.commit()
    request.session.clear()
    return RedirectResponse("/login", status_code=303)
