"""Undo: a clinician reopens an item closed as done, declined or not needed, or wakes a snoozed
one, with a coded reason (``[reasons] reopened``) and free text.

A correction is a new event, never an edit of history: the audit keeps the item's state before
and after, the reason is appended to ``coded_reason``, and results recorded with a "done" stay in
the record (a wrong measurement is corrected as a result, not by reopening its item). The plan
is then re-derived: reopening a done item takes its completion out of the facts, so the next
window no longer anchors on it.

Only clinicians reopen: navigators are refused with the reason, whatever the channel.
"""

import datetime as dt

import sqlalchemy as sa

from surveil.config import Settings
from surveil.db import models as m
from surveil.db.session import session_scope
from surveil.errors import Conflict, NotFound, PermissionDenied
from surveil.services.actor import Actor
from surveil.services.entry import change
from surveil.services.outcome import Outcome
from surveil.services.planning import care
from surveil.services.reasons import check_code, keep_reason
from surveil.services.records.actions import _changed, _snapshot, _what
from surveil.services.users.accounts import visible_patient
from surveil.services.validate import Checker

CLOSED = (m.ItemState.DONE, m.ItemState.DECLINED, m.ItemState.NOT_NEEDED)


def require_clinician(actor: Actor, what: str) -> None:
    """Clinical corrections are a clinician's: anyone else is refused, saying so."""
    if actor.role != m.Role.CLINICIAN:
        raise PermissionDenied(
            f"only a clinician may {what}; {actor.username} is a {actor.role}: "
            "ask a clinician of the clinic"
        )


@change("item.reopened", *care.CONSEQUENCES)
def reopen_item(
    engine: sa.Engine,
    *,
    item_id: int,
    actor: Actor,
    reason_code: str | None,
    reason: str | None,
    settings: Settings,
    today: dt.date,
) -> Outcome:
    """Reopen a done, declined or not-needed item (back to planned) or end a snooze early."""
    require_clinician(actor, "reopen an item")
    with session_scope(engine) as session:
        item = session.get(m.FollowUpItem, item_id)
        if item is None:
            raise NotFound(f"no follow-up item with id {item_id}")
        patient = visible_patient(session, actor=actor, patient_id=item.patient_id)
        snoozed = (
            item.state in {s.value for s in m.OPEN_ITEM_STATES}
            and item.snoozed_until is not None
            and item.snoozed_until > today
        )
        if item.state not in CLOSED and not snoozed:
            raise Conflict(
                f"item {item_id} is {item.state.replace('_', ' ')}: only a done, declined, "
                "not-needed or snoozed item can be reopened"
            )
        check = Checker(today=today, what="reopening")
        why = check.text("reason", reason, max_length=300)
        code, _ = check_code(check, settings.reasons, "reopened", reason_code, why)
        check.raise_if_problems()
        assert why and code
        before = _snapshot(item)
        was = "snoozed" if snoozed else item.state.replace("_", " ")
        if snoozed:
            item.snoozed_until = None
            item.snooze_reason = ""
        else:
            item.state = m.ItemState.PLANNED
            item.completed_on = None
            item.outcome_note = f"reopened: {why}"[:500]
        keep_reason(
            session,
            actor=actor,
            patient_id=item.patient_id,
            action="item.reopened",
            subject=f"item:{item_id}",
            rule_id=item.rule_id,
            code=code,
            note=why,
        )
        message = f"{_what(item)} reopened (was {was}): {code}, {why}"
        result = _changed(session, item, actor, "item.reopened", message, before)
        care.refresh_patient(
            session, patient=patient, settings=settings, today=today, channel=actor.channel
        )
        return result
