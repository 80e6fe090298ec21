"""What every applier gets (the open transaction, who acts, the parsed message) and the patient
match on PID-3 that ADT, ORU and SIU share."""

import datetime as dt
import functools
from dataclasses import dataclass

import hl7
import sqlalchemy as sa
from sqlmodel import Session, col

from surveil.config import Settings
from surveil.db import models as m
from surveil.db.hl7 import Hl7Message
from surveil.services.actor import Actor
from surveil.services.hl7.parse import component, repetition_count

# Built once: every message is matched so (building the statement was a tenth of the match).
_BY_MRN = sa.select(col(m.Patient.id), col(m.Patient.birth_date)).where(
    col(m.Patient.clinic) == sa.bindparam("clinic"), col(m.Patient.mrn) == sa.bindparam("mrn")
)


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
    """What an applier works with; ``connection`` is the session's, for Core statements."""

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

    @functools.cached_property
    def connection(self) -> sa.Connection:
        # Asked of the session once: each ``Session.connection()`` call costs what a statement
        # does, and a result runs eight.
        return self.session.connection()


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


@dataclass(frozen=True)
class Match:
    """The patient a message is about: what a result needs of the record, without loading it."""

    id: int
    birth_date: dt.date


def find_patient(context: Context) -> m.Patient:
    """The patient the message is about, in the clinic surveil serves; else Unapplicable."""
    patient = context.session.get(m.Patient, match_patient(context).id)
    assert patient is not None  # just matched, in this transaction
    return patient


def match_patient(context: Context) -> Match:
    """:func:`find_patient`'s match, as two columns read by a statement built once (every
    result is matched so; loading the ORM row was a tenth of a result's time)."""
    if context.patient_id is not None:
        patient = context.session.get(m.Patient, context.patient_id)
        if patient is None:
            raise Unapplicable(f"no patient with id {context.patient_id}")
        found = Match(context.patient_id, patient.birth_date)
    else:
        mrn = identifier(context)
        params = {"clinic": context.settings.clinic.name, "mrn": mrn}
        row = context.connection.execute(_BY_MRN, params).first()
        if row is None:
            raise UnknownPatient(f"no patient with MRN {mrn} in surveil (unknown patient)")
        found = Match(row.id, row.birth_date)
    context.row.patient_id = found.id
    return found


def chosen_item(context: Context, patient: m.Patient) -> m.FollowUpItem:
    """The open item a navigator named for this message: it must be this patient's, and open."""
    item = context.session.get(m.FollowUpItem, context.item_id)
    if item is None or item.patient_id != patient.id:
        raise Unapplicable(f"item {context.item_id} is not an item of this patient")
    if item.state not in {s.value for s in m.OPEN_ITEM_STATES}:
        raise Unapplicable(f"item {context.item_id} is already {item.state}")
    return item
