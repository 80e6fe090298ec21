"""Late work: an item done on a past date, at another hospital ("done elsewhere", where) or here
but only on paper, recorded now; or a result arriving for an item already closed as declined (or
long lost to follow-up, which is still open). The next window anchors on the real date: the
planner reads the completion date, not the day it was typed in.
"""

import datetime as dt

import sqlalchemy as sa

from surveil.config import Settings
from surveil.core.vocab import ItemKind
from surveil.db import models as m
from surveil.db.session import session_scope
from surveil.errors import Conflict, InvalidInput, NotFound
from surveil.services.actor import Actor
from surveil.services.entry import change
from surveil.services.outcome import Outcome
from surveil.services.planning import care
from surveil.services.records import attempts
from surveil.services.records.actions import (
    OPEN,
    DoneInput,
    _changed,
    _check_result,
    _record_result,
    _snapshot,
    _what,
)
from surveil.services.users.accounts import visible_patient
from surveil.services.validate import Checker

# An item closed as declined can still get its result: the patient changed their mind, or had
# it done elsewhere after all.
LATE_FROM = OPEN | {m.ItemState.DECLINED.value}


@change("item.done_late", "measurement.recorded", "marker.recorded", *care.CONSEQUENCES)
def record_late_result(
    engine: sa.Engine,
    *,
    item_id: int,
    actor: Actor,
    data: DoneInput,
    where: str | None,
    on_paper: bool,
    settings: Settings,
    today: dt.date,
) -> Outcome:
    """Record the item done on ``data.completed_on`` (required, not in the future), either
    elsewhere (``where``: the hospital or practice) or on paper here, with its result."""
    with session_scope(engine) as session:
        item = session.get(m.FollowUpItem, item_id)
        if item is None:
            raise NotFound(f"no follow-up item with id {item_id}")
        patient = visible_patient(session, actor=actor, patient_id=item.patient_id)
        if item.state not in LATE_FROM:
            raise Conflict(
                f"item {item_id} is {item.state.replace('_', ' ')}: a late result is recorded "
                "for an open or declined item (reopen a done or not-needed one first)"
            )
        check = Checker(today=today, what="late result")
        day = check.date("completed_on", data.completed_on, not_before=patient.birth_date)
        place = check.text("where", where, required=False, max_length=200)
        if on_paper == bool(place):
            check.fail("where", "give where it was done (done elsewhere), or say on paper")
        kind = ItemKind(item.kind)
        _check_result(check, kind, data)
        check.raise_if_problems()
        assert day is not None
        try:
            _record_result(session, actor, patient, kind, day, data, today)
        except InvalidInput as error:
            raise InvalidInput(error.problems, what="late result") from error
        before = _snapshot(item)
        attempts.end_attempt(session, item_id, status=m.BookingStatus.DONE, actor=actor)
        how = f"done elsewhere ({place})" if place else "done on paper"
        note = data.note.strip()
        item.state = m.ItemState.DONE
        item.completed_on = day
        item.snoozed_until = None
        item.outcome_note = (f"{how}: {note}" if note else how)[:500]
        message = f"{_what(item)} {how} on {day}, recorded {today}"
        result = _changed(session, item, actor, "item.done_late", message, before)
        refresh = care.refresh_patient(
            session, patient=patient, settings=settings, today=today, channel=actor.channel
        )
        return Outcome(
            result.message, result.patient_id, tuple(t.kind for t in refresh.new_triggers)
        )
