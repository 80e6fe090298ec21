"""Forms for corrections and late work on an item (issue 14): reopen (clinicians only), done
late (elsewhere or on paper), a booking cancelled or missed; and the reasons report page.

Each form calls its service entry point and redirects back with a message (post/redirect/get);
a refusal (bad input, a navigator reopening, a closed item) changes nothing and says why."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from surveil.errors import Conflict, InvalidInput, PermissionDenied
from surveil.services.outcome import Outcome
from surveil.services.records import bookings, late, reopen
from surveil.services.records.actions import DoneInput
from surveil.services.reports.reasons import ReasonCount, count_reasons
from surveil.web.actions import act_and_redirect
from surveil.web.contexts import Frame
from surveil.web.deps import (
    EngineDep,
    ReaderActorDep,
    SettingsDep,
    UserDep,
    clinic_today,
    frame,
    render,
)

router = APIRouter()

Text = Annotated[str, Form(max_length=500)]


def _act(request: Request, next_url: str, action: Callable[[], Outcome]) -> Response:
    return act_and_redirect(
        request, next_url, action, refused=(InvalidInput, Conflict, PermissionDenied)
    )


@router.post("/items/{item_id}/reopen", name="items.reopen")
def reopen_form(
    request: Request,
    item_id: int,
    engine: EngineDep,
    settings: SettingsDep,
    actor: ReaderActorDep,
    next: Text = "",
    reason_code: Text = "",
    reason: Text = "",
) -> Response:
    today = clinic_today(settings)
    return _act(
        request,
        next,
        lambda: reopen.reopen_item(
            engine,
            item_id=item_id,
            actor=actor,
            reason_code=reason_code or None,
            reason=reason,
            settings=settings,
            today=today,
        ),
    )


@router.post("/items/{item_id}/done-late", name="items.done_late")
def done_late_form(
    request: Request,
    item_id: int,
    engine: EngineDep,
    settings: SettingsDep,
    actor: ReaderActorDep,
    next: Text = "",
    completed_on: Text = "",
    how: Text = "",
    where: Text = "",
    marker_value: Text = "",
    note: Text = "",
) -> Response:
    today = clinic_today(settings)
    data = DoneInput(completed_on=completed_on or None, marker_value=marker_value, note=note)
    return _act(
        request,
        next,
        lambda: late.record_late_result(
            engine,
            item_id=item_id,
            actor=actor,
            data=data,
            where=where if how != "paper" else None,
            on_paper=how == "paper",
            settings=settings,
            today=today,
        ),
    )


@router.post("/items/{item_id}/cancel-booking", name="items.cancel_booking")
def cancel_booking_form(
    request: Request,
    item_id: int,
    engine: EngineDep,
    settings: SettingsDep,
    actor: ReaderActorDep,
    next: Text = "",
    note: Text = "",
) -> Response:
    today = clinic_today(settings)
    return _act(
        request,
        next,
        lambda: bookings.cancel_booking(
            engine, item_id=item_id, actor=actor, note=note, settings=settings, today=today
        ),
    )


@router.post("/items/{item_id}/no-show", name="items.no_show")
def no_show_form(
    request: Request,
    item_id: int,
    engine: EngineDep,
    settings: SettingsDep,
    actor: ReaderActorDep,
    next: Text = "",
    note: Text = "",
) -> Response:
    today = clinic_today(settings)
    return _act(
        request,
        next,
        lambda: bookings.record_no_show(
            engine, item_id=item_id, actor=actor, note=note, settings=settings, today=today
        ),
    )


@dataclass(frozen=True)
class ReasonsPage:
    frame: Frame
    rows: tuple[ReasonCount, ...]


@router.get("/reports/reasons", name="reports.reasons")
def reasons_page(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    user: UserDep,
    actor: ReaderActorDep,
) -> Response:
    rows = tuple(count_reasons(engine, actor=actor))
    page = ReasonsPage(frame=frame(request, user, section="reports", settings=settings), rows=rows)
    return render(request, "web/reports/reasons.html", page)
