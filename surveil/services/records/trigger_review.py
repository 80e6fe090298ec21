"""A clinician's decisions on a trigger: resolve it (a real finding, or a false alarm that undoes
its consequences), confirm the consequences it proposed, and re-open a resolution.

Who may do which is one rule (``services.triggers.roles``): clinical findings are resolved,
confirmed and re-opened by clinicians; administrative ones (a missed SSA dose) navigators may
close. Each entry point opens its transaction, checks the clinic and the role, writes, re-plans
the patient (``care.refresh_patient``: what the decision changed in the plan is re-derived) and
audits, all together. A correction is a new event: re-opening keeps the resolution in the audit.
"""

import datetime as dt
from collections.abc import Mapping

import sqlalchemy as sa
from sqlmodel import Session, select

from surveil.config import Settings
from surveil.db import models as m
from surveil.db.session import session_scope
from surveil.errors import Conflict, InvalidInput, NotFound, Problem
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.entry import change
from surveil.services.labels import trigger_label
from surveil.services.outcome import Outcome
from surveil.services.planning import care
from surveil.services.reasons import OTHER, REVERTING_OUTCOMES, check_code, keep_reason
from surveil.services.triggers import consequences, roles
from surveil.services.users.accounts import visible_patient
from surveil.services.validate import Checker

OUTCOME_EXAMPLES = (
    "say what was decided, e.g. 'referred to surgery', 'tumour board: continue surveillance', "
    "'false alarm: measurement error'"
)


@change("trigger.resolved", "state.reverted", *care.CONSEQUENCES)
def resolve_trigger(
    engine: sa.Engine,
    *,
    trigger_id: int,
    actor: Actor,
    outcome: str | None,
    outcome_code: str | None = None,
    false_alarm: bool = False,
    settings: Settings,
    today: dt.date,
    now: dt.datetime,
) -> Outcome:
    """Close a trigger with a coded outcome (``[reasons] trigger_outcome``) and its words (e.g.
    'tumour board: continue surveillance'). A false alarm or measurement error (those codes, or
    ``false_alarm``, which means the code false_alarm when none is given) reverts every
    consequence the trigger applied and declines those it proposed; otherwise unconfirmed
    proposals are declined. The tumour-board item stays either way."""
    with session_scope(engine) as session:
        trigger = _visible_trigger(session, trigger_id, actor)
        code, text = _coded_outcome(settings, outcome_code, outcome, false_alarm=false_alarm)
        roles.require_may_resolve(actor, trigger)
        if trigger.state == m.TriggerState.RESOLVED:
            raise Conflict(f"trigger {trigger_id} is already resolved ({trigger.outcome})")
        before = {"state": trigger.state}
        if trigger.acknowledged_at is None:
            trigger.acknowledged_by, trigger.acknowledged_at = actor.username, now
        trigger.state = m.TriggerState.RESOLVED
        trigger.resolved_by, trigger.resolved_at = actor.username, now
        trigger.outcome = _outcome_words(code, text)[:300]
        session.add(trigger)
        keep_reason(
            session, actor=actor, patient_id=trigger.patient_id, action="trigger.resolved",
            subject=f"trigger:{trigger.id}", rule_id=trigger.kind, code=code, note=text,
        )  # fmt: skip
        undone: list[str] = []
        if code in REVERTING_OUTCOMES:
            undone = consequences.revert_consequences(
                session, record=trigger, actor=actor, now=now, why=trigger.outcome
            )
        else:
            consequences.decline_proposals(
                session, record=trigger, why=f"resolved without confirming: {trigger.outcome}"
            )
        words = f"resolved: {trigger.outcome}" + (
            f"; undone: {', '.join(undone)}" if undone else ""
        )
        return _decided(session, trigger, actor, "trigger.resolved", words, before, settings, today)


def _coded_outcome(
    settings: Settings, code: str | None, text: str | None, *, false_alarm: bool
) -> tuple[str, str]:
    """The outcome's code and words: a code from the clinic's list ("other" when none is given,
    and then words are needed); ``false_alarm`` with a code that does not undo is refused."""
    check = Checker(today=dt.date.min, what="outcome")
    picked, words = check_code(
        check, settings.reasons, "trigger_outcome", code, text,
        field="outcome_code", text_field="outcome", default="false_alarm" if false_alarm else OTHER,
    )  # fmt: skip
    check.problems[:] = [  # "other" needs words: say which words are meant
        Problem("outcome", OUTCOME_EXAMPLES) if p.field == "outcome" and "required" in p.message
        else p
        for p in check.problems
    ]  # fmt: skip
    if false_alarm and picked is not None and picked not in REVERTING_OUTCOMES:
        check.fail("outcome_code", f"a false alarm is {' or '.join(sorted(REVERTING_OUTCOMES))}")
    check.raise_if_problems()
    assert picked is not None
    return picked, words


def _outcome_words(code: str, text: str) -> str:
    """What the trigger shows: the words alone for "other", else the code's words first."""
    if code == OTHER:
        return text
    label = code.replace("_", " ")
    return f"{label}: {text}" if text else label


@change("trigger.confirmed", *care.CONSEQUENCES)
def confirm_consequences(
    engine: sa.Engine,
    *,
    trigger_id: int,
    actor: Actor,
    settings: Settings,
    today: dt.date,
    now: dt.datetime,
) -> Outcome:
    """A clinician confirms what an open trigger proposed (leave surveillance, shorter imaging,
    a paused plan): it is applied now and the plan re-derived."""
    with session_scope(engine) as session:
        trigger = _visible_trigger(session, trigger_id, actor)
        roles.require_clinician(actor, "confirm a trigger's consequences")
        if trigger.state == m.TriggerState.RESOLVED:
            raise Conflict(f"trigger {trigger_id} is resolved; re-open it first")
        proposed = [
            row
            for row in consequences.consequences_of(session, trigger.id)
            if row.status == m.ConsequenceStatus.PROPOSED
        ]
        if not proposed:
            raise Conflict(f"trigger {trigger_id} has no proposed consequence to confirm")
        before = {"state": trigger.state, "proposed": [row.proposal for row in proposed]}
        for row in proposed:
            consequences.apply_consequence(
                session, row=row, record=trigger, actor=actor, today=today, now=now
            )
        if trigger.acknowledged_at is None:
            trigger.state = m.TriggerState.ACKNOWLEDGED
            trigger.acknowledged_by, trigger.acknowledged_at = actor.username, now
            session.add(trigger)
        words = "confirmed: " + ", ".join(row.proposal for row in proposed)
        return _decided(
            session, trigger, actor, "trigger.confirmed", words, before, settings, today
        )


@change("trigger.reopened", *care.CONSEQUENCES)
def reopen_trigger(
    engine: sa.Engine,
    *,
    trigger_id: int,
    actor: Actor,
    reason: str | None,
    settings: Settings,
    today: dt.date,
    now: dt.datetime,
) -> Outcome:
    """A clinician re-opens a resolved trigger, with the reason: it waits for a decision again,
    its consequences are proposed again (those the pack applies on open are applied again), and
    the plan is re-derived. The resolution stays in the audit."""
    with session_scope(engine) as session:
        trigger = _visible_trigger(session, trigger_id, actor)
        text = (reason or "").strip()
        if not text:
            raise InvalidInput(
                Problem("reason", "say why the decision is re-opened"), what="re-opening"
            )
        roles.require_clinician(actor, "re-open a trigger's resolution")
        if trigger.state != m.TriggerState.RESOLVED:
            raise Conflict(f"trigger {trigger_id} is not resolved ({trigger.state})")
        _refuse_a_second_open(session, trigger)
        before = {
            "state": trigger.state,
            "outcome": trigger.outcome,
            "resolved_by": trigger.resolved_by,
        }
        trigger.state = m.TriggerState.ACKNOWLEDGED
        trigger.resolved_by = trigger.resolved_at = trigger.outcome = None
        session.add(trigger)
        again = consequences.reopen_consequences(
            session, record=trigger, actor=actor, today=today, now=now
        )
        words = f"re-opened: {text[:200]}"
        if again:
            words += f"; proposed again: {', '.join(again)}"
        return _decided(session, trigger, actor, "trigger.reopened", words, before, settings, today)


def _refuse_a_second_open(session: Session, trigger: m.Trigger) -> None:
    """At most one unresolved record per subject (``triggers.escalation``)."""
    other = session.exec(
        select(m.Trigger.id).where(
            m.Trigger.patient_id == trigger.patient_id,
            m.Trigger.subject_key == trigger.subject_key,
            m.Trigger.state != m.TriggerState.RESOLVED,
            m.Trigger.id != trigger.id,
        )
    ).first()
    if other is not None:
        raise Conflict(f"trigger {other} about the same finding is open: review that one")


def _visible_trigger(session: Session, trigger_id: int, actor: Actor) -> m.Trigger:
    trigger = session.get(m.Trigger, trigger_id)
    if trigger is None:
        raise NotFound(f"no trigger with id {trigger_id}")
    visible_patient(session, actor=actor, patient_id=trigger.patient_id)
    return trigger


def _decided(
    session: Session,
    trigger: m.Trigger,
    actor: Actor,
    action: str,
    words: str,
    before: Mapping[str, object],
    settings: Settings,
    today: dt.date,
) -> Outcome:
    message = f"Trigger {trigger_label(trigger.kind)} {words}"
    audit(
        session,
        actor=actor,
        action=action,
        patient_id=trigger.patient_id,
        subject=f"trigger:{trigger.id}",
        before=before,
        after={"state": trigger.state, "outcome": trigger.outcome},
        detail=f"trigger {trigger.id}: {message}"[:1000],
    )
    patient = session.get(m.Patient, trigger.patient_id)
    assert patient is not None
    care.refresh_patient(
        session, patient=patient, settings=settings, today=today, channel=actor.channel
    )
    return Outcome(message=message, patient_id=trigger.patient_id)
