"""A trigger's automatic consequences, recorded as proposals and applied only as the pack says.

When a trigger fires, each consequence its ``on_trigger`` entry names becomes one row of
``trigger_consequence``:

* ``set_state`` (leave active surveillance), ``imaging`` (a shorter scan interval) and
  ``pause_plan`` (hold automatic rescheduling of the protocol's items) take effect at once when
  the pack says ``apply = "on_open"``, else they wait, ``proposed``, for a clinician to confirm
  them (``on_confirm``: the default for state changes and pauses, ``core.protocol.DEFAULT_APPLY``);
* ``order`` items (an SSTR PET after a marker rise) are created at once, like the tumour-board
  item, and recorded so that a false alarm can cancel what nobody has booked yet.

A false alarm (or a measurement error) reverts every applied consequence and declines every
proposal: the patient's previous disease-state episode is current again as if the move never
happened (the audit keeps both events), the imaging interval and the plan come back on the next
replan. The tumour-board item stays: the board meets, or a clinician cancels it.

Building blocks inside the caller's transaction; the entry points are in
``services.records.trigger_review`` (they replan afterwards, which this package may not).
"""

import datetime as dt
from dataclasses import dataclass
from typing import Any, Protocol

from sqlmodel import Session, col, select

from surveil.core.protocol import Apply, Interval, TriggerConsequence
from surveil.core.vocab import ItemState, StateKind
from surveil.db import models as m
from surveil.db.bulk_rows import defaults_of, insert_dicts, new_ids, table_of
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.labels import trigger_label

Kind = m.ConsequenceKind
Status = m.ConsequenceStatus
# In force while their trigger is unresolved: they shape the plan (``planning.plans``).
PLAN_SHAPING = (Kind.IMAGING.value, Kind.PAUSE_PLAN.value)


def interval_words(interval: Interval) -> str:
    low, high = interval.min, interval.max
    span = f"{low}" if low == high else f"{low}–{high}"
    return f"imaging every {span} {interval.unit.value}"


@dataclass(frozen=True)
class NewTrigger:
    """A trigger just stored (``triggers.escalation``): what its consequences and the callers
    need of it, without building its ORM object."""

    id: int
    patient_id: int
    kind: str
    explanation: str


class TriggerRef(Protocol):
    """What moving a patient off the pathway says about the trigger that moved her."""

    @property
    def id(self) -> int | None: ...
    @property
    def patient_id(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def explanation(self) -> str: ...


# A new trigger's consequence to record: the trigger, its pack entry, the patient's disease state
# before it, the one-off items ordered for it (id, kind), and surveil itself as the actor.
ToRecord = tuple[NewTrigger, TriggerConsequence, StateKind | None, list[tuple[int, str]], Actor]


def record_many(session: Session, triggers: list[ToRecord], *, today: dt.date) -> None:
    """The consequence rows of a batch of new triggers, those the pack applies on open applied
    now, trigger by trigger in the batch's order, as one at a time would; the rows then go in
    one executemany (an ORM object and a flush each was most of storing a new trigger)."""
    table = table_of(m.TriggerConsequence)
    defaults = defaults_of(m.TriggerConsequence)
    rows: list[dict[str, Any]] = []
    for record, consequence, current_state, orders, system in triggers:
        for values in _rows_for(record, consequence, current_state, orders):
            if values["apply"] == Apply.ON_OPEN:
                _apply_on_open(session, values, record, system, today)
            rows.append(defaults | values)
    session.flush()  # the disease states the rows point at
    for row, row_id in zip(rows, new_ids(session, table, len(rows)), strict=True):
        row["id"] = row_id
    insert_dicts(session, table, rows)


def _apply_on_open(
    session: Session, values: dict[str, Any], record: NewTrigger, system: Actor, today: dt.date
) -> None:
    """:func:`apply_consequence` for a row not stored yet (as surveil: nobody decided it)."""
    if values["kind"] == Kind.SET_STATE and values["to_state"]:
        moved = _leave_pathway(
            session, to_state=values["to_state"], record=record, actor=system, today=today
        )
        if moved is not None:
            values["ended_state_id"], values["state_id"] = moved
    values["status"] = Status.APPLIED.value


def _rows_for(
    record: NewTrigger,
    consequence: TriggerConsequence,
    current_state: StateKind | None,
    orders: list[tuple[int, str]],
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def add(
        kind: Kind,
        apply: Apply,
        proposal: str,
        to_state: str | None = None,
        item_id: int | None = None,
    ) -> None:
        rows.append(
            {
                "trigger_id": record.id,
                "patient_id": record.patient_id,
                "kind": kind.value,
                "apply": apply.value,
                "status": Status.PROPOSED.value,
                "proposal": proposal[:200],
                "to_state": to_state,
                "item_id": item_id,
            }
        )

    target = consequence.set_state
    if target is not None and current_state is not target:
        words = f"leave {_state_words(current_state)} for {_state_words(target)}"
        add(Kind.SET_STATE, consequence.when("set_state"), words, to_state=target.value)
    if consequence.imaging is not None:
        add(Kind.IMAGING, consequence.when("imaging"), interval_words(consequence.imaging))
    if consequence.pause_plan:
        words = "hold automatic rescheduling of the protocol's items"
        add(Kind.PAUSE_PLAN, consequence.when("pause_plan"), words)
    for item_id, kind in orders:
        add(Kind.ORDER, Apply.ON_OPEN, f"order {kind.replace('_', ' ')}", item_id=item_id)
    return rows


def _state_words(kind: StateKind | str | None) -> str:
    return str(kind).replace("_", " ") if kind else "no recorded state"


def consequences_of(session: Session, trigger_id: int | None) -> list[m.TriggerConsequence]:
    return list(
        session.exec(
            select(m.TriggerConsequence)
            .where(m.TriggerConsequence.trigger_id == trigger_id)
            .order_by(col(m.TriggerConsequence.id))
        ).all()
    )


def apply_consequence(
    session: Session,
    *,
    row: m.TriggerConsequence,
    record: m.Trigger,
    actor: Actor,
    today: dt.date,
    now: dt.datetime | None = None,
) -> None:
    """Put one proposed consequence in force (the state change is audited as ``state.set``)."""
    if row.kind == Kind.SET_STATE and row.to_state:
        moved = _leave_pathway(
            session, to_state=row.to_state, record=record, actor=actor, today=today
        )
        if moved is not None:
            row.ended_state_id, row.state_id = moved
    row.status = Status.APPLIED.value
    if actor.username != "system":
        row.decided_by, row.decided_at = actor.username, now
    session.add(row)


def _current(session: Session, patient_id: int) -> m.DiseaseState | None:
    return session.exec(
        select(m.DiseaseState)
        .where(m.DiseaseState.patient_id == patient_id, col(m.DiseaseState.end_date).is_(None))
        .order_by(col(m.DiseaseState.start_date).desc())
    ).first()


def _leave_pathway(
    session: Session, *, to_state: str, record: TriggerRef, actor: Actor, today: dt.date
) -> tuple[int | None, int | None] | None:
    """Move the patient to ``to_state`` (the current episode ends where the new one starts);
    the ids of the episode ended and the new one, or None if she is there already."""
    current = _current(session, record.patient_id)
    if current is not None and current.kind == to_state:
        return None  # already there (another trigger, or a clinician, moved the patient)
    start = max(today, current.start_date) if current else today
    if current is not None:
        current.end_date = start
        session.add(current)
    episode = m.DiseaseState(
        patient_id=record.patient_id,
        kind=to_state,
        start_date=start,
        reason=f"trigger #{record.id} ({record.kind}): {record.explanation}"[:500],
    )
    session.add(episode)
    session.flush()
    how = "as on_trigger.{k}.set_state says" if actor.username == "system" else "confirmed"
    audit(
        session,
        actor=actor,
        action="state.set",
        patient_id=episode.patient_id,
        subject=f"state:{episode.id}",
        before={"kind": current.kind, "since": current.start_date} if current else None,
        after={"kind": episode.kind, "since": start},
        detail=f"now {_state_words(episode.kind)}: trigger #{record.id} "
        f"({trigger_label(record.kind)}), {how.format(k=record.kind)}",
    )
    return (current.id if current else None), episode.id


def revert_consequences(
    session: Session, *, record: m.Trigger, actor: Actor, now: dt.datetime, why: str
) -> list[str]:
    """Undo every applied consequence and decline every proposal (a false alarm); returns what
    was undone, in words. A state change a clinician has since overtaken is left alone."""
    undone: list[str] = []
    for row in consequences_of(session, record.id):
        if row.status == Status.PROPOSED:
            row.status, row.note = Status.DECLINED.value, why[:300]
        elif row.status == Status.APPLIED:
            words = _revert(session, row=row, record=record, actor=actor, why=why)
            if words is None:
                row.note = "not reverted: the disease state has changed since"
                session.add(row)
                continue
            row.status = Status.REVERTED.value
            row.reverted_by, row.reverted_at, row.note = actor.username, now, why[:300]
            undone.append(words)
        session.add(row)
    session.flush()
    return undone


def decline_proposals(session: Session, *, record: m.Trigger, why: str) -> None:
    """A trigger closed without confirming its proposals: they are recorded as never applied."""
    for row in consequences_of(session, record.id):
        if row.status == Status.PROPOSED:
            row.status, row.note = Status.DECLINED.value, why[:300]
            session.add(row)


def _revert(
    session: Session, *, row: m.TriggerConsequence, record: m.Trigger, actor: Actor, why: str
) -> str | None:
    if row.kind == Kind.ORDER:
        item = session.get(m.FollowUpItem, row.item_id) if row.item_id else None
        if item is not None and item.state in (ItemState.PLANNED, ItemState.ORDERED):
            item.state = ItemState.CANCELLED
            item.outcome_note = f"trigger #{record.id} was a false alarm: {why}"[:500]
            item.sequence += 1
            session.add(item)
        return row.proposal
    if row.kind != Kind.SET_STATE:
        return row.proposal  # imaging and pauses end with their status (``planning.plans``)
    episode = session.get(m.DiseaseState, row.state_id) if row.state_id else None
    if episode is None or episode.end_date is not None:
        return None
    previous = session.get(m.DiseaseState, row.ended_state_id) if row.ended_state_id else None
    if previous is not None:
        previous.end_date = None  # as if the move had never happened
        session.add(previous)
    before = {"kind": episode.kind, "since": episode.start_date}
    row.state_id = None
    session.add(row)
    session.delete(episode)
    session.flush()
    audit(
        session,
        actor=actor,
        action="state.reverted",
        patient_id=record.patient_id,
        subject=f"state:{previous.id if previous else episode.id}",
        before=before,
        after={"kind": previous.kind, "since": previous.start_date} if previous else None,
        detail=f"trigger #{record.id} ({trigger_label(record.kind)}) was a false alarm: "
        f"back to {_state_words(previous.kind if previous else None)}",
    )
    return row.proposal


def reopen_consequences(
    session: Session, *, record: m.Trigger, actor: Actor, today: dt.date, now: dt.datetime
) -> list[str]:
    """A re-opened trigger proposes its consequences again: those the pack applies on open are
    applied again now, the others wait for a clinician's confirmation."""
    again: list[str] = []
    for row in consequences_of(session, record.id):
        # A cancelled order stays cancelled: the clinician orders again if needed.
        if row.status not in (Status.REVERTED, Status.DECLINED) or row.kind == Kind.ORDER:
            continue
        row.status, row.reverted_by, row.reverted_at = Status.PROPOSED.value, None, None
        row.note = "proposed again: the trigger was re-opened"
        session.add(row)
        if row.apply == Apply.ON_OPEN:
            apply_consequence(session, row=row, record=record, actor=actor, today=today, now=now)
        again.append(row.proposal)
    session.flush()
    return again
