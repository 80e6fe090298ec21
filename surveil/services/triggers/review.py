"""A trigger's review: acknowledge it (someone has seen it: anyone who may see the patient), and
the audited list of triggers (``surveil triggers list``). Resolving, confirming and re-opening
are clinical decisions that re-plan the patient: ``services.records.trigger_review``.

The same entry points serve the web worklist and the command line. Who acknowledged or resolved
a trigger is always the acting user, never a name typed in: the record and its audit event agree.
"""

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from surveil.db import models as m
from surveil.db.session import session_scope
from surveil.errors import Conflict, InvalidInput, NotFound, Problem
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.entry import audited_read, change
from surveil.services.labels import trigger_label
from surveil.services.outcome import Outcome
from surveil.services.registry.access import patient_by_mrn, require_clinic
from surveil.services.triggers.escalation import list_triggers
from surveil.services.users.accounts import visible_patient

SHOWN_FIELDS = (
    "id",
    "kind",
    "lesion",
    "value",
    "threshold",
    "unit",
    "confounded",
    "urgent",
    "action",
    "detected_on",
    "explanation",
    "state",
    "acknowledged_by",
    "acknowledged_at",
    "resolved_by",
    "resolved_at",
    "outcome",
    "item_id",
)


@change("trigger.acknowledged")
def acknowledge_trigger(
    engine: sa.Engine, *, trigger_id: int, actor: Actor, now: dt.datetime
) -> Outcome:
    with session_scope(engine) as session:
        trigger = _visible_trigger(session, trigger_id, actor)
        if trigger.state != m.TriggerState.OPEN:
            raise Conflict(f"trigger {trigger_id} is already {trigger.state}")
        trigger.state = m.TriggerState.ACKNOWLEDGED
        trigger.acknowledged_by = actor.username
        trigger.acknowledged_at = now
        return _reviewed(session, trigger, actor, "trigger.acknowledged", "acknowledged", "open")


@change("trigger.noted")
def note_trigger(
    engine: sa.Engine, *, trigger_id: int, actor: Actor, note: str | None, now: dt.datetime
) -> Outcome:
    """Add a note to a trigger (anyone who may see the patient: a navigator's "patient called,
    scan booked for Friday"). Notes are events: kept in the audit and shown in the timeline."""
    with session_scope(engine) as session:
        trigger = _visible_trigger(session, trigger_id, actor)
        text = " ".join((note or "").split())
        if not text:
            raise InvalidInput(Problem("note", "write the note"), what="trigger note")
        if len(text) > 500:
            raise InvalidInput(Problem("note", "at most 500 characters"), what="trigger note")
        audit(
            session,
            actor=actor,
            action="trigger.noted",
            patient_id=trigger.patient_id,
            subject=f"trigger:{trigger.id}",
            after={"note": text, "at": now},
            detail=f"note on trigger #{trigger.id} ({trigger_label(trigger.kind)}): {text}",
        )
        return Outcome(
            message=f"Note added to trigger {trigger_label(trigger.kind)}",
            patient_id=trigger.patient_id,
        )


@audited_read("triggers.viewed")
def show_triggers(
    engine: sa.Engine,
    *,
    actor: Actor,
    clinic: str,
    open_only: bool,
    mrn: str | None = None,
) -> list[dict[str, Any]]:
    """The clinic's triggers (or one patient's), the most urgent and oldest first. One audit
    event for the list, naming the patient when the list is one patient's."""
    with session_scope(engine) as session:
        patient_id = None
        if mrn:
            patient_id = patient_by_mrn(session, actor=actor, mrn=mrn, clinic=clinic).id
        else:
            require_clinic(actor, clinic)
        rows = list_triggers(session, clinic=clinic, open_only=open_only, patient_id=patient_id)
        audit(
            session,
            actor=actor,
            action="triggers.viewed",
            patient_id=patient_id,
            subject=f"patient:{patient_id}" if patient_id else f"clinic:{clinic}",
            detail=f"trigger list: {len(rows)} shown" + (" (open only)" if open_only else ""),
        )
        return [{"mrn": p.mrn, **{f: getattr(t, f) for f in SHOWN_FIELDS}} for t, p in rows]


def _visible_trigger(session: Session, trigger_id: int, actor: Actor) -> m.Trigger:
    trigger = session.get(m.Trigger, trigger_id)
    if trigger is None:
        raise NotFound(f"no trigger with id {trigger_id}")
    visible_patient(session, actor=actor, patient_id=trigger.patient_id)
    return trigger


def _reviewed(
    session: Session, trigger: m.Trigger, actor: Actor, action: str, words: str, before: str
) -> Outcome:
    session.add(trigger)
    message = f"Trigger {trigger_label(trigger.kind)} {words}"
    audit(
        session,
        actor=actor,
        action=action,
        patient_id=trigger.patient_id,
        subject=f"trigger:{trigger.id}",
        before={"state": before},
        after={"state": trigger.state, "outcome": trigger.outcome},
        detail=f"trigger {trigger.id}: {message}",
    )
    session.flush()
    return Outcome(message=message, patient_id=trigger.patient_id)
