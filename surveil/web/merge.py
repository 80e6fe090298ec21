"""The administrators' merge form on a patient's page (merge a duplicate record into this one)
and its undo, or making it final, on the merged record's page. The service checks the role and
the clinic again and moves the history (``services.records.merge``)."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from surveil.services.records import merge as merging
from surveil.web.actions import EngineDep, act_and_redirect
from surveil.web.deps import ReaderActorDep, SettingsDep, clinic_today, utc_now

router = APIRouter()

Text = Annotated[str, Form(max_length=300)]


@router.post("/patients/merge", name="patients.merge")
def merge(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    actor: ReaderActorDep,
    clinic: Text,
    keep: Text,
    gone: Text = "",
    reason: Text = "",
    next: Text = "",
) -> Response:
    today = clinic_today(settings)
    return act_and_redirect(
        request,
        next,
        lambda: merging.merge_patients(
            engine,
            actor=actor,
            keep_mrn=keep,
            gone_mrn=gone.strip(),
            clinic=clinic,
            reason=reason,
            settings=settings,
            today=today,
            now=utc_now(),
        ),
    )


@router.post("/patients/unmerge", name="patients.unmerge")
def unmerge(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    actor: ReaderActorDep,
    clinic: Text,
    gone: Text,
    reason: Text = "",
    next: Text = "",
) -> Response:
    today = clinic_today(settings)
    return act_and_redirect(
        request,
        next,
        lambda: merging.unmerge_patient(
            engine,
            actor=actor,
            gone_mrn=gone,
            clinic=clinic,
            reason=reason,
            settings=settings,
            today=today,
            now=utc_now(),
        ),
    )


@router.post("/patients/purge-merge", name="patients.purge_merge")
def purge_merge(
    request: Request,
    engine: EngineDep,
    actor: ReaderActorDep,
    clinic: Text,
    gone: Text,
    reason: Text = "",
    next: Text = "",
) -> Response:
    return act_and_redirect(
        request,
        next,
        lambda: merging.purge_merge(
            engine, actor=actor, gone_mrn=gone, clinic=clinic, reason=reason, now=utc_now()
        ),
    )
