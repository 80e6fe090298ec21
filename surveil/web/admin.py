"""Administration: user accounts (list, add, deactivate) and the audit log. Admins only."""

import math
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from surveil.db import models as m
from surveil.errors import Conflict, InvalidInput
from surveil.services.actor import Actor
from surveil.services.audit import list_audit
from surveil.services.users import accounts as users
from surveil.web.contexts import AuditPage, UsersPage
from surveil.web.deps import AdminDep, DbDep, SettingsDep, client_ip, flash, frame, render

router = APIRouter(prefix="/admin")

AUDIT_PAGE = 100
Text = Annotated[str, Form(max_length=300)]


@router.get("/users", name="admin.users")
def users_page(request: Request, db: DbDep, settings: SettingsDep, admin: AdminDep) -> Response:
    page = UsersPage(
        frame=frame(request, admin, section="users", settings=settings),
        users=tuple(users.list_users(db)),
        roles=tuple(r.value for r in m.Role),
        form={"clinic": admin.clinic, "role": m.Role.NAVIGATOR.value},
    )
    return render(request, "web/admin/users.html", page)


@router.post("/users", name="admin.users_add")
def add_user(
    request: Request,
    db: DbDep,
    admin: AdminDep,
    username: Text = "",
    display_name: Text = "",
    role: Text = "",
    clinic: Text = "",
    password: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    actor = Actor.of(admin, ip=client_ip(request))
    try:
        user = users.add_user(
            db,
            username=username,
            display_name=display_name,
            role=role,
            clinic=clinic,
            password=password,
            actor=actor,
        )
    except InvalidInput as error:
        db.rollback()
        flash(
            request,
            "The user was not added.",
            kind="error",
            problems=[str(p) for p in error.problems],
        )
    except Conflict as error:
        db.rollback()
        flash(request, f"The user was not added: {error}", kind="error")
    else:
        db.commit()
        flash(request, f"Added {user.username} ({user.role}, {user.clinic}).")
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/users/{user_id}/active", name="admin.users_active")
def set_active(
    request: Request, user_id: int, db: DbDep, admin: AdminDep, active: Text = ""
) -> Response:
    actor = Actor.of(admin, ip=client_ip(request))
    try:
        user = users.set_active(db, user_id=user_id, active=active == "yes", actor=actor)
    except InvalidInput as error:
        db.rollback()
        flash(
            request, "Nothing was changed.", kind="error", problems=[str(p) for p in error.problems]
        )
    else:
        db.commit()
        flash(request, f"{user.username} is now {'active' if user.active else 'deactivated'}.")
    return RedirectResponse("/admin/users", status_code=303)


@router.get("/audit", name="admin.audit")
def audit_page(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    admin: AdminDep,
    actor: Annotated[str, Query(max_length=64)] = "",
    action: Annotated[str, Query(max_length=64)] = "",
    patient: Annotated[str, Query(max_length=9)] = "",  # ids are 32-bit on PostgreSQL
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    patient_id = int(patient) if patient.isdigit() else None
    events, total = list_audit(
        db,
        actor=actor or None,
        action=action or None,
        patient_id=patient_id,
        limit=AUDIT_PAGE,
        offset=(page - 1) * AUDIT_PAGE,
    )
    pages = max(1, math.ceil(total / AUDIT_PAGE))
    base = {"actor": actor, "action": action, "patient": patient}
    ctx = AuditPage(
        frame=frame(request, admin, section="audit", settings=settings),
        events=tuple(events),
        total=total,
        page=page,
        pages=pages,
        actor=actor,
        action=action,
        patient_id=patient,
        prev_url=_url(base, page - 1) if page > 1 else None,
        next_url=_url(base, page + 1) if page < pages else None,
    )
    return render(request, "web/admin/audit.html", ctx)


def _url(params: dict[str, str], page: int) -> str:
    kept = {k: v for k, v in params.items() if v}
    return "/admin/audit?" + urlencode({**kept, "page": str(page)})
