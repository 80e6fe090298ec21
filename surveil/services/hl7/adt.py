"""ADT: demographics, contact and death of a known patient (A01/A04/A08/A28/A31, A03), and a
merge (A40) recorded for a navigator.

Names, birth date, phone and email come from PID-5, PID-7 and PID-13/14 when present (an empty
field changes nothing: HL7 says "" to clear, which surveil does not take from a feed). A date of
death (PID-29) or the death indicator (PID-30 = Y) records the death at once: the plan stops and
no reminder is planned or sent for a deceased patient.
"""

import dataclasses

import hl7

from surveil.db import models as m
from surveil.errors import InvalidInput
from surveil.services.audit import audit
from surveil.services.hl7.context import Context, Unapplicable, find_patient, pid_segment
from surveil.services.hl7.parse import (
    component,
    field,
    hl7_date,
    repetition_count,
    segments,
)
from surveil.services.planning import care
from surveil.services.registry import patients as registry
from surveil.services.registry.patients import PatientInput

WATCHED = ("given_name", "family_name", "birth_date", "email", "phone", "deceased_on")


def apply_demographics(context: Context) -> str:
    patient = find_patient(context)
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
