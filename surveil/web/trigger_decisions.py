"""Form posts for a clinician's decisions on a trigger: resolve (a false alarm undoes what the
trigger changed), confirm its proposed consequences, re-open a resolution with a reason; and a
note, which anyone who may see the patient adds.

Who may do which is the service's rule (``services.triggers.roles``), the same as on the command
line: a navigator's post of a clinical decision is refused with 403 and changes nothing."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from surveil.services.records import trigger_review
from surveil.services.triggers import review
from surveil.web.actions import EngineDep, act_and_redirect
from surveil.web.deps import ReaderActorDep, SettingsDep, clinic_today, utc_now

router = APIRouter()

Text = Annotated[str, Form(max_length=500)]


@router.post("/triggers/{trigger_id}/resolve", name="triggers.resolve")
def resolve(
    request: Request,
    trigger_id: int,
    engine: EngineDep,
    settings: SettingsDep,
    actor: ReaderActorDep,
    next: Text = "",
    outcome: Text = "",
    outcome_code: Text = "",
    false_alarm: Text = "",
) -> Response:
    today = clinic_today(settings)
    return act_and_redirect(
        request,
        next,
        lambda: trigger_review.resolve_trigger(
            engine,
            trigger_id=trigger_id,
            actor=actor,
            outcome=outcome,
            outcome_code=outcome_code or None,
            false_alarm=false_alarm == "yes",
            settings=settings,
            today=today,
            now=utc_now(),
        ),
    )


@router.post("/triggers/{trigger_id}/confirm", name="triggers.confirm")
def confirm(
    request: Request,
    trigger_id: int,
    engine: EngineDep,
    settings: SettingsDep,
    actor: ReaderActorDep,
    next: Text = "",
) -> Response:
    today = clinic_today(settings)
    return act_and_redirect(
        request,
        next,
        lambda: trigger_review.confirm_consequences(
            engine,
            trigger_id=trigger_id,
            actor=actor,
            settings=settings,
            today=today,
            now=utc_now(),
        ),
    )


@router.post("/triggers/{trigger_id}/reopen", name="triggers.reopen")
def reopen(
    request: Request,
    trigger_id: int,
    engine: EngineDep,
    settings: SettingsDep,
    actor: ReaderActorDep,
    next: Text = "",
    reason: Text = "",
) -> Response:
    today = clinic_today(settings)
    return act_and_redirect(
        request,
        next,
        lambda: trigger_review.reopen_trigger(
            engine,
            trigger_id=trigger_id,
            actor=actor,
            reason=reason,
            settings=settings,
            today=today,
            now=utc_now(),
        ),
    )


@router.post("/triggers/{trigger_id}/note", name="triggers.note")
def note(
    request: Request,
    trigger_id: int,
    engine: EngineDep,
    actor: ReaderActorDep,
    next: Text = "",
    note: Text = "",
) -> Response:
    return act_and_redirect(
        request,
        next,
        lambda: review.note_trigger(
            engine, trigger_id=trigger_id, actor=actor, note=note, now=utc_now()
        ),
    )
