"""What every applier gets (the open transaction, who acts, the parsed message) and the patient
match on PID-3 that ADT, ORU and SIU share."""

import datetime as dt
from dataclasses import dataclass

import hl7
from sqlmodel import Session, col, select

from surveil.config import Settings
from surveil.db import models as m
from surveil.db.hl7 import Hl7Message
from surveil.services.actor import Actor
from surveil.services.hl7.parse import component, repetition_count


class Unapplicable(Exception):
    """The message is valid but cannot be applied by itself: it goes to the unmatched queue with
    these words for the navigator (and in the ACK's MSA-3 / ERR-8)."""

    def __init__(self, reason: str, *, patient_id: int | None = None) -> None:
        super().__init__(reason)
        self.patient_id = patient_id


class UnknownPatient(Unapplicable):
    """No patient with the message's MRN in the clinic (an ADT may enrol them, if configured)."""


@dataclass
class Context:
    session: Session
    actor: Actor
    settings: Settings
    today: dt.date
    message: hl7.Message
    row: Hl7Message
    patient_id: int | None = None  # set by a navigator who matched the message by hand
    item_id: int | None = None  # the follow-up item she chose, when several could be meant
    # The listener's results leave triggers and replan to its coalesced refresh
    # (``services.hl7.refresh``); a navigator's apply refreshes at once.
    defer_refresh: bool = False


def identifier(context: Context) -> str:
    """The MRN in PID-3: the repetition whose assigning authority (CX-4) is the configured one,
    or the first identifier when none is configured."""
    pid = pid_segment(context)
    authority = context.settings.hl7.identifier_authority
    for repetition in range(1, repetition_count(pid, 3) + 1):
        value = component(pid, 3, 1, repetition)
        if value and (not authority or component(pid, 3, 4, repetition) == authority):
            return value
    where = f" with assigning authority {authority}" if authority else ""
    raise Unapplicable(f"PID-3 holds no patient identifier{where}")


def pid_segment(context: Context) -> hl7.Segment:
    try:
        return context.message.segment("PID")
    except KeyError:
        raise Unapplicable("the message has no PID segment") from None


def find_patient(context: Context) -> m.Patient:
    """The patient the message is about, in the clinic surveil serves; else Unapplicable."""
    session = context.session
    if context.patient_id is not None:
        patient = session.get(m.Patient, context.patient_id)
        if patient is None:
            raise Unapplicable(f"no patient with id {context.patient_id}")
        return _keep(context, patient)
    mrn = identifier(context)
    patient = session.exec(
        select(m.Patient).where(
            col(m.Patient.clinic) == context.settings.clinic.name, col(m.Patient.mrn) == mrn
        )
    ).first()
    if patient is None:
        raise UnknownPatient(f"no patient with MRN {mrn} in surveil (unknown patient)")
    return _keep(context, patient)


def chosen_item(context: Context, patient: m.Patient) -> m.FollowUpItem:
    """The open item a navigator named for this message: it must be this patient's, and open."""
    item = context.session.get(m.FollowUpItem, context.item_id)
    if item is None or item.patient_id != patient.id:
        raise Unapplicable(f"item {context.item_id} is not an item of this patient")
    if item.state not in {s.value for s in m.OPEN_ITEM_STATES}:
        raise Unapplicable(f"item {context.item_id} is already {item.state}")
    return item


def _keep(context: Context, patient: m.Patient) -> m.Patient:
    context.row.patient_id = patient.id
    return patient
