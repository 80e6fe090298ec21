"""Form posts that change an item or a trigger. Each one calls its service entry point (which
owns the transaction and the audit), leaves a message saying what it did, and redirects back
(post/redirect/get) so the page shows the effect at once.

The acting user is read on the read-only session (``ReaderActorDep``): a route that writes holds
no transaction of its own, so on SQLite it never waits behind itself for the write lock."""

from collections.abc import Callable
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from surveil.errors import Conflict, InvalidInput
from surveil.services.labels import trigger_label
from surveil.services.outcome import Outcome
from surveil.services.records import actions
from surveil.services.records.actions import DoneInput
from surveil.services.triggers import review
from surveil.web.deps import ReaderActorDep, SettingsDep, clinic_today, flash, get_engine, utc_now
from surveil.web.security import safe_next

router = APIRouter()

Text = Annotated[str, Form(max_length=500)]
EngineDep = Annotated[sa.Engine, Depends(get_engine)]


def act_and_redirect(
    request: Request,
    next_url: str,
    action: Callable[[], Outcome],
    *,
    refused: tuple[type[Exception], ...] = (InvalidInput, Conflict),
) -> Response:
    """Run a service entry point for a form and redirect back (post/redirect/get) with what it did,
    new triggers included, or why nothing was changed. ``refused``: the errors shown as a message
    rather than an error page (the item-life forms add ``PermissionDenied``: a navigator who may
    not reopen is told so on the page they came from)."""
    try:
        result = action()
    except refused as error:
        problems = [str(p) for p in error.problems] if isinstance(error, InvalidInput) else []
        text = "Nothing was changed." if problems else f"Nothing was changed: {error}"
        flash(request, text, kind="error", problems=problems)
        return RedirectResponse(safe_next(next_url), status_code=303)
    flash(request, result.message + ".")
    for kind in result.new_triggers:
        flash(request, f"New trigger: {trigger_label(kind)}. See Open triggers.", kind="alert")
    return RedirectResponse(safe_next(next_url, f"/patients/{result.patient_id}"), status_code=303)


@router.post("/items/{item_id}/ordered", name="items.ordered")
def ordered(
    request: Request,
    item_id: int,
    engine: EngineDep,
    actor: ReaderActorDep,
    next: Text = "",
    note: Text = "",
) -> Response:
    return act_and_redirect(
        request,
        next,
        lambda: actions.mark_ordered(engine, item_id=item_id, actor=actor, note=note),
    )


@router.post("/items/{item_id}/booked", name="items.booked")
def booked(
    request: Request,
    item_id: int,
    engine: EngineDep,
    settings: SettingsDep,
    actor: ReaderActorDep,
    next: Text = "",
    date: Text = "",
    time: Text = "",
    reason_code: Text = "",
    reason: Text = "",
) -> Response:
    today = clinic_today(settings)
    return act_and_redirect(
        request,
        next,
        lambda: actions.mark_booked(
            engine,
            item_id=item_id,
            actor=actor,
            date=date,
            time=time,
            today=today,
            reason_code=reason_code or None,
            reason=reason,
            reasons=settings.reasons,
        ),
    )


@router.post("/items/{item_id}/done", name="items.done")
def done(
    request: Request,
    item_id: int,
    engine: EngineDep,
    settings: SettingsDep,
    actor: ReaderActorDep,
    next: Text = "",
    completed_on: Text = "",
    lesion: Text = "",
    diameter_mm: Text = "",
    modality: Text = "",
    marker_value: Text = "",
    marker_unit: Text = "",
    marker_uln: Text = "",
    on_ppi: Text = "",
    note: Text = "",
) -> Response:
    data = DoneInput(
        completed_on=completed_on or None,
        lesion=lesion,
        diameter_mm=diameter_mm,
        modality=modality or None,
        marker_value=marker_value,
        marker_unit=marker_unit,
        marker_uln=marker_uln or None,
        on_ppi=on_ppi == "yes",
        note=note,
    )
    today = clinic_today(settings)
    return act_and_redirect(
        request,
        next,
        lambda: actions.mark_done(
            engine, item_id=item_id, actor=actor, data=data, settings=settings, today=today
        ),
    )


@router.post("/items/{item_id}/declined", name="items.declined")
def declined(
    request: Request,
    item_id: int,
    engine: EngineDep,
    settings: SettingsDep,
    actor: ReaderActorDep,
    next: Text = "",
    reason: Text = "",
    reason_code: Text = "",
) -> Response:
    return act_and_redirect(
        request,
        next,
        lambda: actions.mark_declined(
            engine,
            item_id=item_id,
            actor=actor,
            reason=reason,
            reason_code=reason_code or None,
            reasons=settings.reasons,
        ),
    )


@router.post("/items/{item_id}/not-needed", name="items.not_needed")
def not_needed(
    request: Request,
    item_id: int,
    engine: EngineDep,
    settings: SettingsDep,
    actor: ReaderActorDep,
    next: Text = "",
    reason: Text = "",
    reason_code: Text = "",
) -> Response:
    return act_and_redirect(
        request,
        next,
        lambda: actions.mark_not_needed(
            engine,
            item_id=item_id,
            actor=actor,
            reason=reason,
            reason_code=reason_code or None,
            reasons=settings.reasons,
        ),
    )


@router.post("/items/{item_id}/snooze", name="items.snooze")
def snooze(
    request: Request,
    item_id: int,
    engine: EngineDep,
    settings: SettingsDep,
    actor: ReaderActorDep,
    next: Text = "",
    until: Text = "",
    reason: Text = "",
    reason_code: Text = "",
) -> Response:
    today = clinic_today(settings)
    return act_and_redirect(
        request,
        next,
        lambda: actions.snooze(
            engine,
            item_id=item_id,
            actor=actor,
            until=until,
            reason=reason,
            settings=settings,
            today=today,
            reason_code=reason_code or None,
        ),
    )


@router.post("/triggers/{trigger_id}/acknowledge", name="triggers.acknowledge")
def acknowledge(
    request: Request, trigger_id: int, engine: EngineDep, actor: ReaderActorDep, next: Text = ""
) -> Response:
    return act_and_redirect(
        request,
        next,
        lambda: review.acknowledge_trigger(
            engine, trigger_id=trigger_id, actor=actor, now=utc_now()
        ),
    )
