"""Registry use-cases: enrol and update patients, record tumours, states and results.

Every function validates all of its input first (``Checker``) and raises InvalidInput before it
writes anything. These are building blocks inside a transaction someone else opened: the entry
points (``registry.enrolment``, ``registry.results``) own the transaction and the audit, so a
failure leaves no trace.
"""

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from surveil.core.digits import is_digits
from surveil.core.grading import who_grade
from surveil.core.names import search_keys
from surveil.core.vocab import (
    Differentiation,
    Functional,
    Hereditary,
    Resection,
    Site,
    Sstr,
    Stage,
    StateKind,
    TherapyKind,
)
from surveil.db import models as m
from surveil.db.base import utcnow
from surveil.errors import Conflict, InvalidInput, NotFound, Problem
from surveil.services.registry.markers import marker_values
from surveil.services.registry.tumour_details import DETAIL_FIELDS, detail_values
from surveil.services.validate import Checker

MODALITIES = ("mri", "ct", "eus", "sstr_pet", "fdg_pet", "ultrasound", "endoscopy")


@dataclass
class PatientInput:
    """What a person typed to enrol or update a patient; every field is raw text."""

    mrn: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    birth_date: str | None = None
    sex: str | None = None
    timezone: str | None = None
    email: str | None = None
    phone: str | None = None
    preferred_channel: str | None = None
    hereditary: str | None = None
    deceased_on: str | None = None
    opted_out: bool | None = None
    navigator: str | None = None
    language: str | None = None  # BCP 47 tag, e.g. "en", "cy", "pt-BR"; "" clears it
    consent_reminders: bool | None = None


def stored_id(row: m.Patient | m.Lesion) -> int:
    """The id of a row already in the database (added and flushed)."""
    if row.id is None:
        raise RuntimeError(f"{type(row).__name__} has no id yet: flush it first")
    return row.id


def add_patient(session: Session, *, clinic: str, data: PatientInput, today: dt.date) -> m.Patient:
    check = Checker(today=today, what="patient")
    mrn = check.text("mrn", data.mrn, max_length=32)
    given = check.text("given_name", data.given_name, max_length=100)
    family = check.text("family_name", data.family_name, max_length=100)
    born = check.date("birth_date", data.birth_date)
    fields = _optional_patient_fields(check, data, born)
    if (
        mrn
        and session.exec(
            select(m.Patient.id).where(m.Patient.clinic == clinic, m.Patient.mrn == mrn)
        ).first()
    ):
        check.fail("mrn", f"{mrn!r} already exists in clinic {clinic!r}")
    navigator_id = _navigator_id(session, check, data.navigator)
    check.raise_if_problems()
    assert mrn and given and family and born
    patient = m.Patient(
        clinic=clinic,
        mrn=mrn,
        given_name=given,
        family_name=family,
        birth_date=born,
        navigator_id=navigator_id,
        **fields,
    )
    patient.search_name, patient.search_given = search_keys(family, given)
    session.add(patient)
    session.flush()
    return patient


def update_patient(
    session: Session, *, patient: m.Patient, data: PatientInput, today: dt.date
) -> m.Patient:
    check = Checker(today=today, what="patient")
    if data.given_name is not None:
        patient.given_name = check.text("given_name", data.given_name) or patient.given_name
    if data.family_name is not None:
        patient.family_name = check.text("family_name", data.family_name) or patient.family_name
    born = patient.birth_date
    if data.birth_date is not None:
        born = check.date("birth_date", data.birth_date) or born
    fields = _optional_patient_fields(check, data, born)
    navigator_id = _navigator_id(session, check, data.navigator)
    check.raise_if_problems()
    patient.birth_date = born
    patient.search_name, patient.search_given = search_keys(patient.family_name, patient.given_name)
    for name, value in fields.items():
        setattr(patient, name, value)
    if data.navigator is not None:
        patient.navigator_id = navigator_id
    patient.updated_at = utcnow()
    session.add(patient)
    session.flush()
    return patient


def _optional_patient_fields(
    check: Checker, data: PatientInput, born: dt.date | None
) -> dict[str, Any]:
    out: dict[str, Any] = _contact_fields(check, data)
    if data.sex is not None:
        out["sex"] = check.choice("sex", data.sex, m.Sex)
    if data.timezone is not None:
        out["timezone"] = check.time_zone("timezone", data.timezone)
    if data.preferred_channel is not None:
        out["preferred_channel"] = check.choice(
            "preferred_channel", data.preferred_channel, m.Channel
        )
    if data.hereditary is not None:
        out["hereditary"] = check.choice("hereditary", data.hereditary, Hereditary)
    if data.deceased_on is not None:
        out["deceased_on"] = check.date(
            "deceased_on",
            data.deceased_on,
            required=False,
            not_before=born,
            not_before_label="the birth date",
        )
    if data.opted_out is not None:
        out["opted_out"] = data.opted_out
    if data.consent_reminders is not None:
        out["consent_reminders"] = data.consent_reminders
    if data.language is not None:
        out["language"] = _language(check, data.language)
    return {k: v for k, v in out.items() if v is not None or k in CLEARABLE}


def _contact_fields(check: Checker, data: PatientInput) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if data.email is not None:
        email = data.email.strip()
        if email and ("@" not in email or " " in email or len(email) > 254):
            check.fail("email", f"{email!r} is not an email address")
        out["email"] = email or None
    if data.phone is not None:
        phone = data.phone.strip().replace(" ", "")
        if phone and not (phone.startswith("+") and is_digits(phone[1:]) and 8 <= len(phone) <= 16):
            check.fail("phone", f"{data.phone!r} is not an international number like +447700900123")
        out["phone"] = phone or None
    return out


# Fields an update may empty (None is then the new value, not "not given").
CLEARABLE = frozenset({"deceased_on", "language", "email", "phone"})
LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*")


def _language(check: Checker, value: str) -> str | None:
    tag = value.strip()
    if tag and (len(tag) > 35 or not LANGUAGE_TAG.fullmatch(tag)):
        check.fail("language", f"{value!r} is not a language tag like en, cy or pt-BR")
    return tag or None


def _navigator_id(session: Session, check: Checker, username: str | None) -> int | None:
    if not username:
        return None
    user = session.exec(select(m.User).where(m.User.username == username)).first()
    if user is None:
        check.fail("navigator", f"no user called {username!r}")
        return None
    return user.id


def get_patient(session: Session, *, mrn: str, clinic: str | None = None) -> m.Patient:
    query = select(m.Patient).where(m.Patient.mrn == mrn)
    if clinic is not None:
        query = query.where(m.Patient.clinic == clinic)
    found = session.exec(query).all()
    if not found:
        raise NotFound(
            f"no patient with MRN {mrn!r}" + (f" in clinic {clinic!r}" if clinic else "")
        )
    if len(found) > 1:
        raise Conflict(f"MRN {mrn!r} exists in several clinics; name the clinic with --clinic")
    return found[0]


def list_patients(
    session: Session,
    *,
    clinic: str | None = None,
    search: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[m.Patient]:
    query = select(m.Patient)
    if clinic:
        query = query.where(m.Patient.clinic == clinic)
    if search:
        like = f"%{search.lower()}%"
        query = query.where(
            func.lower(m.Patient.family_name).like(like)
            | func.lower(m.Patient.given_name).like(like)
            | (m.Patient.mrn == search)
        )
    query = query.order_by(m.Patient.family_name, m.Patient.given_name).offset(offset).limit(limit)
    return list(session.exec(query).all())


# --------------------------------------------------------------------------- tumour and state


@dataclass
class TumourInput:
    site: str | None = None
    differentiation: str | None = None
    ki67: str | None = None
    mitoses: str | None = None
    stage: str | None = None
    size_mm: str | None = None
    sstr_status: str | None = None
    sstr_date: str | None = None
    sstr_method: str | None = None
    functional: str | None = None
    diagnosed_on: str | None = None
    # Pack 2027.1's optional facts (see tumour_details): "unknown" clears one.
    node_status: str | None = None
    adverse_histology: str | None = None
    carcinoid_type: str | None = None
    gastric_type: str | None = None
    carcinoid_heart_disease: str | None = None


def set_tumour(
    session: Session, *, patient: m.Patient, data: TumourInput, today: dt.date
) -> m.Tumour:
    """Create or update the primary tumour; the WHO grade is re-derived from the numbers."""
    tumour = session.exec(select(m.Tumour).where(m.Tumour.patient_id == patient.id)).first()
    check = Checker(today=today, what="tumour")
    values = _tumour_values(check, data, born=patient.birth_date, new=tumour is None)
    details = detail_values(check, {name: getattr(data, name) for name in DETAIL_FIELDS})
    check.raise_if_problems()
    if tumour is None:
        tumour = m.Tumour(patient_id=stored_id(patient), site=str(values["site"]))
    for name, value in values.items():
        if value is not None:
            setattr(tumour, name, value)
    for name, value in details.items():  # None here is a deliberate "unknown": it clears
        setattr(tumour, name, value)
    tumour.grade = who_grade(Differentiation(tumour.differentiation), tumour.ki67, tumour.mitoses)
    session.add(tumour)
    session.flush()
    return tumour


def _tumour_values(
    check: Checker, data: TumourInput, *, born: dt.date | None, new: bool
) -> dict[str, object]:
    return {
        "site": check.choice("site", data.site, Site, required=new),
        "differentiation": check.choice(
            "differentiation", data.differentiation, Differentiation, required=False
        ),
        "ki67": check.number("ki67", data.ki67, required=False, low=0, high=100),
        "mitoses": check.number("mitoses", data.mitoses, required=False, low=0),
        "stage": check.choice("stage", data.stage, Stage, required=False),
        "size_mm": check.number("size_mm", data.size_mm, required=False, positive=True),
        "sstr_status": check.choice("sstr_status", data.sstr_status, Sstr, required=False),
        "sstr_date": check.date("sstr_date", data.sstr_date, required=False),
        "sstr_method": check.text("sstr_method", data.sstr_method, required=False),
        "functional": check.choice("functional", data.functional, Functional, required=False),
        "diagnosed_on": check.date(
            "diagnosed_on",
            data.diagnosed_on,
            required=False,
            not_before=born,
            not_before_label="the birth date",
        ),
    }


def enrol_patient(
    session: Session,
    *,
    clinic: str,
    data: PatientInput,
    tumour: TumourInput | None,
    state_kind: str | None,
    since: str | None,
    resection: str | None,
    today: dt.date,
    require_navigator: bool = False,
) -> m.Patient:
    """Enrol a patient with tumour and disease state, validating all three before writing.
    ``require_navigator``: the web's enrolment names an owner for every new patient."""
    problems: list[Problem] = []
    if require_navigator and not (data.navigator or "").strip():
        problems.append(Problem("navigator", "choose the nurse navigator who owns this patient"))
    patient: m.Patient | None = None
    try:
        patient = add_patient(session, clinic=clinic, data=data, today=today)
    except InvalidInput as error:
        problems += error.problems
    born = patient.birth_date if patient else _quiet_date(data.birth_date)
    check = Checker(today=today)
    if tumour is not None:
        _tumour_values(check, tumour, born=born, new=True)
        detail_values(check, {name: getattr(tumour, name) for name in DETAIL_FIELDS})
    since = since or (tumour.diagnosed_on if tumour else None)
    if state_kind is not None:
        check.choice("state", state_kind, StateKind)
        check.date("since", since, not_before=born, not_before_label="the birth date")
        check.choice("resection", resection, Resection, required=False)
    problems += check.problems
    if problems or patient is None:
        raise InvalidInput(problems, what="patient")
    if tumour is not None:
        set_tumour(session, patient=patient, data=tumour, today=today)
    if state_kind is not None:
        set_state(
            session,
            patient=patient,
            kind=state_kind,
            since=since,
            resection=resection,
            reason="enrolment",
            today=today,
        )
    return patient


def _quiet_date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def set_state(
    session: Session,
    *,
    patient: m.Patient,
    kind: str | None,
    since: str | None,
    resection: str | None = None,
    reason: str = "",
    today: dt.date,
) -> m.DiseaseState:
    """Close the current disease-state episode and open a new one (history is kept)."""
    check = Checker(today=today, what="disease state")
    state_kind = check.choice("kind", kind, StateKind)
    start = check.date(
        "since", since, not_before=patient.birth_date, not_before_label="the birth date"
    )
    res = check.choice("resection", resection, Resection, required=False)
    current = current_state(session, patient_id=patient.id)
    if current and start and start < current.start_date:
        check.fail("since", f"{start} is before the current episode began ({current.start_date})")
    check.raise_if_problems()
    assert state_kind and start
    if current is not None:
        current.end_date = start
        session.add(current)
    episode = m.DiseaseState(
        patient_id=stored_id(patient),
        kind=state_kind,
        start_date=start,
        resection=res,
        reason=reason.strip()[:500],
    )
    session.add(episode)
    session.flush()
    return episode


def current_state(session: Session, *, patient_id: int | None) -> m.DiseaseState | None:
    return session.exec(
        select(m.DiseaseState)
        .where(m.DiseaseState.patient_id == patient_id, col(m.DiseaseState.end_date).is_(None))
        .order_by(col(m.DiseaseState.start_date).desc())
    ).first()


# --------------------------------------------------------------------------- results


def check_measurement(
    *,
    birth_date: dt.date,
    lesion: str | None,
    date: str | None,
    diameter_mm: str | float | None,
    modality: str | None,
    today: dt.date,
) -> tuple[str, dt.date, float, str]:
    """(label, date, mm, modality) checked and normalised: the form's rules, shared by the
    bulk import (InvalidInput names every bad field)."""
    check = Checker(today=today, what="measurement")
    label = check.text("lesion", lesion, max_length=32)
    day = check.date("date", date, not_before=birth_date, not_before_label="the birth date")
    mm = check.number("diameter_mm", diameter_mm, positive=True, high=500)
    mod = (modality or "").strip().lower()
    if mod not in MODALITIES:
        check.fail("modality", f"{modality!r} is not one of: {', '.join(MODALITIES)}")
    check.raise_if_problems()
    assert label and day and mm
    return label, day, mm, mod


def add_measurement(
    session: Session,
    *,
    patient: m.Patient,
    lesion: str | None,
    date: str | None,
    diameter_mm: str | float | None,
    modality: str | None,
    today: dt.date,
) -> m.Measurement:
    label, day, mm, mod = check_measurement(
        birth_date=patient.birth_date, lesion=lesion, date=date, diameter_mm=diameter_mm,
        modality=modality, today=today,
    )  # fmt: skip
    found = session.exec(
        select(m.Lesion).where(m.Lesion.patient_id == patient.id, m.Lesion.label == label)
    ).first()
    if found is None:
        found = m.Lesion(patient_id=stored_id(patient), label=label)
        session.add(found)
        session.flush()
    measurement = m.Measurement(lesion_id=stored_id(found), date=day, diameter_mm=mm, modality=mod)
    session.add(measurement)
    session.flush()
    return measurement


def add_marker(
    session: Session,
    *,
    patient: m.Patient,
    name: str | None,
    value: str | float | None,
    date: str | None,
    unit: str = "",
    uln: str | float | None = None,
    on_ppi: bool = False,
    today: dt.date,
) -> m.MarkerResult:
    result = m.MarkerResult(
        **marker_values(
            patient_id=stored_id(patient),
            birth_date=patient.birth_date,
            name=name,
            value=value,
            date=date,
            unit=unit,
            uln=uln,
            on_ppi=on_ppi,
            today=today,
        )
    )
    session.add(result)
    session.flush()
    return result


def add_pathology(
    session: Session,
    *,
    patient: m.Patient,
    date: str | None,
    ki67: str | float | None,
    mitoses: str | float | None,
    differentiation: str | None = None,
    today: dt.date,
) -> m.PathologyResult:
    check = Checker(today=today, what="pathology result")
    day = check.date("date", date, not_before=patient.birth_date, not_before_label="the birth date")
    k = check.number("ki67", ki67, required=False, low=0, high=100)
    mi = check.number("mitoses", mitoses, required=False, low=0)
    diff = check.choice("differentiation", differentiation, Differentiation, required=False)
    if ki67 in (None, "") and mitoses in (None, ""):
        check.fail("ki67", "give a Ki-67 index or a mitotic count (or both)")
    check.raise_if_problems()
    assert day
    result = m.PathologyResult(
        patient_id=stored_id(patient), date=day, ki67=k, mitoses=mi, differentiation=diff
    )
    session.add(result)
    session.flush()
    return result


def add_therapy(
    session: Session,
    *,
    patient: m.Patient,
    kind: str | None,
    started_on: str | None,
    agent: str | None = None,
    ended_on: str | None = None,
    cycles_given: str | int | None = None,
    last_given_on: str | None = None,
    resection: str | None = None,
    today: dt.date,
) -> m.Therapy:
    check = Checker(today=today, what="therapy")
    therapy_kind = check.choice("kind", kind, TherapyKind)
    start = check.date(
        "started_on", started_on, not_before=patient.birth_date, not_before_label="the birth date"
    )
    end = check.date(
        "ended_on",
        ended_on,
        required=False,
        not_future=False,
        not_before=start,
        not_before_label="started_on",
    )
    last = check.date(
        "last_given_on",
        last_given_on,
        required=False,
        not_before=start,
        not_before_label="started_on",
    )
    cycles = check.number("cycles_given", cycles_given, required=False, low=0, high=100)
    if cycles is not None and cycles != int(cycles):
        check.fail("cycles_given", f"{cycles_given!r} is not a whole number")
    margin = check.choice("resection", resection, Resection, required=False)
    if margin is not None and therapy_kind != TherapyKind.SURGERY:
        check.fail("resection", "an R status belongs to surgery only")
    check.raise_if_problems()
    assert therapy_kind and start
    therapy = m.Therapy(
        patient_id=stored_id(patient),
        kind=therapy_kind,
        agent=agent,
        started_on=start,
        ended_on=end,
        cycles_given=None if cycles is None else int(cycles),
        last_given_on=last,
        resection=margin,
    )
    session.add(therapy)
    session.flush()
    return therapy


def add_symptom(
    session: Session,
    *,
    patient: m.Patient,
    date: str | None,
    description: str | None,
    today: dt.date,
) -> m.Symptom:
    check = Checker(today=today, what="symptom")
    day = check.date("date", date, not_before=patient.birth_date, not_before_label="the birth date")
    text = check.text("description", description, max_length=500)
    check.raise_if_problems()
    assert day and text
    symptom = m.Symptom(patient_id=stored_id(patient), date=day, description=text)
    session.add(symptom)
    session.flush()
    return symptom
