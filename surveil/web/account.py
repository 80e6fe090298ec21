"""A signed-in user's own account: change the password, set up the second factor. And the
administrator's resets of another user's password or second factor.

A password change ends the user's sessions (``passwords.end_all_sessions_for_user``), this one
included: the user logs in again with the new password.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from surveil.errors import Conflict, InvalidInput
from surveil.services.users import passwords, totp
from surveil.web.account_pages import PasswordPage, RecoveryCodesPage
from surveil.web.account_views import second_factor_page
from surveil.web.deps import (
    ActorDep,
    EngineDep,
    SettingsDep,
    UserDep,
    flash,
    frame,
    render,
    require_admin,
    utc_now,
)

router = APIRouter()

Code = Annotated[str, Form(max_length=64)]
Secret = Annotated[str, Form(max_length=1024)]
AdminOnly = Depends(require_admin)


@router.get("/account/password", name="account.password")
def password_form(request: Request, settings: SettingsDep, user: UserDep) -> Response:
    page = PasswordPage(
        frame(request, user, section="account", settings=settings),
        action="/account/password",
        ask_current=True,
    )
    return render(request, "web/account/password.html", page)


@router.post("/account/password", name="account.password_submit")
def password_submit(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    user: UserDep,
    actor: ActorDep,
    current_password: Secret = "",
    new_password: Secret = "",
    confirm_password: Secret = "",
) -> Response:
    new = passwords.NewPassword(new_password, confirm_password)
    try:
        passwords.change_password(engine, actor=actor, current_password=current_password, new=new)
    except InvalidInput as error:
        page = PasswordPage(
            frame(request, user, section="account", settings=settings),
            action="/account/password",
            ask_current=True,
            problems=tuple(str(p) for p in error.problems),
        )
        return render(request, "web/account/password.html", page, status_code=422)
    request.session.clear()  # every session ends with the old password, this one too
    flash(request, "Your password was changed. Log in with the new one.")
    return RedirectResponse("/login", status_code=303)


@router.get("/account/second-factor", name="account.second_factor")
def second_factor(
    request: Request, engine: EngineDep, settings: SettingsDep, user: UserDep, actor: ActorDep
) -> Response:
    page = second_factor_page(
        request, engine, settings, actor=actor, user=user, action="/account/second-factor"
    )
    return render(request, "web/account/second_factor.html", page)


@router.post("/account/second-factor/start", name="account.second_factor_start")
def second_factor_start(
    request: Request, engine: EngineDep, settings: SettingsDep, actor: ActorDep
) -> Response:
    try:
        totp.start_enrolment(engine, actor=actor, issuer=settings.security.totp_issuer)
    except Conflict as error:
        flash(request, str(error), kind="error")
    return RedirectResponse("/account/second-factor", status_code=303)


@router.post("/account/second-factor/confirm", name="account.second_factor_confirm")
def second_factor_confirm(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    user: UserDep,
    actor: ActorDep,
    code: Code = "",
) -> Response:
    try:
        codes = totp.confirm_enrolment(engine, actor=actor, code=code, now=utc_now())
    except InvalidInput as error:
        page = second_factor_page(
            request,
            engine,
            settings,
            actor=actor,
            user=user,
            action="/account/second-factor",
            problems=error.problems,
        )
        return render(request, "web/account/second_factor.html", page, status_code=422)
    codes_page = RecoveryCodesPage(
        frame(request, user, section="account", settings=settings),
        tuple(codes),
        "/account/second-factor",
        "Done",
    )
    return render(request, "web/account/recovery_codes.html", codes_page)


# --------------------------------------------------------------------------- administrators


@router.post(
    "/admin/users/{user_id}/second-factor/reset",
    name="admin.second_factor_reset",
    dependencies=[AdminOnly],
)
def reset_second_factor(
    request: Request, user_id: int, engine: EngineDep, actor: ActorDep
) -> Response:
    account = totp.reset_second_factor(engine, actor=actor, user_id=user_id)
    flash(
        request,
        f"{account.username}'s second factor was removed; they set up a new one "
        "at their next login.",
    )
    return RedirectResponse("/admin/users", status_code=303)


@router.post(
    "/admin/users/{user_id}/password", name="admin.password_reset", dependencies=[AdminOnly]
)
def reset_password(
    request: Request,
    user_id: int,
    engine: EngineDep,
    actor: ActorDep,
    temporary_password: Secret = "",
) -> Response:
    try:
        account = passwords.reset_password(
            engine, actor=actor, user_id=user_id, temporary_password=temporary_password
        )
    except InvalidInput as error:
        flash(
            request,
            "The password was not reset.",
            kind="error",
            problems=[str(p) for p in error.problems],
        )
    else:
        flash(
            request,
            f"{account.username} has a temporary password and must choose a new "
            "one at their next login.",
        )
    return RedirectResponse("/admin/users", status_code=303)
