"""The patient list (``/patients?q=``): find any patient of the clinic, on today's worklist or not.

The search box in every page's header sends its text here. The text is PHI (a name, a birth
date), so it is never logged: ``cli.serve`` redacts ``q`` from the access log, and the list is
not audited (opening a patient is).
"""

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from surveil.config import Settings
from surveil.services.labels import kind_label, state_label
from surveil.services.registry.search import MAX_TEXT, FoundPatient, find_patients
from surveil.web.contexts import FoundRow, PatientListPage
from surveil.web.deps import (
    ReadDbDep,
    ReaderActorDep,
    ReaderDep,
    SettingsDep,
    clinic_today,
    frame,
    render,
)
from surveil.web.patients import item_status

router = APIRouter()


@router.get("/patients", name="patients.index")
def patient_list(
    request: Request,
    db: ReadDbDep,  # a read-only snapshot, like the worklist
    settings: SettingsDep,
    user: ReaderDep,
    actor: ReaderActorDep,
    q: Annotated[str, Query(max_length=MAX_TEXT)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    found = find_patients(db, actor=actor, text=q, page=page)
    ctx = PatientListPage(
        frame=frame(request, user, section="patients", settings=settings, search=found.text),
        found=found,
        rows=tuple(_row(p, settings) for p in found.rows),
        prev_url=_url(found.text, found.page - 1) if found.page > 1 else None,
        next_url=_url(found.text, found.page + 1) if found.page < found.pages else None,
    )
    return render(request, "web/patients/index.html", ctx)


def _row(patient: FoundPatient, settings: Settings) -> FoundRow:
    state = "deceased" if patient.deceased_on else state_label(patient.state)
    item = patient.next_item
    if item is None:
        return FoundRow(patient, state, "–", "nothing planned", "none")
    status, tone = item_status(item, clinic_today(settings), settings.worklist.soon_days)
    return FoundRow(patient, state, f"{kind_label(item.kind)}, target {item.target}", status, tone)


def _url(text: str, page: int) -> str:
    kept = {k: v for k, v in (("q", text), ("page", str(page))) if v and v != "1"}
    return "/patients" + (f"?{urlencode(kept)}" if kept else "")
