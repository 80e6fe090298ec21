"""The patient page's forms for results and therapies (issue 13 part B-2): a lesion measurement,
a marker result, a therapy, each dose of a therapy given, a symptom, and the strike-out or
correction of a mistyped measurement or marker. Each posts to its own route under
``/patients/{id}/...`` and calls one service entry point (which validates, writes, re-runs the
triggers and the plan, and audits, in one transaction). A refused post answers 422 with the form
as it was typed and every problem beside its field; an accepted one redirects back (303) with a
message saying what changed in the plan."""

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from surveil.db import models as m
from surveil.errors import Conflict, InvalidInput
from surveil.services.labels import kind_label, trigger_label
from surveil.services.outcome import Outcome
from surveil.services.reading import ReadSession
from surveil.services.recordkeeping import corrections, doses
from surveil.services.recordkeeping.panel import CarePanel, care_panel
from surveil.services.records import results
from surveil.web import form_specs as forms
from surveil.web.contexts import Frame
from surveil.web.deps import (
    ActorDep,
    EngineDep,
    SettingsDep,
    UserDep,
    clinic_today,
    flash,
    frame,
    render,
)

router = APIRouter()

Text = Annotated[str, Form(max_length=500)]


@dataclass(frozen=True)
class RefusedForm:
    """A form posted with problems, drawn again (422)."""

    frame: Frame
    form: forms.FormSpec
    back: str  # the patient page's section the form lives in


@dataclass(frozen=True)
class Post:
    """What a route hands to ``submit``: who, where, and what was typed."""

    request: Request
    user: UserDep
    settings: SettingsDep
    patient_id: int
    anchor: str


def submit(
    post: Post, form: forms.FormSpec, values: Mapping[str, str], call: Callable[[], Outcome]
) -> Response:
    back = f"/patients/{post.patient_id}#{post.anchor}"
    try:
        outcome = call()
    except InvalidInput as refused:
        page = RefusedForm(
            frame=frame(post.request, post.user, section="patients", settings=post.settings),
            form=form.refilled(values, refused.problems),
            back=back,
        )
        return render(
            post.request, "web/patients/forms/results_refused.html", page, status_code=422
        )
    except Conflict as error:
        flash(post.request, f"Nothing was changed: {error}", kind="error")
        return RedirectResponse(back, status_code=303)
    say(post.request, outcome)
    return RedirectResponse(back, status_code=303)


def say(request: Request, outcome: Outcome) -> None:
    """The flash after a change: what was done, what it did to the plan, any new trigger."""
    changes = list(outcome.plan_changes) or ["the plan is unchanged"]
    flash(request, outcome.message[:1].upper() + outcome.message[1:] + ".", problems=changes)
    for kind in outcome.new_triggers:
        flash(request, f"New trigger: {trigger_label(kind)}. See Triggers.", kind="alert")


@dataclass(frozen=True)
class CareSection:
    """The patient page's record-keeping section: what is recorded and the empty forms."""

    panel: CarePanel
    measurement: forms.FormSpec
    marker: forms.FormSpec
    therapy: forms.FormSpec
    symptom: forms.FormSpec
    outreach: forms.FormSpec
    doses: dict[int, forms.FormSpec]
    strikes: dict[str, forms.FormSpec]  # "measurement-12" -> its strike-out form
    corrections: dict[str, forms.FormSpec]


def care_section(
    db: ReadSession, *, patient_id: int, today: dt.date, open_items: Sequence[m.FollowUpItem]
) -> CareSection:
    panel = care_panel(db, patient_id=patient_id)
    rows = [("measurement", r) for r in panel.measurements if not r.struck] + [
        ("marker", r) for r in panel.markers if not r.struck
    ]
    items = tuple((str(i.id), f"{kind_label(i.kind)}, target {i.target}") for i in open_items)
    return CareSection(
        panel=panel,
        measurement=forms.measurement_form(patient_id, today),
        marker=forms.marker_form(patient_id, today),
        therapy=forms.therapy_form(patient_id, today),
        symptom=forms.symptom_form(patient_id, today),
        outreach=forms.outreach_form(patient_id, items),
        doses={
            t.id: forms.dose_form(patient_id, t.id, t.label, today)
            for t in panel.therapies
            if t.takes_doses
        },
        strikes={f"{w}-{r.id}": forms.strike_form(patient_id, w, r.id) for w, r in rows},
        corrections={f"{w}-{r.id}": forms.correct_form(patient_id, w, r.id) for w, r in rows},
    )


@router.post("/patients/{patient_id}/measurements", name="results.measurement")
def add_measurement(
    request: Request,
    patient_id: int,
    engine: EngineDep,
    settings: SettingsDep,
    user: UserDep,
    actor: ActorDep,
    lesion: Text = "",
    date: Text = "",
    diameter_mm: Text = "",
    modality: Text = "",
) -> Response:
    today = clinic_today(settings)
    values = {"lesion": lesion, "date": date, "diameter_mm": diameter_mm, "modality": modality}
    return submit(
        Post(request, user, settings, patient_id, "results"),
        forms.measurement_form(patient_id, today),
        values,
        lambda: results.record_measurement(
            engine, actor=actor, patient_id=patient_id, settings=settings, today=today, **values
        ),
    )


@router.post("/patients/{patient_id}/markers", name="results.marker")
def add_marker(
    request: Request,
    patient_id: int,
    engine: EngineDep,
    settings: SettingsDep,
    user: UserDep,
    actor: ActorDep,
    name: Text = "",
    value: Text = "",
    unit: Annotated[str, Form(max_length=16)] = "",
    uln: Text = "",
    date: Text = "",
    on_ppi: Text = "",
) -> Response:
    today = clinic_today(settings)
    values = {"name": name, "value": value, "unit": unit, "uln": uln, "date": date}
    return submit(
        Post(request, user, settings, patient_id, "results"),
        forms.marker_form(patient_id, today),
        values | {"on_ppi": on_ppi},
        lambda: results.record_marker(
            engine,
            actor=actor,
            patient_id=patient_id,
            name=name,
            value=value,
            unit=unit,
            uln=uln or None,
            date=date,
            on_ppi=on_ppi == "yes",
            settings=settings,
            today=today,
        ),
    )


@router.post("/patients/{patient_id}/therapies", name="results.therapy")
def add_therapy(
    request: Request,
    patient_id: int,
    engine: EngineDep,
    settings: SettingsDep,
    user: UserDep,
    actor: ActorDep,
    kind: Text = "",
    agent: Annotated[str, Form(max_length=64)] = "",
    started_on: Text = "",
    ended_on: Text = "",
    cycles_given: Text = "",
    last_given_on: Text = "",
    resection: Text = "",
) -> Response:
    today = clinic_today(settings)
    values = {
        "kind": kind,
        "agent": agent,
        "started_on": started_on,
        "ended_on": ended_on,
        "cycles_given": cycles_given,
        "last_given_on": last_given_on,
        "resection": resection,
    }
    given = {k: v.strip() or None for k, v in values.items()}
    return submit(
        Post(request, user, settings, patient_id, "therapies"),
        forms.therapy_form(patient_id, today),
        values,
        lambda: results.record_therapy(
            engine,
            actor=actor,
            patient_id=patient_id,
            kind=given["kind"],
            agent=given["agent"],
            started_on=given["started_on"],
            ended_on=given["ended_on"],
            cycles_given=given["cycles_given"],
            last_given_on=given["last_given_on"],
            resection=given["resection"],
            settings=settings,
            today=today,
        ),
    )


@router.post("/patients/{patient_id}/therapies/{therapy_id}/doses", name="results.dose")
def add_dose(
    request: Request,
    patient_id: int,
    therapy_id: int,
    engine: EngineDep,
    settings: SettingsDep,
    user: UserDep,
    actor: ActorDep,
    given_on: Text = "",
    note: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    today = clinic_today(settings)
    return submit(
        Post(request, user, settings, patient_id, "therapies"),
        forms.dose_form(patient_id, therapy_id, "therapy", today),
        {"given_on": given_on, "note": note},
        lambda: doses.record_dose(
            engine,
            actor=actor,
            patient_id=patient_id,
            therapy_id=therapy_id,
            given_on=given_on,
            note=note,
            settings=settings,
            today=today,
        ),
    )


@router.post("/patients/{patient_id}/symptoms", name="results.symptom")
def add_symptom(
    request: Request,
    patient_id: int,
    engine: EngineDep,
    settings: SettingsDep,
    user: UserDep,
    actor: ActorDep,
    date: Text = "",
    description: Text = "",
) -> Response:
    today = clinic_today(settings)
    return submit(
        Post(request, user, settings, patient_id, "therapies"),
        forms.symptom_form(patient_id, today),
        {"date": date, "description": description},
        lambda: results.record_symptom(
            engine,
            actor=actor,
            patient_id=patient_id,
            date=date,
            description=description,
            settings=settings,
            today=today,
        ),
    )


# --------------------------------------------------------------------------- corrections


@router.post(
    "/patients/{patient_id}/measurements/{row_id}/strike", name="results.measurement_strike"
)
def strike_measurement(
    request: Request,
    patient_id: int,
    row_id: int,
    engine: EngineDep,
    settings: SettingsDep,
    user: UserDep,
    actor: ActorDep,
    reason: Text = "",
) -> Response:
    today = clinic_today(settings)
    return submit(
        Post(request, user, settings, patient_id, "results"),
        forms.strike_form(patient_id, "measurement", row_id),
        {"reason": reason},
        lambda: corrections.strike_measurement(
            engine,
            actor=actor,
            patient_id=patient_id,
            measurement_id=row_id,
            reason=reason,
            settings=settings,
            today=today,
        ),
    )


@router.post(
    "/patients/{patient_id}/measurements/{row_id}/correct", name="results.measurement_correct"
)
def correct_measurement(
    request: Request,
    patient_id: int,
    row_id: int,
    engine: EngineDep,
    settings: SettingsDep,
    user: UserDep,
    actor: ActorDep,
    diameter_mm: Text = "",
    reason: Text = "",
) -> Response:
    today = clinic_today(settings)
    return submit(
        Post(request, user, settings, patient_id, "results"),
        forms.correct_form(patient_id, "measurement", row_id),
        {"diameter_mm": diameter_mm, "reason": reason},
        lambda: corrections.correct_measurement(
            engine,
            actor=actor,
            patient_id=patient_id,
            measurement_id=row_id,
            diameter_mm=diameter_mm,
            reason=reason,
            settings=settings,
            today=today,
        ),
    )


@router.post("/patients/{patient_id}/markers/{row_id}/strike", name="results.marker_strike")
def strike_marker(
    request: Request,
    patient_id: int,
    row_id: int,
    engine: EngineDep,
    settings: SettingsDep,
    user: UserDep,
    actor: ActorDep,
    reason: Text = "",
) -> Response:
    today = clinic_today(settings)
    return submit(
        Post(request, user, settings, patient_id, "results"),
        forms.strike_form(patient_id, "marker", row_id),
        {"reason": reason},
        lambda: corrections.strike_marker(
            engine,
            actor=actor,
            patient_id=patient_id,
            marker_id=row_id,
            reason=reason,
            settings=settings,
            today=today,
        ),
    )


@router.post("/patients/{patient_id}/markers/{row_id}/correct", name="results.marker_correct")
def correct_marker(
    request: Request,
    patient_id: int,
    row_id: int,
    engine: EngineDep,
    settings: SettingsDep,
    user: UserDep,
    actor: ActorDep,
    value: Text = "",
    reason: Text = "",
) -> Response:
    today = clinic_today(settings)
    return submit(
        Post(request, user, settings, patient_id, "results"),
        forms.correct_form(patient_id, "marker", row_id),
        {"value": value, "reason": reason},
        lambda: corrections.correct_marker(
            engine,
            actor=actor,
            patient_id=patient_id,
            marker_id=row_id,
            value=value,
            reason=reason,
            settings=settings,
            today=today,
        ),
    )
