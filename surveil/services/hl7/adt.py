"""ADT: demographics, contact and death of a known patient (A01/A04/A08/A28/A31, A03), and a
merge (A40) recorded for a navigator.

An A01/A04/A28 for an MRN surveil does not know is queued, or, with ``[hl7] enrol_unknown``,
enrols the patient through the enrolment service (``records.enrolment.enrol``: the same checks
and audit as the form) in the configured clinic and zone. A03 (the end of a hospital stay) does
what ``[hl7] a03`` says: ``update`` (as A08), ``ignore``, ``queue`` for a navigator, or
``discharge`` from follow-up here (a disease-state episode through ``records.enrolment``, which
stops the plan and reminders at once).

Names, birth date, phone and email come from PID-5, PID-7 and PID-13/14 when present (an empty
field changes nothing: HL7 says "" to clear, which surveil does not take from a feed). A date of
death (PID-29) or the death indicator (PID-30 = Y) records the death at once: the plan stops and
no reminder is planned or sent for a deceased patient.
"""

import dataclasses

import hl7

from surveil.core.vocab import StateKind
from surveil.db import models as m
from surveil.errors import InvalidInput
from surveil.services.audit import audit
from surveil.services.hl7.context import (
    Context,
    Unapplicable,
    UnknownPatient,
    find_patient,
    identifier,
    pid_segment,
)
from surveil.services.hl7.parse import (
    component,
    field,
    hl7_date,
    repetition_count,
    segments,
)
from surveil.services.planning import care
from surveil.services.records import enrolment
from surveil.services.registry import patients as registry
from surveil.services.registry.patients import PatientInput

WATCHED = ("given_name", "family_name", "birth_date", "email", "phone", "deceased_on")


ENROLS = frozenset({"ADT^A01", "ADT^A04", "ADT^A28"})
DISCHARGE_REASON = "discharged by the hospital (HL7 A03)"


def apply_demographics(context: Context) -> str:
    kind, settings = context.row.kind, context.settings.hl7
    if kind == "ADT^A03" and settings.a03 != "update":
        return _a03(context, settings.a03)
    try:
        patient = find_patient(context)
    except UnknownPatient:
        if kind in ENROLS and settings.enrol_unknown and context.patient_id is None:
            return _enrol(context)
        raise
    pid = pid_segment(context)
    data = PatientInput(
        family_name=component(pid, 5, 1) or None,
        given_name=component(pid, 5, 2) or None,
        birth_date=hl7_date(field(pid, 7)),
        phone=_telecom(pid, email=False),
        email=_telecom(pid, email=True),
        deceased_on=_death(pid, context),
    )
    before = {name: getattr(patient, name) for name in WATCHED}
    skipped = _update(context, patient, data)
    after = {name: getattr(patient, name) for name in WATCHED}
    changed = [name for name in WATCHED if before[name] != after[name]]
    if not changed:
        return "demographics unchanged" + skipped
    words = "updated " + ", ".join(name.replace("_", " ") for name in changed) + skipped
    audit(
        context.session,
        actor=context.actor,
        action="patient.updated",
        patient_id=patient.id,
        subject=f"patient:{patient.id}",
        before={k: before[k] for k in changed},
        after={k: after[k] for k in changed},
        detail=f"{words} (HL7)",
    )
    care.refresh_patient(
        context.session,
        patient=patient,
        settings=context.settings,
        today=context.today,
        channel=context.actor.channel,
    )
    return words


def _a03(context: Context, mode: str) -> str:
    if mode == "ignore":
        return "end of a hospital stay (A03): nothing changed ([hl7] a03 = ignore)"
    patient = find_patient(context)
    day = _event_day(context)
    if mode == "queue":
        raise Unapplicable(
            f"the hospital discharged MRN {patient.mrn} from a stay on {day} (A03): decide "
            "whether follow-up here goes on",
            patient_id=patient.id,
        )
    current = registry.current_state(context.session, patient_id=patient.id)
    if current is not None and current.kind == StateKind.DISCHARGED.value:
        return f"already discharged since {current.start_date}: nothing changed"
    episode = enrolment.set_state(
        context.session,
        actor=context.actor,
        patient=patient,
        kind=StateKind.DISCHARGED.value,
        since=day,
        resection=None,
        reason=DISCHARGE_REASON,
        settings=context.settings,
        today=context.today,
    )
    return f"discharged from follow-up on {episode.start_date}: plan and reminders stopped"


def _event_day(context: Context) -> str:
    """PV1-45 (discharge date), else EVN-6 / EVN-2, else today; never after today."""
    day = None
    for pv1 in segments(context.message, "PV1"):
        day = hl7_date(field(pv1, 45))
    for evn in segments(context.message, "EVN"):
        day = day or hl7_date(field(evn, 6)) or hl7_date(field(evn, 2))
    today = context.today.isoformat()
    return min(day, today) if day else today


def _enrol(context: Context) -> str:
    """Enrol the unknown patient of an A01/A04/A28 (``[hl7] enrol_unknown``)."""
    pid = pid_segment(context)
    clinic = context.settings.clinic
    data = PatientInput(
        mrn=identifier(context),
        family_name=component(pid, 5, 1) or None,
        given_name=component(pid, 5, 2) or None,
        birth_date=hl7_date(field(pid, 7)),
        sex=SEXES.get(component(pid, 8, 1).upper(), "unknown"),
        timezone=context.settings.hl7.enrol_timezone or clinic.timezone,
        phone=_telecom(pid, email=False),
        email=_telecom(pid, email=True),
        deceased_on=_death(pid, context),
    )
    try:
        patient = _enrolled(context, data)
    except InvalidInput as error:
        if {p.field for p in error.problems} != {"phone"}:
            raise
        patient = _enrolled(context, dataclasses.replace(data, phone=None))
    context.row.patient_id = patient.id
    return f"enrolled MRN {patient.mrn} in {clinic.name} ([hl7] enrol_unknown): no tumour yet"


def _enrolled(context: Context, data: PatientInput) -> m.Patient:
    return enrolment.enrol(
        context.session,
        actor=context.actor,
        clinic=context.settings.clinic.name,
        data=data,
        tumour=None,
        state_kind=None,
        since=None,
        resection=None,
        settings=context.settings,
        today=context.today,
    )


# PID-8 (HL7 table 0001) to surveil's sexes.
SEXES = {"F": "female", "M": "male", "O": "other", "A": "other", "N": "other", "U": "unknown"}


def _update(context: Context, patient: m.Patient, data: PatientInput) -> str:
    """Update with the registry's own checks. A telephone number the registry cannot take (a
    national number where surveil keeps international ones) is left as it was, and said so;
    any other problem queues the message."""
    try:
        registry.update_patient(context.session, patient=patient, data=data, today=context.today)
        return ""
    except InvalidInput as error:
        if {p.field for p in error.problems} != {"phone"}:
            raise Unapplicable(str(error), patient_id=patient.id) from error
        note = f"; phone {data.phone} not taken ({error.problems[0].message})"
    data = dataclasses.replace(data, phone=None)
    try:
        registry.update_patient(context.session, patient=patient, data=data, today=context.today)
    except InvalidInput as error:
        raise Unapplicable(str(error), patient_id=patient.id) from error
    return note


def _telecom(pid: hl7.Segment, *, email: bool) -> str | None:
    """The first email (XTN-3 "Internet", the address in XTN-4) or telephone (XTN-12, else
    XTN-1) among PID-13's repetitions; None when the feed sent none (nothing changes)."""
    for repetition in range(1, repetition_count(pid, 13) + 1):
        is_email = component(pid, 13, 3, repetition).lower() == "internet"
        if is_email and email:
            return component(pid, 13, 4, repetition) or None
        if not is_email and not email:
            number = component(pid, 13, 12, repetition) or component(pid, 13, 1, repetition)
            if number:
                return number
    return None


def _death(pid: hl7.Segment, context: Context) -> str | None:
    day = hl7_date(field(pid, 29))
    if field(pid, 30).upper() == "Y" and day is None:
        # Dead, date not given: the message's event date (EVN-6, else EVN-2), else today.
        for evn in segments(context.message, "EVN"):
            day = hl7_date(field(evn, 6)) or hl7_date(field(evn, 2))
        day = day or context.today.isoformat()
    return day


def queue_merge(context: Context) -> str:
    """A40: surveil records the merge request for a navigator (the merge is theirs to do)."""
    patient = find_patient(context)
    mrg = segments(context.message, "MRG")
    old = component(mrg[0], 1, 1) if mrg else "(no MRG-1)"
    raise Unapplicable(
        f"the hospital merged MRN {old} into MRN {patient.mrn}: merge these records in surveil "
        "(the feed does not merge by itself)",
        patient_id=patient.id,
    )
