"""Enrolment in the browser (``GET/POST /patients/new``): identity, contact, consent, navigator,
tumour facts and the initial disease state, checked by the same enrolment service as the CLI.

A refused form comes back as a 422 page with every problem beside its field and the values
kept; nothing is written until all are right. A duplicate MRN links to the patient who has it.
After enrolment the browser goes to the new patient's page, where the plan made in the same
transaction is shown.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from surveil.core.vocab import Differentiation, Functional, Hereditary, Resection, Site, Stage
from surveil.core.vocab import StateKind as State
from surveil.db import models as m
from surveil.errors import InvalidInput
from surveil.services.actor import Actor
from surveil.services.labels import state_label
from surveil.services.reading import ReadSession
from surveil.services.records import enrolment
from surveil.services.registry.patients import PatientInput, TumourInput
from surveil.services.registry.search import find_patients
from surveil.services.users.accounts import list_users
from surveil.web.contexts import Option
from surveil.web.deps import (
    ActorDep,
    EngineDep,
    ReadDbDep,
    SettingsDep,
    UserDep,
    clinic_today,
    flash,
    frame,
    render,
)
from surveil.web.form_pages import EnrolPage
from surveil.web.form_state import FormState, enum_options, problems_by_field
from surveil.web.form_values import FormValues, form_values
from surveil.web.tumour_detail_fields import DETAIL_FIELDS, detail_choices, detail_form_values

router = APIRouter()

FormDep = Annotated[FormValues, Depends(form_values)]

PATIENT_FIELDS = (
    "mrn",
    "given_name",
    "family_name",
    "birth_date",
    "sex",
    "timezone",
    "email",
    "phone",
    "preferred_channel",
    "language",
    "hereditary",
    "navigator",
)
TUMOUR_FIELDS = (
    *("site", "differentiation", "ki67", "mitoses"),
    *("stage", "size_mm", "functional", "diagnosed_on"),
    *DETAIL_FIELDS,
)
STATE_FIELDS = ("state", "since", "resection")
FIELDS = PATIENT_FIELDS + TUMOUR_FIELDS + STATE_FIELDS
CHECKBOXES = ("consent_reminders", "opted_out")


@router.get("/patients/new", name="patients.new")
def enrol_form(request: Request, db: ReadDbDep, settings: SettingsDep, user: UserDep) -> Response:
    values = {
        "timezone": settings.clinic.timezone,
        "preferred_channel": m.Channel.EMAIL.value,
        "sex": m.Sex.UNKNOWN.value,
        "hereditary": Hereditary.NONE.value,
        "differentiation": Differentiation.WELL.value,
        "functional": Functional.NONE.value,
        "state": State.ACTIVE_SURVEILLANCE.value,
        "consent_reminders": "yes",
        "navigator": user.username if user.role == m.Role.NAVIGATOR else "",
        **detail_form_values(None),
    }
    form = FormState(values=values, choices=_choices(db, user.clinic))
    page = EnrolPage(frame=frame(request, user, section="enrol", settings=settings), form=form)
    return render(request, "web/patients/forms/enrol.html", page)


@router.post("/patients/new", name="patients.enrol")
def enrol(
    request: Request,
    engine: EngineDep,
    db: ReadDbDep,
    settings: SettingsDep,
    user: UserDep,
    actor: ActorDep,
    values: FormDep,
) -> Response:
    text = values.text
    data = PatientInput(
        **{name: text(name) for name in PATIENT_FIELDS},
        consent_reminders=values.checked("consent_reminders"),
        opted_out=values.checked("opted_out"),
    )
    tumour = TumourInput(**{name: text(name) or None for name in TUMOUR_FIELDS})
    try:
        summary = enrolment.enrol_patient(
            engine,
            actor=actor,
            clinic=user.clinic,
            data=data,
            tumour=tumour,
            state_kind=text("state"),
            since=text("since") or None,
            resection=text("resection") or None,
            settings=settings,
            today=clinic_today(settings),
            require_navigator=True,
        )
    except InvalidInput as error:
        errors, general = problems_by_field(error.problems, FIELDS)
        form = FormState(
            values=values.all, errors=errors, choices=_choices(db, user.clinic), general=general
        )
        page = EnrolPage(
            frame=frame(request, user, section="enrol", settings=settings),
            form=form,
            existing=_existing(db, actor, user.clinic, text("mrn"), errors),
        )
        return render(request, "web/patients/forms/enrol.html", page, status_code=422)
    # No name in the message: flashes travel in the (signed, not encrypted) session cookie.
    flash(request, "Enrolled: the follow-up plan below was made at once.")
    return RedirectResponse(f"/patients/{summary['id']}", status_code=303)


def _existing(
    db: ReadSession, actor: Actor, clinic: str, mrn: str, errors: dict[str, tuple[str, ...]]
) -> str:
    """The page of the patient who already has this MRN, when that is what was refused."""
    if not any("already exists" in e for e in errors.get("mrn", ())):
        return ""
    found = find_patients(db, actor=actor, text=mrn.strip())
    match = next((p for p in found.rows if p.mrn == mrn.strip() and p.clinic == clinic), None)
    return f"/patients/{match.id}" if match else ""


def _choices(db: ReadSession, clinic: str) -> dict[str, tuple[Option, ...]]:
    navigators = tuple(
        Option(u.username, f"{u.display_name or u.username} ({u.role})")
        for u in list_users(db, clinic=clinic)
        if u.active and u.role != m.Role.ADMIN
    )
    return {
        "sex": enum_options(m.Sex),
        "preferred_channel": enum_options(
            m.Channel, words={"email": "e-mail", "sms": "text message (SMS)", "none": "none"}
        ),
        "hereditary": enum_options(Hereditary),
        "navigator": (Option("", "choose…"), *navigators),
        "site": (Option("", "choose…"), *enum_options(Site)),
        "differentiation": enum_options(Differentiation),
        "stage": enum_options(Stage, blank="not known"),
        "functional": enum_options(Functional),
        "state": enum_options(State, words={s.value: state_label(s.value) for s in State}),
        "resection": enum_options(Resection, blank="not resected / not known"),
        **detail_choices(),
    }
