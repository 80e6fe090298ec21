"""Form posts that change an item or a trigger. Each one commits, leaves a message saying what it
did, and redirects back (post/redirect/get) so the page shows the effect at once."""

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from surveil.errors import Conflict, InvalidInput
from surveil.services.labels import trigger_label
from surveil.services.planning import actions
from surveil.services.planning.actions import DoneInput, Result
from surveil.web.deps import ActorDep, DbDep, SettingsDep, clinic_today, flash, utc_now
from surveil.web.security import safe_next

router = APIRouter()

Text = Annotated[str, Form(max_length=500)]


def _act(request: Request, db: DbDep, next_url: str, action: Callable[[], Result]) -> Response:
    try:
        result = action()
    except (InvalidInput, Conflict) as error:
        db.rollback()
        problems = [str(p) for p in error.problems] if isinstance(error, InvalidInput) else []
        text = "Nothing was changed." if problems else f"Nothing was changed: {error}"
        flash(request, text, kind="error", problems=problems)
        return RedirectResponse(safe_next(next_url), status_code=303)
    db.commit()
    flash(request, result.message + ".")
    for kind in result.new_triggers:
        flash(request, f"New trigger: {trigger_label(kind)}. See Open triggers.", kind="alert")
    return RedirectResponse(safe_next(next_url, f"/patients/{result.patient_id}"), status_code=303)


@router.post("/items/{item_id}/ordered", name="items.ordered")
def ordered(
    request: Request,
    item_id: int,
    db: DbDep,
    actor: ActorDep,
    next: Text = "",
    note: Text = "",
) -> Response:
    return _act(
        request,
        db,
        next,
        lambda: actions.mark_ordered(db, item_id=item_id, actor=actor, note=note),
    )


@router.post("/items/{item_id}/booked", name="items.booked")
def booked(
    request: Request,
    item_id: int,
    db: DbDep,
    settings: SettingsDep,
    actor: ActorDep,
    next: Text = "",
    date: Text = "",
    time: Text = "",
) -> Response:
    today = clinic_today(settings)
    return _act(
        request,
        db,
        next,
        lambda: actions.mark_booked(
            db, item_id=item_id, actor=actor, date=date, time=time, today=today
        ),
    )


@router.post("/items/{item_id}/done", name="items.done")
def done(
    request: Request,
    item_id: int,
    db: DbDep,
    settings: SettingsDep,
    actor: ActorDep,
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
    return _act(
        request,
        db,
        next,
        lambda: actions.mark_done(
            db, item_id=item_id, actor=actor, data=data, settings=settings, today=today
        ),
    )


@router.post("/items/{item_id}/declined", name="items.declined")
def declined(
    request: Request,
    item_id: int,
    db: DbDep,
    actor: ActorDep,
    next: Text = "",
    reason: Text = "",
) -> Response:
    return _act(
        request,
        db,
        next,
        lambda: actions.mark_declined(db, item_id=item_id, actor=actor, reason=reason),
    )


@router.post("/items/{item_id}/not-needed", name="items.not_needed")
def not_needed(
    request: Request,
    item_id: int,
    db: DbDep,
    actor: ActorDep,
    next: Text = "",
    reason: Text = "",
) -> Response:
    return _act(
        request,
        db,
        next,
        lambda: actions.mark_not_needed(db, item_id=item_id, actor=actor, reason=reason),
    )


@router.post("/items/{item_id}/snooze", name="items.snooze")
def snooze(
    request: Request,
    item_id: int,
    db: DbDep,
    settings: SettingsDep,
    actor: ActorDep,
    next: Text = "",
    until: Text = "",
    reason: Text = "",
) -> Response:
    today = clinic_today(settings)
    return _act(
        request,
        db,
        next,
        lambda: actions.snooze(
            db,
            item_id=item_id,
            actor=actor,
            until=until,
            reason=reason,
            settings=settings,
            today=today,
        ),
    )


@router.post("/triggers/{trigger_id}/acknowledge", name="triggers.acknowledge")
def acknowledge(
    request: Request, trigger_id: int, db: DbDep, actor: ActorDep, next: Text = ""
) -> Response:
    return _act(
        request,
        db,
        next,
        lambda: actions.acknowledge_trigger(db, trigger_id=trigger_id, actor=actor, now=utc_now()),
    )


@router.post("/triggers/{trigger_id}/resolve", name="triggers.resolve")
def resolve(
    request: Request,
    trigger_id: int,
    db: DbDep,
    actor: ActorDep,
    next: Text = "",
    outcome: Text = "",
) -> Response:
    return _act(
        request,
        db,
        next,
        lambda: actions.resolve_trigger(
            db, trigger_id=trigger_id, actor=actor, outcome=outcome, now=utc_now()
        ),
    )
