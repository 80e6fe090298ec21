"""Escalation: findings from the pure trigger engine become stored records that nobody can miss.

* One record per finding, ever (unique fingerprint: subject and evidence date), and at most one
  unresolved record per subject (``growth_rate:L1``): re-evaluating never opens a duplicate.
* A new record adds the pack's escalation item (a tumour-board review due within N days), any
  one-off orders (an SSTR PET after a confirmed marker rise), and records its other consequences
  (leave the surveillance pathway, shorter imaging, a paused plan) as proposals, applied at once
  only where the clinic's profile says ``apply = "on_open"`` (``triggers.consequences``).
* A confounded finding (a CgA rise on a proton-pump inhibitor) only asks for a repeat test.
* Records move open → acknowledged → resolved, with who, when and the outcome
  (``services.triggers.review``).

A new record and a state change it applies on open are automatic consequences of whatever change
made the finding true; both are audited, in that change's transaction, as surveil itself
(``system``) on the channel of the change that caused them, so the patient's audit trail explains
every row.
"""

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, col, select

from surveil.config import Settings
from surveil.core.facts import Facts
from surveil.core.findings import Finding
from surveil.core.protocol import Pack, Profile, TriggerConsequence
from surveil.core.triggers import board_deadlines, compile_triggers, evaluate_compiled
from surveil.core.vocab import Channel, ItemKind
from surveil.db import models as m
from surveil.db.bulk_rows import among, defaults_of, insert_dicts, new_ids, table_of
from surveil.db.queries import PlannedPatient, facts_for_patients
from surveil.services.actor import Actor
from surveil.services.audit import audit_many
from surveil.services.labels import trigger_label
from surveil.services.protocols import protocol_in_force
from surveil.services.triggers.consequences import NewTrigger, ToRecord, record_many

TRIGGER_RULE = "trigger:{id}:{kind}"


def evaluate_and_escalate(
    session: Session,
    *,
    patients: Sequence[PlannedPatient],
    settings: Settings,
    today: dt.date,
    channel: Channel,
    facts: dict[int, Facts] | None = None,
    protocol: tuple[Pack, Profile] | None = None,
) -> list[NewTrigger]:
    """Evaluate every patient's triggers and store what is new; returns the new records.
    ``channel`` is the channel of the change that caused the evaluation (for the audit)."""
    pack, profile = protocol or protocol_in_force(session, settings, today)
    facts = facts if facts is not None else facts_for_patients(session, patients)
    # The profile's rules once for the batch; most patients have no finding, so only those
    # with one have their known triggers read (none at all when nothing fires).
    rules = compile_triggers(
        profile.thresholds,
        rule_ref=f"{pack.id} v{pack.version}",
        board_within=board_deadlines(profile.on_trigger),
    )
    found: list[tuple[PlannedPatient, list[Finding]]] = []
    for patient in patients:
        findings = evaluate_compiled(facts[patient.id or 0], rules, today)
        if findings:
            found.append((patient, findings))
    known = _known(session, [p.id for p, _ in found if p.id is not None])
    new: list[tuple[PlannedPatient, Finding]] = []
    for patient, findings in found:
        fingerprints, open_keys = known.get(patient.id or 0, (set(), set()))
        for finding in findings:
            if finding.fingerprint in fingerprints or finding.key in open_keys:
                continue
            open_keys.add(finding.key)
            fingerprints.add(finding.fingerprint)
            new.append((patient, finding))
    created = _store_all(
        session, new, pack=pack, profile=profile, facts=facts, today=today, channel=channel
    )
    session.flush()
    return created


def _known(session: Session, ids: list[int]) -> dict[int, tuple[set[str], set[str]]]:
    out: dict[int, tuple[set[str], set[str]]] = {}
    if not ids:
        return out
    rows = session.exec(
        select(
            m.Trigger.patient_id, m.Trigger.fingerprint, m.Trigger.subject_key, m.Trigger.state
        ).where(among(session, m.Trigger.patient_id, ids))
    ).all()
    for pid, fingerprint, key, state in rows:
        fingerprints, open_keys = out.setdefault(pid, (set(), set()))
        fingerprints.add(fingerprint)
        if state != m.TriggerState.RESOLVED:
            open_keys.add(key)
    return out


def _store_all(
    session: Session,
    new: list[tuple[PlannedPatient, Finding]],
    *,
    pack: Pack,
    profile: Profile,
    facts: dict[int, Facts],
    today: dt.date,
    channel: Channel,
) -> list[NewTrigger]:
    """Store the batch's new findings as rows, a statement per table for all of them (a
    100,000-row import opens ~4,000 triggers; ORM objects and flushes for each made storing
    them 15 % of its time, 3 % now): their ids are drawn first, so that each trigger's items
    can be named after it and it can point at its tumour-board item. The rows are those one at
    a time stored, in the same order; the consequences are then recorded and applied trigger
    by trigger, in the order the findings were found."""
    if not new:
        return []
    session.flush()  # no pending object may take the ids drawn here
    trigger_table, item_table = table_of(m.Trigger), table_of(m.FollowUpItem)
    ids = new_ids(session, trigger_table, len(new))
    records = [
        NewTrigger(tid, patient.id or 0, f.kind.value, f.explanation[:600])
        for tid, (patient, f) in zip(ids, new, strict=True)
    ]
    item_defaults = defaults_of(m.FollowUpItem)
    items: list[dict[str, Any]] = []
    acting: list[tuple[int, TriggerConsequence, int | None, list[int]]] = []  # at, items' places
    for at, (record, (_, finding)) in enumerate(zip(records, new, strict=True)):
        consequence = profile.on_trigger.get(finding.kind.value)
        if finding.confounded or consequence is None:
            continue
        # The profile decides: its consequence, else its thresholds (one place to configure).
        within = consequence.refer_within_days or profile.thresholds.tumour_board_within_days
        board = None
        if consequence.refer is not None:
            board = len(items)
            items.append(
                item_defaults
                | _escalation_item(
                    record,
                    finding,
                    consequence.refer,
                    consequence,
                    pack,
                    profile,
                    today=today,
                    within_days=within,
                    urgent=finding.urgent,
                )
            )
        orders = []
        for kind in consequence.order:
            orders.append(len(items))
            items.append(
                item_defaults
                | _escalation_item(
                    record,
                    finding,
                    kind,
                    consequence,
                    pack,
                    profile,
                    today=today,
                    within_days=max(within, 30),
                    urgent=False,
                )
            )
        acting.append((at, consequence, board, orders))
    for item, item_id in zip(items, new_ids(session, item_table, len(items)), strict=True):
        item["id"] = item_id
    board_of = {at: items[board]["id"] for at, _, board, _ in acting if board is not None}
    trigger_defaults = defaults_of(m.Trigger)
    insert_dicts(session, item_table, items)  # first: a trigger points at its board item
    insert_dicts(
        session,
        trigger_table,
        [
            trigger_defaults | _record(record, finding, item_id=board_of.get(at))
            for at, (record, (_, finding)) in enumerate(zip(records, new, strict=True))
        ],
    )
    # What audit() stores of surveil itself is its name and channel, whatever the clinic.
    system = Actor.system(channel=channel)
    audit_many(
        session,
        [
            {
                "action": "trigger.fired",
                "patient_id": record.patient_id,
                "subject": f"trigger:{record.id}",
                "after": {"kind": record.kind, "value": f.value, "confounded": f.confounded},
                "detail": f"new trigger #{record.id}: {trigger_label(record.kind)}",
            }
            for record, (_, f) in zip(records, new, strict=True)
        ],
        actor=system,
    )
    to_record: list[ToRecord] = []
    for at, consequence, _, orders in acting:
        record = records[at]
        state = facts[record.patient_id].state.kind
        ordered = [(items[i]["id"], items[i]["kind"]) for i in orders]
        to_record.append((record, consequence, state, ordered, system))
    record_many(session, to_record, today=today)
    return records


def _record(record: NewTrigger, finding: Finding, *, item_id: int | None) -> dict[str, Any]:
    return {
        "id": record.id,
        "patient_id": record.patient_id,
        "kind": finding.kind.value,
        "subject_key": finding.key[:96],
        "fingerprint": finding.fingerprint[:128],
        "lesion": finding.lesion,
        "value": finding.value,
        "threshold": finding.threshold,
        "unit": finding.unit,
        "confounded": finding.confounded,
        "urgent": finding.urgent,
        "action": finding.action[:300],
        "detected_on": finding.detected_on,
        "explanation": finding.explanation[:600],
        "item_id": item_id,
    }


def _escalation_item(
    record: NewTrigger,
    finding: Finding,
    kind: ItemKind,
    consequence: TriggerConsequence,
    pack: Pack,
    profile: Profile,
    *,
    today: dt.date,
    within_days: int,
    urgent: bool,
) -> dict[str, Any]:
    due = today + dt.timedelta(days=within_days)
    return {
        "patient_id": record.patient_id,
        "kind": kind.value,
        "earliest": today,
        "target": due,
        "latest": due,
        "rule_id": TRIGGER_RULE.format(id=record.id, kind=record.kind),
        "pack_id": pack.id,
        "pack_version": pack.version,
        "profile": profile.name,
        "source": consequence.source,
        "evidence": str(consequence.evidence),
        "anchor_event": f"trigger #{record.id} {record.kind}",
        "anchor_date": finding.detected_on,
        "urgent": urgent or finding.urgent,
        "reason": f"{consequence.note} {record.explanation}"[:500],
    }


# --------------------------------------------------------------------------- the record's life


def list_triggers(
    session: Session,
    *,
    clinic: str | None = None,
    open_only: bool = False,
    patient_id: int | None = None,
) -> Sequence[tuple[m.Trigger, m.Patient]]:
    query = select(m.Trigger, m.Patient).join(m.Patient)
    if clinic is not None:
        query = query.where(m.Patient.clinic == clinic)
    if open_only:
        query = query.where(m.Trigger.state != m.TriggerState.RESOLVED)
    if patient_id is not None:
        query = query.where(m.Trigger.patient_id == patient_id)
    query = query.order_by(
        col(m.Trigger.urgent).desc(), col(m.Trigger.detected_on), col(m.Trigger.id)
    )
    return session.exec(query).all()
