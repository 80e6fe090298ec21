"""Administration: user accounts (list, add, deactivate) and the audit log. Admins only."""

import math
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from surveil.core.digits import is_digits
from surveil.db import models as m
from surveil.errors import Conflict, InvalidInput, Problem
from surveil.services.audit import list_audit, patient_mrns
from surveil.services.users.accounts import list_users
from surveil.services.users.admin import add_account, set_account_active
from surveil.services.users.web_sessions import end_all_for_user
from surveil.web.contexts import AuditPage, UsersPage
from surveil.web.deps import (
    ActorDep,
    AdminDep,
    EngineDep,
    ReadDbDep,
    SettingsDep,
    flash,
    frame,
    render,
    require_admin,
)

router = APIRouter(prefix="/admin")

AUDIT_PAGE = 100
AdminOnly = Depends(require_admin)  # for forms: the check, without the unused user
Text = Annotated[str, Form(max_length=300)]


@router.get("/users", name="admin.users")
def users_page(request: Request, db: ReadDbDep, settings: SettingsDep, admin: AdminDep) -> Response:
    page = UsersPage(
        frame=frame(request, admin, section="users", settings=settings),
        users=tuple(list_users(db)),
        roles=tuple(r.value for r in m.Role),
        form={"clinic": admin.clinic, "role": m.Role.NAVIGATOR.value},
    )
    return render(request, "web/admin/users.html", page)


@router.post("/users", name="admin.users_add", dependencies=[AdminOnly])
def add_user(
    request: Request,
    engine: EngineDep,
    actor: ActorDep,
    username: Text = "",
    display_name: Text = "",
    role: Text = "",
    clinic: Text = "",
    password: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    try:
        added = add_account(
            engine,
            actor=actor,
            username=username,
            display_name=display_name,
            role=role,
            clinic=clinic,
            password=password,
        )
    except InvalidInput as error:
        flash(
            request,
            "The user was not added.",
            kind="error",
            problems=[str(p) for p in error.problems],
        )
    except Conflict as error:
        flash(request, f"The user was not added: {error}", kind="error")
    else:
        flash(request, f"Added {added.username} ({added.role}, {added.clinic}).")
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/users/{user_id}/active", name="admin.users_active", dependencies=[AdminOnly])
def set_active(
    request: Request,
    user_id: int,
    engine: EngineDep,
    actor: ActorDep,
    active: Text = "",
) -> Response:
    try:
        account = set_account_active(engine, actor=actor, user_id=user_id, active=active == "yes")
    except InvalidInput as error:
        flash(
            request, "Nothing was changed.", kind="error", problems=[str(p) for p in error.problems]
        )
    else:
        state = "active" if account.active else "deactivated"
        flash(request, f"{account.username} is now {state}.")
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/users/{user_id}/sessions/end", name="admin.users_sign_out", dependencies=[AdminOnly])
def sign_out_everywhere(
    request: Request, user_id: int, engine: EngineDep, actor: ActorDep
) -> Response:
    """End every session of the user at once (a lost phone, a shared password)."""
    ended = end_all_for_user(engine, actor=actor, user_id=user_id, reason="signed out by admin")
    flash(request, f"Signed out of {ended} session{'s' if ended != 1 else ''}.")
    return RedirectResponse("/admin/users", status_code=303)


@router.get("/audit", name="admin.audit")
def audit_page(
    request: Request,
    db: ReadDbDep,
    settings: SettingsDep,
    admin: AdminDep,
    actor: Annotated[str, Query(max_length=64)] = "",
    action: Annotated[str, Query(max_length=64)] = "",
    patient: Annotated[str, Query(max_length=9)] = "",  # ids are 32-bit on PostgreSQL
    mrn: Annotated[str, Query(max_length=32)] = "",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    patient, mrn = patient.strip(), mrn.strip()
    if patient and not is_digits(patient):
        # Never silently ignored: a filter that filters nothing would show every patient's log.
        problem = Problem("patient", f"{patient!r} is not a patient id (to find an MRN use MRN)")
        raise InvalidInput(problem, what="audit filter")
    events, total = list_audit(
        db,
        actor=actor or None,
        action=action or None,
        patient_id=int(patient) if patient else None,
        mrn=mrn or None,
        limit=AUDIT_PAGE,
        offset=(page - 1) * AUDIT_PAGE,
    )
    pages = max(1, math.ceil(total / AUDIT_PAGE))
    base = {"actor": actor, "action": action, "patient": patient, "mrn": mrn}
    ctx = AuditPage(
        frame=frame(request, admin, section="audit", settings=settings),
        events=tuple(events),
        total=total,
        page=page,
        pages=pages,
        actor=actor,
        action=action,
        patient_id=patient,
        mrn=mrn,
        mrns=patient_mrns(db, events),
        prev_url=_url(base, page - 1) if page > 1 else None,
        next_url=_url(base, page + 1) if page < pages else None,
    )
    return render(request, "web/admin/audit.html", ctx)


def _url(params: dict[str, str], page: int) -> str:
    kept = {k: v for k, v in params.items() if v}
    return "/admin/audit?" + urlencode({**kept, "page": str(page)})
