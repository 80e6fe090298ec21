"""Persisted plans: turn the pure planner's output into follow-up item rows, and keep them in step
with the facts.

Replanning is a reconciliation, keyed by (kind, region):

* an unchanged planned item keeps its row and id;
* a changed one is **superseded**: kept, pointing at its replacement, with the reason;
* an item that is ordered or booked is left alone (a person is acting on it);
* done, declined and not-needed items are history and are never touched;
* a planned item the plan no longer asks for is superseded with the reason.

Running it twice changes nothing the second time.
"""

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from operator import attrgetter, itemgetter
from typing import Any, NamedTuple

import sqlalchemy as sa
from pydantic_core import PydanticUndefined
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from surveil.config import Settings
from surveil.core.facts import Facts
from surveil.core.horizon import holds_until
from surveil.core.overrides import Override, apply_overrides
from surveil.core.plan import Anchor, Plan, PlannedItem, plan
from surveil.core.protocol import Evidence, Interval, Pack, Profile, Unit
from surveil.core.triggers import ssa_alert_on
from surveil.core.vocab import ItemKind
from surveil.core.windows import status_on
from surveil.db import models as m
from surveil.db.base import utcnow
from surveil.db.bulk_rows import among, insert_plain, new_ids, table_of
from surveil.db.queries import PlannedPatient, facts_for_patients
from surveil.services.planning.stored_items import (
    OpenRow,
    Reconciled,
    open_items,
    reconciled_items,
)
from surveil.services.protocols import protocol_in_force

PLANNER_STATES = (m.ItemState.PLANNED,)
TRIGGER_RULE_PREFIX = "trigger:"


@dataclass
class ReplanResult:
    patients: int = 0
    created: int = 0
    kept: int = 0
    superseded: int = 0
    skipped: int = 0  # patients not planned again: their inputs had not changed (``memo``)
    changes: list[str] = field(default_factory=list)
    changed: dict[int, "ReplanResult"] = field(default_factory=dict)  # patients whose plan moved

    def add(self, other: "ReplanResult") -> None:
        self.patients += other.patients
        self.created += other.created
        self.kept += other.kept
        self.superseded += other.superseded
        self.skipped += other.skipped
        self.changed.update(other.changed)


def compute_plan(
    facts: Facts, *, pack: Pack, profile: Profile, overrides: Iterable[Override], today: dt.date
) -> Plan:
    return apply_overrides(plan(facts, pack, profile.name, today), list(overrides), today)


def plan_for_patient(
    session: Session,
    *,
    patient: m.Patient,
    pack: Pack,
    profile: Profile,
    today: dt.date,
    what_if: bool = False,
) -> tuple[Plan, list[dict[str, object]]]:
    """A stored patient's plan: the stored open items (protocol and escalation items, with
    their actions), the grade and verdict as the planner sees them today, and the unresolved
    triggers in the plan contract's shape. ``what_if``: the items ``pack`` and ``profile`` would
    plan from the same facts, overrides and triggers instead of the stored ones (the stored
    items came from the protocol in force, which may be another version)."""
    facts = facts_for_patients(session, [patient])[patient.id or 0]
    overrides = overrides_for(session, [patient.id or 0], profile=profile)
    computed = compute_plan(
        facts, pack=pack, profile=profile, overrides=overrides.get(patient.id or 0, []), today=today
    )
    triggers = _open_triggers(session, patient)
    if what_if:
        return computed, triggers
    stored = sorted(
        open_items(session, [patient.id or 0]).get(patient.id or 0, []),
        key=lambda r: (r.target, r.kind, r.id or 0),
    )
    items = tuple(_as_planned(row, today) for row in stored)
    return replace(computed, items=items), triggers


def _open_triggers(session: Session, patient: m.Patient) -> list[dict[str, object]]:
    rows = session.exec(
        select(m.Trigger)
        .where(m.Trigger.patient_id == patient.id, m.Trigger.state != m.TriggerState.RESOLVED)
        .order_by(col(m.Trigger.detected_on))
    ).all()
    triggers: list[dict[str, object]] = [
        {
            "kind": t.kind,
            "lesion": t.lesion,
            "value": t.value,
            "threshold": t.threshold,
            "unit": t.unit,
            "confounded": t.confounded,
            "action": t.action,
            "detected_on": t.detected_on.isoformat(),
            "explanation": t.explanation,
            "id": t.id,
            "state": t.state,
        }
        for t in rows
    ]
    return triggers


def _as_planned(row: "OpenRow", today: dt.date) -> PlannedItem:
    return PlannedItem(
        kind=ItemKind(row.kind),
        earliest=row.earliest,
        target=row.target,
        latest=row.latest,
        status=status_on(row.earliest, row.latest, today),
        rule=row.rule_id,
        pack_id=row.pack_id,
        pack_version=row.pack_version,
        profile=row.profile,
        source=row.source,
        evidence=Evidence(row.evidence) if row.evidence else Evidence.INFERENCE,
        anchor=Anchor(row.anchor_event, row.anchor_date or row.earliest),
        reason=row.reason if row.state == m.ItemState.PLANNED else f"[{row.state}] {row.reason}",
        region=row.region,
    )


# --------------------------------------------------------------------------- overrides


def overrides_for(
    session: Session, patient_ids: list[int], *, profile: Profile
) -> dict[int, list[Override]]:
    """Clinicians' overrides, then the consequences of unresolved triggers (which win)."""
    out: dict[int, list[Override]] = {}
    rows = (
        session.exec(
            select(m.PlanOverride)
            .where(
                among(session, m.PlanOverride.patient_id, patient_ids),
                m.PlanOverride.active == sa.true(),
            )
            .order_by(col(m.PlanOverride.created_at), col(m.PlanOverride.id))
        ).all()
        if patient_ids
        else []
    )
    for row in rows:
        interval = (
            Interval(
                min=row.interval_min,
                max=row.interval_max or row.interval_min,
                unit=Unit(row.interval_unit or "months"),
                target=row.interval_min,
            )
            if row.interval_min
            else None
        )
        out.setdefault(row.patient_id, []).append(
            Override(
                origin=f"override #{row.id} by {row.author}",
                reason=row.reason,
                kind=ItemKind(row.kind),
                interval=interval,
                modality=ItemKind(row.modality) if row.modality else None,
                paused_until=row.paused_until,
            )
        )
    for trigger, interval in _shortened_imaging(session, patient_ids, profile=profile):
        out.setdefault(trigger.patient_id, []).append(
            Override(
                origin=f"trigger #{trigger.id} ({trigger.kind})",
                reason=profile.on_trigger[trigger.kind].note,
                imaging=True,
                interval=interval,
            )
        )
    return out


def _shortened_imaging(
    session: Session, patient_ids: list[int], *, profile: Profile
) -> list[tuple["_Unresolved", Interval]]:
    """Unresolved triggers whose shorter imaging is in force: its consequence applied (on open,
    or confirmed by a clinician; ``triggers.consequences``). A trigger stored before
    consequences were recorded has none: its pack's imaging applies while it is unresolved."""
    if not patient_ids:
        return []
    # In id order: two triggers' overrides are worded into an item in this order, and without
    # it PostgreSQL returns rows as they lie on disk (two replan workers wrote different text).
    # Rows of the three columns used, not Trigger objects: about a fifth of a chunk's patients
    # have an unresolved trigger, and hydrating each as an ORM object cost more than reading it.
    rows = session.exec(
        select(m.Trigger.id, m.Trigger.patient_id, m.Trigger.kind)
        .where(
            among(session, m.Trigger.patient_id, patient_ids),
            m.Trigger.state != m.TriggerState.RESOLVED,
            m.Trigger.confounded == sa.false(),
        )
        .order_by(col(m.Trigger.id))
    ).all()
    triggers = [_Unresolved(*row) for row in rows]
    ids = [t.id for t in triggers]
    statuses: dict[int, set[tuple[str, str]]] = {}
    for trigger_id, kind, status in session.exec(
        select(
            m.TriggerConsequence.trigger_id, m.TriggerConsequence.kind, m.TriggerConsequence.status
        ).where(among(session, m.TriggerConsequence.trigger_id, ids))
    ).all():
        statuses.setdefault(trigger_id, set()).add((kind, status))
    out = []
    for trigger in triggers:
        consequence = profile.on_trigger.get(trigger.kind)
        if consequence is None or consequence.imaging is None:
            continue
        recorded = statuses.get(trigger.id or 0)
        if recorded is None or (m.ConsequenceKind.IMAGING, m.ConsequenceStatus.APPLIED) in recorded:
            out.append((trigger, consequence.imaging))
    return out


class _Unresolved(NamedTuple):
    id: int | None
    patient_id: int
    kind: str


def paused_patients(session: Session, patient_ids: list[int]) -> set[int]:
    """Patients whose plan a trigger holds (``pause_plan`` applied, the trigger unresolved):
    replanning leaves their protocol items as they are until a clinician resolves it."""
    if not patient_ids:
        return set()
    rows = session.exec(
        select(m.TriggerConsequence.patient_id)
        .join(m.Trigger, col(m.Trigger.id) == m.TriggerConsequence.trigger_id)
        .where(
            among(session, m.TriggerConsequence.patient_id, patient_ids),
            m.TriggerConsequence.kind == m.ConsequenceKind.PAUSE_PLAN,
            m.TriggerConsequence.status == m.ConsequenceStatus.APPLIED,
            m.Trigger.state != m.TriggerState.RESOLVED,
        )
    ).all()
    return set(rows)


# --------------------------------------------------------------------------- reconciliation


def _key(kind: str, region: str | None) -> tuple[str, str]:
    return kind, region or ""


def _same(row: "Reconciled", item: PlannedItem) -> bool:
    # Compared as stored (``_row_for`` cuts the text to the columns' sizes): a reason longer
    # than its column would otherwise never match, and every replan would supersede the item.
    return (
        row.earliest,
        row.target,
        row.latest,
        row.rule_id,
        row.source,
        row.reason,
        row.anchor_date,
        row.pack_version,
        row.profile,
    ) == (
        item.earliest,
        item.target,
        item.latest,
        item.rule,
        item.source[:200],
        item.reason[:500],
        item.anchor.date,
        item.pack_version,
        item.profile,
    )


# What the model fills in when a FollowUpItem is built (state planned, sequence 0, ...), for rows
# inserted in bulk without building one.
_ITEM_DEFAULTS: dict[str, Any] = {
    name: field.default
    for name, field in m.FollowUpItem.model_fields.items()
    if name != "id" and field.default is not PydanticUndefined
}
# The columns ``_values_for`` sets, in its order: the rest are the same for every planned row
# (the defaults above, the batch's timestamps) and ``write_batch`` gives them once per batch.
_PLANNED_COLUMNS = (
    "patient_id",
    "kind",
    "region",
    "earliest",
    "target",
    "latest",
    "rule_id",
    "pack_id",
    "pack_version",
    "profile",
    "source",
    "evidence",
    "anchor_event",
    "anchor_date",
    "reason",
    "urgent",
)
_SAME_FOR_ALL = {k: v for k, v in _ITEM_DEFAULTS.items() if k not in _PLANNED_COLUMNS}
_planned_values = itemgetter(*_PLANNED_COLUMNS)


def _values_for(patient_id: int, item: PlannedItem) -> dict[str, Any]:
    return dict(
        patient_id=patient_id,
        kind=item.kind.value,
        region=item.region,
        earliest=item.earliest,
        target=item.target,
        latest=item.latest,
        rule_id=item.rule,
        pack_id=item.pack_id,
        pack_version=item.pack_version,
        profile=item.profile,
        source=item.source[:200],
        evidence=str(item.evidence),
        anchor_event=item.anchor.event[:64],
        anchor_date=item.anchor.date,
        reason=item.reason[:500],
        urgent=item.kind is ItemKind.SSA_INJECTION,
    )


def _describe_change(old: "Reconciled", new: PlannedItem) -> str:
    if old.target != new.target:
        return (
            f"target {old.target} → {new.target} ({new.anchor.event} {new.anchor.date}); {new.rule}"
        )
    return f"window or rule changed: {new.rule} ({new.reason})"


_BY_ID = attrgetter("id")


@dataclass
class Writes:
    """A batch's item writes, collected by ``reconcile`` and made by ``write_batch`` in a few
    statements: brand-new items; replacements (their values, the row they replace, why); rows
    superseded by an existing row or by none. Flushing an ORM object per changed item, then
    loading the old one to point it at its replacement, cost most of a batch whose plans
    changed (a 100,000-row import re-plans 20,000 patients)."""

    new_rows: list[dict[str, Any]] = field(default_factory=list)
    replacements: list[tuple[dict[str, Any], int, str]] = field(default_factory=list)
    superseded: list[tuple[int, int | None, str]] = field(default_factory=list)
    # Patients whose verdict or plan note changed: (id, no_follow_up_rule, plan_note).
    verdicts: list[tuple[int, str | None, str]] = field(default_factory=list)


def reconcile(
    *,
    patient: PlannedPatient,
    new_plan: Plan,
    open_rows: list["Reconciled"],
    writes: Writes,
) -> ReplanResult:
    """Bring one patient's stored items in line with ``new_plan`` (see the module docstring).
    The rows to insert and supersede are collected in ``writes``, for ``write_batch`` to write
    in bulk for the whole batch."""
    result = ReplanResult(patients=1)
    by_key: dict[tuple[str, str], Reconciled] = {}
    for row in sorted(open_rows, key=_BY_ID):
        if row.rule_id.startswith(TRIGGER_RULE_PREFIX):
            continue  # escalation items belong to their trigger, not to the protocol
        key = _key(row.kind, row.region)
        if key in by_key and by_key[key].state == m.ItemState.PLANNED:
            writes.superseded.append((by_key[key].id, row.id, "duplicate of a later item"))
            result.superseded += 1
        by_key[key] = row
    for item in new_plan.items:
        existing = by_key.pop(_key(item.kind.value, item.region), None)
        if existing is not None and (
            existing.state != m.ItemState.PLANNED or _same(existing, item)
        ):
            result.kept += 1
            continue
        values = _ITEM_DEFAULTS | _values_for(patient.id or 0, item)
        result.created += 1
        if existing is None:
            writes.new_rows.append(values)  # nothing points at a brand-new item
            continue
        why = _describe_change(existing, item)
        writes.replacements.append((values, existing.id, why))
        result.superseded += 1
        result.changes.append(f"{item.kind.value}: {why[:300]}")
    for leftover in by_key.values():
        if leftover.state == m.ItemState.PLANNED:
            why = new_plan.closed or (
                f"no longer in the plan ({new_plan.no_follow_up.reason})"
                if new_plan.no_follow_up
                else "no longer in the plan"
            )
            writes.superseded.append((leftover.id, None, why))
            result.superseded += 1
    verdict = new_plan.no_follow_up.rule if new_plan.no_follow_up else None
    note = (new_plan.closed or "")[:300]
    if patient.no_follow_up_rule != verdict or patient.plan_note != note:
        writes.verdicts.append((patient.id or 0, verdict, note))
    return result


def _write_verdicts(session: Session, verdicts: list[tuple[int, str | None, str]]) -> None:
    """The planner's verdict and note for the patients whose changed, in one executemany; a
    patient the session holds as an object is told what its row now says."""
    if not verdicts:
        return
    table = m.Patient.__table__  # type: ignore[attr-defined]
    session.execute(
        sa.update(table)
        .where(table.c.id == sa.bindparam("b_id"))
        .values(no_follow_up_rule=sa.bindparam("b_rule"), plan_note=sa.bindparam("b_note")),
        [{"b_id": pid, "b_rule": rule, "b_note": note} for pid, rule, note in verdicts],
    )
    now_reads = {pid: (rule, note) for pid, rule, note in verdicts}
    for held in list(session.identity_map.values()):
        if isinstance(held, m.Patient) and held.id in now_reads:
            rule, note = now_reads[held.id]
            set_committed_value(held, "no_follow_up_rule", rule)
            set_committed_value(held, "plan_note", note)


def _stamp_planned(session: Session, patients: list[PlannedPatient]) -> None:
    """When each patient's plan was last derived: one UPDATE for the batch instead of one per
    patient at flush (20,000 statements in a replan of 20,000 unchanged patients)."""
    if not patients:
        return
    now = utcnow()
    ids = [p.id for p in patients]
    table = m.Patient.__table__  # type: ignore[attr-defined]
    for start in range(0, len(ids), 900):
        part = ids[start : start + 900]
        session.execute(
            sa.update(table).where(among(session, table.c.id, part)).values(planned_at=now)
        )
    for patient in patients:  # what the row now says, without marking the object changed
        if isinstance(patient, m.Patient):
            set_committed_value(patient, "planned_at", now)


def replan_patients(
    session: Session,
    *,
    patients: Sequence[PlannedPatient],
    settings: Settings,
    today: dt.date,
    facts: dict[int, Facts] | None = None,
    unchanged: dict[int, tuple[int, dt.date | None]] | None = None,
    protocol: tuple[Pack, Profile] | None = None,
) -> ReplanResult:
    """Replan a batch of patients inside the caller's transaction. ``unchanged``, if given, is
    told, for each patient whose stored plan came out the same, how many items it kept and the
    first day the same facts may plan or fire differently (``core.horizon``). ``protocol``: the
    pack and profile in force, if the caller has them."""
    pack, profile = protocol or protocol_in_force(session, settings, today)
    ids = [p.id for p in patients if p.id is not None]
    facts = facts if facts is not None else facts_for_patients(session, patients)
    overrides = overrides_for(session, ids, profile=profile)
    rows = reconciled_items(session, ids)
    paused = paused_patients(session, ids)
    total = ReplanResult()
    writes = Writes()
    for patient in patients:
        pid = patient.id or 0
        if pid in paused:
            total.add(ReplanResult(patients=1, kept=len(rows.get(pid, []))))
            continue
        new_plan = compute_plan(
            facts[pid], pack=pack, profile=profile, overrides=overrides.get(pid, []), today=today
        )
        verdicts = len(writes.verdicts)
        one = reconcile(
            patient=patient,
            new_plan=new_plan,
            open_rows=rows.get(pid, []),
            writes=writes,
        )
        if one.created or one.superseded:
            total.changed[pid] = one
        elif unchanged is not None and len(writes.verdicts) == verdicts:
            alert = ssa_alert_on(facts[pid], profile.thresholds, today)
            unchanged[pid] = (one.kept, holds_until(facts[pid], today, new_plan.ends_on, alert))
        total.add(one)
    _stamp_planned(session, [p for p in patients if p.id not in paused])
    session.flush()
    write_batch(session, writes)
    return total


def write_batch(session: Session, writes: Writes) -> None:
    """Insert a batch's new and replacement items and supersede the rows they replace, each in
    one executemany (the ORM state has been flushed by the caller), and the patients' new
    verdicts and plan notes in another."""
    _write_verdicts(session, writes.verdicts)
    table = table_of(m.FollowUpItem)
    now = utcnow()
    # Rows as plain tuples, the columns every planned row shares given once (building each as a
    # SQLModel object was about a quarter of a first planning's CPU; a parameter dict of every
    # column, processed per row by SQLAlchemy, another third of inserting them).
    same = _SAME_FOR_ALL | {"created_at": now, "updated_at": now}
    insert_plain(
        session,
        table,
        _PLANNED_COLUMNS,
        [_planned_values(values) for values in writes.new_rows],
        constants=same,
    )
    superseded = [
        {"b_id": old, "b_by": by, "b_why": why[:300]} for old, by, why in writes.superseded
    ]
    if writes.replacements:
        # Their ids drawn first, after the new rows took theirs (the order an INSERT would give),
        # for the rows they replace to point at: ``INSERT ... RETURNING`` in parameter order is
        # one statement per row on SQLite (``db.bulk_rows``).
        ids = new_ids(session, table, len(writes.replacements))
        insert_plain(
            session,
            table,
            ("id", *_PLANNED_COLUMNS),
            [
                (new, *_planned_values(values))
                for new, (values, _, _) in zip(ids, writes.replacements, strict=True)
            ],
            constants=same,
        )
        superseded += [
            {"b_id": old, "b_by": new, "b_why": why[:300]}
            for (_, old, why), new in zip(writes.replacements, ids, strict=True)
        ]
    if not superseded:
        return
    session.execute(
        sa.update(table)
        .where(table.c.id == sa.bindparam("b_id"))
        .values(
            state=m.ItemState.SUPERSEDED,
            superseded_by_id=sa.bindparam("b_by"),
            superseded_reason=sa.bindparam("b_why"),
            sequence=table.c.sequence + 1,  # calendar clients see the change
            updated_at=now,
        ),
        superseded,
    )
    # An item the transaction holds as an object (a trigger's consequence read it) must not
    # keep its old state: it is read again when next used.
    changed = {row["b_id"] for row in superseded}
    for held in list(session.identity_map.values()):
        if isinstance(held, m.FollowUpItem) and held.id in changed:
            session.expire(held)
