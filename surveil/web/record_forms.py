"""The patient page's small forms (``POST /patients/{id}/<form>``): tumour facts, a pathology
report, a disease-state change, contact details, consent, preferences, navigator, date of death.

Each calls its entry point in ``services.records.keeping`` (which owns the transaction, the
audit, the triggers and the replan), then goes back to the patient page (303) with a message
saying what changed and what that did to the plan. A refused form is shown again on its own
(422) with every problem beside its field and the values typed; nothing was written.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from surveil.core.vocab import Differentiation, Functional, Resection, Site, Sstr, Stage, StateKind
from surveil.db import models as m
from surveil.errors import InvalidInput
from surveil.services.actor import Actor
from surveil.services.labels import state_label, trigger_label
from surveil.services.reading import ReadSession
from surveil.services.records import keeping
from surveil.services.records.keeping import KeptOutcome
from surveil.services.registry.patients import PatientInput, TumourInput
from surveil.services.registry.record import PatientRecord
from surveil.services.reminders.hours import set_send_window
from surveil.services.users.accounts import list_users, visible_patient
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
    utc_now,
)
from surveil.web.enrol import FormDep
from surveil.web.form_pages import RecordFormPage
from surveil.web.form_state import FormState, enum_options, problems_by_field
from surveil.web.form_values import FormValues
from surveil.web.tumour_detail_fields import DETAIL_FIELDS, detail_choices, detail_form_values

router = APIRouter()

CHANNELS = {"email": "e-mail", "sms": "text message (SMS)", "none": "no messages"}


@dataclass(frozen=True)
class FormSpec:
    title: str
    fields: tuple[str, ...]
    aliases: tuple[tuple[str, str], ...] = ()  # a service's field name → the form's


SPECS: dict[str, FormSpec] = {
    "tumour": FormSpec(
        "Tumour facts",
        (
            *("site", "differentiation", "ki67", "mitoses", "stage", "size_mm"),
            *("sstr_status", "sstr_date", "functional", "diagnosed_on"),
            *DETAIL_FIELDS,
        ),
    ),
    "pathology": FormSpec("Pathology report", ("date", "ki67", "mitoses", "differentiation")),
    "state": FormSpec(
        "Disease state", ("kind", "since", "resection", "reason"), (("state", "kind"),)
    ),
    "contact": FormSpec("Contact details", ("phone", "email")),
    "consent": FormSpec("Consent and opt-out", ("consent_reminders", "opted_out")),
    "preferences": FormSpec(
        "Language, channel and time zone", ("language", "preferred_channel", "timezone")
    ),
    "navigator": FormSpec("Navigator", ("navigator",)),
    "hours": FormSpec(
        "Reminder hours and language", ("send_window_start", "send_window_end", "language")
    ),
    "deceased": FormSpec("Date of death", ("deceased_on",)),
}

Call = Callable[[FormValues], KeptOutcome]


def record_forms(db: ReadSession, record: PatientRecord) -> dict[str, FormState]:
    """The patient page's forms, filled with the record as it stands."""
    p, t = record.patient, record.tumour
    now = {
        "tumour": _tumour_values(t)
        if t
        else {"differentiation": "well", "functional": "none", **detail_form_values(None)},
        "pathology": {"differentiation": ""},
        "state": {"kind": record.state.kind if record.state else ""},
        "contact": {"phone": p.phone or "", "email": p.email or ""},
        "consent": {
            "consent_reminders": "yes" if p.consent_reminders else "",
            "opted_out": "yes" if p.opted_out else "",
        },
        "preferences": {
            "language": p.language or "",
            "preferred_channel": p.preferred_channel,
            "timezone": p.timezone,
        },
        "navigator": {"navigator": _navigator_of(db, p)},
        "hours": {
            "send_window_start": _hh_mm(p.send_window_start),
            "send_window_end": _hh_mm(p.send_window_end),
            "language": p.language or "",
        },
        "deceased": {"deceased_on": str(p.deceased_on or "")},
    }
    choices = _choices(db, p.clinic)
    return {name: FormState(values=values, choices=choices) for name, values in now.items()}


def _hh_mm(at: dt.time | None) -> str:
    return "" if at is None else f"{at:%H:%M}"


def _tumour_values(t: m.Tumour) -> dict[str, str]:
    def text(value: Any) -> str:
        return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)

    plain = (name for name in SPECS["tumour"].fields if name not in DETAIL_FIELDS)
    return {**{name: text(getattr(t, name)) for name in plain}, **detail_form_values(t)}


def _navigator_of(db: ReadSession, patient: m.Patient) -> str:
    users = list_users(db, clinic=patient.clinic)
    return next((u.username for u in users if u.id == patient.navigator_id), "")


def _choices(db: ReadSession, clinic: str) -> dict[str, tuple[Option, ...]]:
    navigators = tuple(
        Option(u.username, f"{u.display_name or u.username} ({u.role})")
        for u in list_users(db, clinic=clinic)
        if u.active and u.role != m.Role.ADMIN
    )
    return {
        "site": enum_options(Site),
        "differentiation": enum_options(Differentiation),
        "pathology_differentiation": enum_options(Differentiation, blank="as before"),
        "stage": enum_options(Stage, blank="not known"),
        "sstr_status": enum_options(Sstr),
        "functional": enum_options(Functional),
        **detail_choices(),
        "kind": (
            Option("", "choose…"),
            *enum_options(StateKind, words={s.value: state_label(s.value) for s in StateKind}),
        ),
        "resection": enum_options(Resection, blank="not resected / not known"),
        "preferred_channel": enum_options(m.Channel, words=CHANNELS),
        "navigator": (Option("", "choose…"), *navigators),
    }


# --------------------------------------------------------------------------- the routes


def _submit(
    request: Request,
    name: str,
    patient_id: int,
    values: FormValues,
    db: ReadSession,
    user: m.User,
    call: Call,
) -> Response:
    spec = SPECS[name]
    try:
        outcome = call(values)
    except InvalidInput as error:
        return _refused(request, name, patient_id, values, db, user, error)
    flash(request, f"{spec.title}: {outcome.message}. {outcome.plan.summary()}")
    for kind in outcome.new_triggers:
        flash(request, f"New trigger: {trigger_label(kind)}. See Triggers.", kind="alert")
    return RedirectResponse(f"/patients/{patient_id}", status_code=303)


def _refused(
    request: Request,
    name: str,
    patient_id: int,
    values: FormValues,
    db: ReadSession,
    user: m.User,
    error: InvalidInput,
) -> Response:
    """The form again (422), with what was typed and every problem beside its field."""
    spec = SPECS[name]
    errors, general = problems_by_field(error.problems, spec.fields, dict(spec.aliases))
    settings = request.app.state.settings
    page = RecordFormPage(
        frame=frame(request, user, section="patients", settings=settings),
        form=FormState(
            values=values.all,
            errors=errors,
            choices=_choices(db, _clinic_of(db, user, patient_id)),
            general=general,
        ),
        patient_id=patient_id,
        title=spec.title,
        template=name,
    )
    return render(request, "web/patients/forms/refused.html", page, status_code=422)


@router.post("/patients/{patient_id}/hours", name="patients.hours")
def hours(
    request: Request,
    patient_id: int,
    engine: EngineDep,
    db: ReadDbDep,
    settings: SettingsDep,
    user: UserDep,
    actor: ActorDep,
    values: FormDep,
) -> Response:
    """The patient's preferred reminder hours and language (``reminders.hours``): not clinical
    data, so nothing is re-planned; waiting reminders move to the new hours."""
    try:
        done = set_send_window(
            engine,
            actor=actor,
            patient_id=patient_id,
            start=values.text("send_window_start"),
            end=values.text("send_window_end"),
            language=values.text("language"),
            settings=settings,
            now=utc_now(),
        )
    except InvalidInput as error:
        return _refused(request, "hours", patient_id, values, db, user, error)
    when = done.window or f"the clinic's time, {done.send_time} theirs"
    moved = f"{done.moved} waiting reminder(s) moved"
    flash(request, f"Reminder hours: {when}; {moved}. The plan did not change.")
    return RedirectResponse(f"/patients/{patient_id}", status_code=303)


def _clinic_of(db: ReadSession, user: m.User, patient_id: int) -> str:
    """The patient's clinic (whose navigators the form offers): the user's own unless an
    administrator, who works for every clinic. The entry point has already checked access."""
    if user.role != m.Role.ADMIN:
        return user.clinic
    return visible_patient(db, actor=Actor.of(user), patient_id=patient_id).clinic


def _blank_none(value: str) -> str | None:
    return value or None


@router.post("/patients/{patient_id}/tumour", name="patients.tumour")
def tumour(
    request: Request,
    patient_id: int,
    engine: EngineDep,
    db: ReadDbDep,
    settings: SettingsDep,
    user: UserDep,
    actor: ActorDep,
    values: FormDep,
) -> Response:
    def call(v: FormValues) -> KeptOutcome:
        data = TumourInput(**{f: _blank_none(v.text(f)) for f in SPECS["tumour"].fields})
        return keeping.update_tumour(
            engine,
            actor=actor,
            patient_id=patient_id,
            data=data,
            settings=settings,
            today=clinic_today(settings),
        )

    return _submit(request, "tumour", patient_id, values, db, user, call)


@router.post("/patients/{patient_id}/pathology", name="patients.pathology")
def pathology(
    request: Request,
    patient_id: int,
    engine: EngineDep,
    db: ReadDbDep,
    settings: SettingsDep,
    user: UserDep,
    actor: ActorDep,
    values: FormDep,
) -> Response:
    def call(v: FormValues) -> KeptOutcome:
        return keeping.record_pathology(
            engine,
            actor=actor,
            patient_id=patient_id,
            date=v.text("date"),
            ki67=v.text("ki67"),
            mitoses=v.text("mitoses"),
            differentiation=v.text("differentiation"),
            settings=settings,
            today=clinic_today(settings),
        )

    return _submit(request, "pathology", patient_id, values, db, user, call)


@router.post("/patients/{patient_id}/state", name="patients.state")
def state(
    request: Request,
    patient_id: int,
    engine: EngineDep,
    db: ReadDbDep,
    settings: SettingsDep,
    user: UserDep,
    actor: ActorDep,
    values: FormDep,
) -> Response:
    def call(v: FormValues) -> KeptOutcome:
        return keeping.change_state(
            engine,
            actor=actor,
            patient_id=patient_id,
            kind=v.text("kind"),
            since=v.text("since"),
            resection=v.text("resection"),
            reason=v.text("reason"),
            settings=settings,
            today=clinic_today(settings),
        )

    return _submit(request, "state", patient_id, values, db, user, call)


@router.post("/patients/{patient_id}/navigator", name="patients.navigator")
def navigator(
    request: Request,
    patient_id: int,
    engine: EngineDep,
    db: ReadDbDep,
    settings: SettingsDep,
    user: UserDep,
    actor: ActorDep,
    values: FormDep,
) -> Response:
    def call(v: FormValues) -> KeptOutcome:
        return keeping.reassign_navigator(
            engine,
            actor=actor,
            patient_id=patient_id,
            navigator=v.text("navigator"),
            settings=settings,
            today=clinic_today(settings),
        )

    return _submit(request, "navigator", patient_id, values, db, user, call)


# The forms that change the patient's own details, and how each reads its fields.
DETAILS: dict[str, Callable[[FormValues], PatientInput]] = {
    "contact": lambda v: PatientInput(phone=v.text("phone"), email=v.text("email")),
    "consent": lambda v: PatientInput(
        consent_reminders=v.checked("consent_reminders"), opted_out=v.checked("opted_out")
    ),
    "preferences": lambda v: PatientInput(
        language=v.text("language"),
        preferred_channel=v.text("preferred_channel"),
        timezone=v.text("timezone"),
    ),
    "deceased": lambda v: PatientInput(deceased_on=v.text("deceased_on")),
}


def _details_route(name: str) -> None:
    def route(
        request: Request,
        patient_id: int,
        engine: EngineDep,
        db: ReadDbDep,
        settings: SettingsDep,
        user: UserDep,
        actor: ActorDep,
        values: FormDep,
    ) -> Response:
        def call(v: FormValues) -> KeptOutcome:
            return keeping.update_details(
                engine,
                actor=actor,
                patient_id=patient_id,
                data=DETAILS[name](v),
                settings=settings,
                today=clinic_today(settings),
            )

        return _submit(request, name, patient_id, values, db, user, call)

    router.add_api_route(
        f"/patients/{{patient_id}}/{name}", route, methods=["POST"], name=f"patients.{name}"
    )


for _name in DETAILS:
    _details_route(_name)
