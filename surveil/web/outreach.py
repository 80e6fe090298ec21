"""The outreach log's form (``POST /patients/{id}/outreach``): a navigator's call, letter or
message and how it went. It calls ``recordkeeping.outreach.record_outreach``; the log shows on
the patient page and the latest contact on the patient's worklist rows."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from surveil.services.recordkeeping import outreach
from surveil.services.recordkeeping.panel import open_item_choices
from surveil.web import form_specs as forms
from surveil.web.deps import ActorDep, EngineDep, ReadDbDep, SettingsDep, UserDep, utc_now
from surveil.web.result_forms import Post, submit

router = APIRouter()

Text = Annotated[str, Form(max_length=500)]


@router.post("/patients/{patient_id}/outreach", name="outreach.record")
def record(
    request: Request,
    patient_id: int,
    engine: EngineDep,
    settings: SettingsDep,
    user: UserDep,
    actor: ActorDep,
    db: ReadDbDep,
    channel: Text = "",
    result: Text = "",
    item_id: Annotated[str, Form(max_length=12)] = "",
    note: Text = "",
) -> Response:
    values = {"channel": channel, "result": result, "item_id": item_id, "note": note}
    return submit(
        Post(request, user, settings, patient_id, "outreach"),
        # The item choices again, for a refused form (read only: the post itself decides access).
        forms.outreach_form(patient_id, open_item_choices(db, patient_id=patient_id)),
        values,
        lambda: outreach.record_outreach(
            engine,
            actor=actor,
            patient_id=patient_id,
            channel=channel,
            result=result,
            item_id=item_id or None,
            note=note,
            now=utc_now(),
        ),
    )
