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

from sqlmodel import Session, col, select

from surveil.config import Settings
from surveil.core.facts import Facts
from surveil.core.findings import Finding
from surveil.core.protocol import Pack, Profile, TriggerConsequence
from surveil.core.triggers import board_deadlines, evaluate_triggers
from surveil.core.vocab import Channel, ItemKind
from surveil.db import models as m
from surveil.db.queries import PlannedPatient, facts_for_patients
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.labels import trigger_label
from surveil.services.protocols import protocol_in_force
from surveil.services.triggers.consequences import ToRecord, record_many

TRIGGER_RULE = "trigger:{id}:{kind}"


def evaluate_and_escalate(
    session: Session,
    *,
    patients: Sequence[PlannedPatient],
    settings: Settings,
    today: dt.date,
    channel: Channel,
    facts: dict[int, Facts] | None = None,
) -> list[m.Trigger]:
    """Evaluate every patient's triggers and store what is new; returns the new records.
    ``channel`` is the channel of the change that caused the evaluation (for the audit)."""
    pack, profile = protocol_in_force(session, settings, today)
    facts = facts if facts is not None else facts_for_patients(session, patients)
    ids = [p.id for p in patients if p.id is not None]
    known = _known(session, ids)
    new: list[tuple[PlannedPatient, Finding]] = []
    deadlines = board_deadlines(profile.on_trigger)
    for patient in patients:
        pid = patient.id or 0
        findings = evaluate_triggers(
            facts[pid],
            profile.thresholds,
            today,
            rule_ref=f"{pack.id} v{pack.version}",
            board_within=deadlines,
        )
        fingerprints, open_keys = known.get(pid, (set(), set()))
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
        ).where(col(m.Trigger.patient_id).in_(ids))
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
) -> list[m.Trigger]:
    """Store the batch's new findings, each step for all of them at once (one flush for the
    records, one for their items: a first planning of 100,000 patients stores ~20,000 triggers,
    and five flushes each were most of its cost); the consequences are then recorded and
    applied trigger by trigger, in the order the findings were found, as before."""
    records = [_record(patient, finding) for patient, finding in new]
    session.add_all(records)
    session.flush()
    systems = [Actor.system(channel=channel, clinic=patient.clinic) for patient, _ in new]
    for record, system in zip(records, systems, strict=True):
        audit(
            session,
            actor=system,
            action="trigger.fired",
            patient_id=record.patient_id,
            subject=f"trigger:{record.id}",
            after={"kind": record.kind, "value": record.value, "confounded": record.confounded},
            detail=f"new trigger #{record.id}: {trigger_label(record.kind)}",
        )
    acting: list[tuple[int, TriggerConsequence, m.FollowUpItem | None, list[m.FollowUpItem]]] = []
    for at, (record, (_, finding)) in enumerate(zip(records, new, strict=True)):
        consequence = profile.on_trigger.get(finding.kind.value)
        if finding.confounded or consequence is None:
            continue
        # The profile decides: its consequence, else its thresholds (one place to configure).
        within = consequence.refer_within_days or profile.thresholds.tumour_board_within_days
        board = None
        if consequence.refer is not None:
            board = _escalation_item(
                record,
                consequence.refer,
                consequence,
                pack,
                profile,
                today=today,
                within_days=within,
                urgent=finding.urgent,
            )
        orders = [
            _escalation_item(
                record,
                kind,
                consequence,
                pack,
                profile,
                today=today,
                within_days=max(within, 30),
                urgent=False,
            )
            for kind in consequence.order
        ]
        session.add_all(([board] if board is not None else []) + orders)
        acting.append((at, consequence, board, orders))
    session.flush()
    to_record: list[ToRecord] = []
    for at, consequence, board, orders in acting:
        record = records[at]
        if board is not None:
            record.item_id = board.id
        state = facts[record.patient_id].state.kind
        to_record.append((record, consequence, state, orders, systems[at]))
    record_many(session, to_record, today=today)
    return records


def _record(patient: PlannedPatient, finding: Finding) -> m.Trigger:
    return m.Trigger(
        patient_id=patient.id or 0,
        kind=finding.kind.value,
        subject_key=finding.key[:96],
        fingerprint=finding.fingerprint[:128],
        lesion=finding.lesion,
        value=finding.value,
        threshold=finding.threshold,
        unit=finding.unit,
        confounded=finding.confounded,
        urgent=finding.urgent,
        action=finding.action[:300],
        detected_on=finding.detected_on,
        explanation=finding.explanation[:600],
    )


def _escalation_item(
    record: m.Trigger,
    kind: ItemKind,
    consequence: TriggerConsequence,
    pack: Pack,
    profile: Profile,
    *,
    today: dt.date,
    within_days: int,
    urgent: bool,
) -> m.FollowUpItem:
    due = today + dt.timedelta(days=within_days)
    return m.FollowUpItem(
        patient_id=record.patient_id,
        kind=kind.value,
        earliest=today,
        target=due,
        latest=due,
        rule_id=TRIGGER_RULE.format(id=record.id, kind=record.kind),
        pack_id=pack.id,
        pack_version=pack.version,
        profile=profile.name,
        source=consequence.source,
        evidence=str(consequence.evidence),
        anchor_event=f"trigger #{record.id} {record.kind}",
        anchor_date=record.detected_on,
        urgent=urgent or record.urgent,
        reason=f"{consequence.note} {record.explanation}"[:500],
    )


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
