"""The outreach log: a navigator's call, letter or message to a patient and how it went, kept
per patient (shown on the patient page) with the latest one on the patient's worklist rows.

Recording a contact changes no clinical fact, so the plan and the triggers are not re-run: the
entry point checks the clinic, validates every field at once, writes the row and its audit event
in one transaction."""

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.db import models as m
from surveil.db.models_care import OutreachChannel, OutreachResult
from surveil.db.session import session_scope
from surveil.errors import NotFound
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.entry import change
from surveil.services.labels import kind_label
from surveil.services.outcome import Outcome
from surveil.services.outreach_words import RESULT_WORDS
from surveil.services.records.results import Which, find_patient
from surveil.services.validate import Checker


@change("outreach.recorded")
def record_outreach(
    engine: sa.Engine,
    *,
    actor: Actor,
    channel: str | None,
    result: str | None,
    note: str = "",
    item_id: int | str | None = None,
    patient_id: int | None = None,
    mrn: str = "",
    clinic: str = "",
    now: dt.datetime,
) -> Outcome:
    """Log one attempt to reach the patient (``item_id``: the follow-up it was about, if any)."""
    with session_scope(engine) as session:
        patient = find_patient(session, actor, Which(mrn=mrn, clinic=clinic, patient_id=patient_id))
        check = Checker(today=now.date(), what="outreach")
        how = check.choice("channel", channel, OutreachChannel)
        outcome = check.choice("result", result, OutreachResult)
        text = check.text("note", note, required=False, max_length=500)
        item = _item(session, check, patient, item_id)
        check.raise_if_problems()
        assert how and outcome
        row = m.OutreachContact(
            patient_id=patient.id or 0,
            item_id=item.id if item else None,
            channel=how,
            result=outcome,
            note=text or "",
            at=now,
            recorded_by=actor.username,
        )
        session.add(row)
        session.flush()
        about = f" about {kind_label(item.kind)}" if item else ""
        words = f"{how}{about}: {RESULT_WORDS[outcome]}"
        audit(
            session,
            actor=actor,
            action="outreach.recorded",
            patient_id=patient.id,
            subject=f"outreach:{row.id}",
            after={"channel": how, "result": outcome, "item": row.item_id},
            detail=f"recorded {words}",
        )
        return Outcome(message=f"recorded {words}", patient_id=patient.id or 0)


def _item(
    session: Session, check: Checker, patient: m.Patient, item_id: int | str | None
) -> m.FollowUpItem | None:
    if item_id in (None, ""):
        return None
    try:
        item = session.get(m.FollowUpItem, int(item_id))
    except ValueError:
        check.fail("item_id", f"{item_id!r} is not an item number")
        return None
    if item is None or item.patient_id != patient.id:
        raise NotFound(f"no follow-up item {item_id} for this patient")
    return item


# --------------------------------------------------------------------------- reading the log


@dataclass(frozen=True)
class Contact:
    at: dt.datetime
    channel: str
    result: str
    words: str  # "call: left a voicemail"
    note: str
    about: str  # the item's label, or ""
    by: str


def contact_log(session: Session, *, patient_id: int, limit: int = 50) -> tuple[Contact, ...]:
    """The patient's contacts, newest first (for the patient page; the caller has audited the
    opening of the record)."""
    rows = session.exec(
        select(m.OutreachContact, m.FollowUpItem.kind)
        .join(
            m.FollowUpItem,
            col(m.FollowUpItem.id) == m.OutreachContact.item_id,
            isouter=True,
        )
        .where(m.OutreachContact.patient_id == patient_id)
        .order_by(col(m.OutreachContact.at).desc(), col(m.OutreachContact.id).desc())
        .limit(limit)
    ).all()
    return tuple(
        Contact(
            at=r.at,
            channel=r.channel,
            result=r.result,
            words=f"{r.channel}: {RESULT_WORDS.get(r.result, r.result)}",
            note=r.note,
            about=kind_label(kind) if kind else "",
            by=r.recorded_by,
        )
        for r, kind in rows
    )
