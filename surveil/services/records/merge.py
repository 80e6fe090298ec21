"""Two records of one patient made one (``surveil patient merge KEEP GONE``, the admin form on
the patient page), and undone (``surveil patient unmerge GONE``) until the record is purged.

A merge moves GONE's history to KEEP: lesions and their measurements (a lesion label KEEP
already has takes the measurements into KEEP's lesion), markers, pathology, therapies, symptoms,
plan overrides, triggers with their consequences, the items' history (every item except GONE's
open protocol items, which KEEP's replan supersedes: no duplicate open item) and the reminders
already sent. GONE is then discharged "merged into KEEP", which stops everything left on it
(``planning.stop``: open items cancelled, queued reminders suppressed) and revokes its calendar
feeds. What moved is kept, row by row, in ``patient_merge.moved``, so unmerging moves exactly
those rows back, ends the merge episode, restores the feeds the merge revoked (see
:func:`_restore_feeds`) and replans both, until an administrator makes the merge final
(``surveil patient purge-merge GONE``): unmerge is refused after that. All are administrators'
acts, each audited as one event plus its consequences, in one transaction.
"""

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select

from surveil.config import Settings
from surveil.core.digits import is_digits
from surveil.core.vocab import StateKind
from surveil.db import models as m
from surveil.db.session import session_scope
from surveil.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Problem
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.entry import change
from surveil.services.outcome import Outcome
from surveil.services.planning import care, stop
from surveil.services.registry.access import patient_by_mrn

# Rows that belong to a patient directly and move whole, by their table name in ``moved``.
WHOLE: tuple[tuple[str, type[SQLModel]], ...] = (
    ("markerresult", m.MarkerResult),
    ("pathologyresult", m.PathologyResult),
    ("therapy", m.Therapy),
    ("symptom", m.Symptom),
    ("planoverride", m.PlanOverride),
)
OPEN_STATES = tuple(s.value for s in m.OPEN_ITEM_STATES)


@change("patient.merged", *care.CONSEQUENCES)
def merge_patients(
    engine: sa.Engine,
    *,
    actor: Actor,
    keep_mrn: str,
    gone_mrn: str,
    clinic: str,
    reason: str | None,
    settings: Settings,
    today: dt.date,
    now: dt.datetime,
) -> Outcome:
    """Merge the record GONE into KEEP (see the module docstring); reversible by unmerge."""
    _require_admin(actor, "merge patient records")
    with session_scope(engine) as session:
        keep = patient_by_mrn(session, actor=actor, mrn=keep_mrn, clinic=clinic)
        gone = patient_by_mrn(session, actor=actor, mrn=gone_mrn, clinic=clinic)
        _check_mergeable(session, keep, gone)
        merge = m.PatientMerge(
            keep_id=keep.id or 0,
            gone_id=gone.id or 0,
            reason=(reason or "").strip()[:300],
            merged_by=actor.username,
            merged_at=now,
        )
        session.add(merge)
        session.flush()
        moved = _move_history(session, keep, gone)
        moved["feed_token"] = _revoke_feeds(session, gone, now)
        moved["gone_state"] = _discharge_as_merged(session, keep, gone, merge, today)
        merge.moved = json.dumps(moved)
        session.add(merge)
        counts = {k: len(v) for k, v in moved.items() if isinstance(v, list | dict)}
        audit(
            session,
            actor=actor,
            action="patient.merged",
            patient_id=keep.id,
            subject=f"patient_merge:{merge.id}",
            before={"gone": gone.mrn, "gone_id": gone.id},
            after={"keep": keep.mrn, "moved": counts},
            detail=f"MRN {gone.mrn} merged into MRN {keep.mrn} (merge #{merge.id})"
            + (f": {merge.reason}" if merge.reason else ""),
        )
        for patient in (gone, keep):
            care.refresh_patient(
                session, patient=patient, settings=settings, today=today, channel=actor.channel
            )
        return Outcome(
            message=f"MRN {gone.mrn} merged into MRN {keep.mrn} (merge #{merge.id})",
            patient_id=keep.id or 0,
        )


@change("patient.unmerged", *care.CONSEQUENCES)
def unmerge_patient(
    engine: sa.Engine,
    *,
    actor: Actor,
    gone_mrn: str,
    clinic: str,
    reason: str | None,
    settings: Settings,
    today: dt.date,
    now: dt.datetime,
) -> Outcome:
    """Undo the merge of GONE: every row it moved goes back, GONE's merge episode ends (its
    state before the merge is current again) and both are replanned."""
    _require_admin(actor, "undo a merge")
    with session_scope(engine) as session:
        gone = patient_by_mrn(session, actor=actor, mrn=gone_mrn, clinic=clinic)
        merge = _active_merge(session, gone.id)
        if merge is None:
            raise NotFound(f"MRN {gone_mrn} has not been merged into another record")
        if merge.purged_at is not None:
            raise Conflict(
                f"merge #{merge.id} was made final by {merge.purged_by} on "
                f"{merge.purged_at:%Y-%m-%d}: it cannot be undone"
            )
        keep = session.get_one(m.Patient, merge.keep_id)
        moved: dict[str, Any] = json.loads(merge.moved or "{}")
        _move_back(session, moved, gone)
        _end_merge_episode(session, moved.get("gone_state") or {})
        feeds = _restore_feeds(session, gone, merge, moved.get("feed_token") or [])
        merge.unmerged_by, merge.unmerged_at = actor.username, now
        session.add(merge)
        audit(
            session,
            actor=actor,
            action="patient.unmerged",
            patient_id=gone.id,
            subject=f"patient_merge:{merge.id}",
            before={"keep": keep.mrn},
            after={"gone": gone.mrn, "feeds_restored": feeds},
            detail=f"merge #{merge.id} undone: MRN {gone.mrn} is a record of its own again"
            + (f"; {len(feeds)} calendar feed(s) restored" if feeds else "")
            + (f" ({reason.strip()[:200]})" if reason and reason.strip() else ""),
        )
        session.flush()
        for patient in (keep, gone):
            care.refresh_patient(
                session, patient=patient, settings=settings, today=today, channel=actor.channel
            )
        return Outcome(
            message=f"merge #{merge.id} undone: MRN {gone.mrn} and MRN {keep.mrn} are apart",
            patient_id=gone.id or 0,
        )


@change("patient.merge_purged")
def purge_merge(
    engine: sa.Engine,
    *,
    actor: Actor,
    gone_mrn: str,
    clinic: str,
    reason: str | None,
    now: dt.datetime,
) -> Outcome:
    """Make the merge of GONE final: it can no longer be undone. GONE stays as an empty,
    discharged record (its MRN still finds the merge), and the audit keeps what moved."""
    _require_admin(actor, "make a merge final")
    with session_scope(engine) as session:
        gone = patient_by_mrn(session, actor=actor, mrn=gone_mrn, clinic=clinic)
        merge = _active_merge(session, gone.id)
        if merge is None:
            raise NotFound(f"MRN {gone_mrn} has not been merged into another record")
        if merge.purged_at is not None:
            raise Conflict(f"merge #{merge.id} is already final (by {merge.purged_by})")
        keep = session.get_one(m.Patient, merge.keep_id)
        merge.purged_by, merge.purged_at = actor.username, now
        session.add(merge)
        why = (reason or "").strip()[:200]
        audit(
            session,
            actor=actor,
            action="patient.merge_purged",
            patient_id=keep.id,
            subject=f"patient_merge:{merge.id}",
            before={"reversible": True},
            after={"reversible": False, "gone": gone.mrn, "keep": keep.mrn},
            detail=f"merge #{merge.id} of MRN {gone.mrn} into MRN {keep.mrn} made final"
            + (f" ({why})" if why else ""),
        )
        return Outcome(
            message=f"merge #{merge.id} is final: MRN {gone.mrn} can no longer be unmerged",
            patient_id=keep.id or 0,
        )


def _require_admin(actor: Actor, what: str) -> None:
    if not actor.is_admin:
        raise PermissionDenied(f"only an administrator may {what}; {actor.username} is a "
                               f"{actor.role}")  # fmt: skip


def _active_merge(session: Session, gone_id: int | None) -> m.PatientMerge | None:
    return session.exec(
        select(m.PatientMerge).where(
            m.PatientMerge.gone_id == gone_id, col(m.PatientMerge.unmerged_at).is_(None)
        )
    ).first()


def _check_mergeable(session: Session, keep: m.Patient, gone: m.Patient) -> None:
    if keep.id == gone.id:
        raise InvalidInput(Problem("gone", "KEEP and GONE are the same record"), what="merge")
    for patient, role in ((gone, "GONE"), (keep, "KEEP")):
        if _active_merge(session, patient.id) is not None:
            raise Conflict(f"{role} (MRN {patient.mrn}) is already merged into another record")


def _move_history(session: Session, keep: m.Patient, gone: m.Patient) -> dict[str, Any]:
    moved: dict[str, Any] = {}
    kid = keep.id or 0
    for name, model in WHOLE:
        rows = session.exec(select(model).where(model.patient_id == gone.id)).all()  # type: ignore[attr-defined]
        moved[name] = [_reassign(session, row, kid) for row in rows]
    moved["lesion"], moved["measurement"] = _move_lesions(session, keep, gone)
    keep_prints = set(
        session.exec(select(m.Trigger.fingerprint).where(m.Trigger.patient_id == kid)).all()
    )
    triggers = [
        t
        for t in session.exec(select(m.Trigger).where(m.Trigger.patient_id == gone.id)).all()
        if t.fingerprint not in keep_prints  # the same finding KEEP already has stays behind
    ]
    moved["trigger"] = [_reassign(session, t, kid) for t in triggers]
    moved["trigger_consequence"] = [
        _reassign(session, row, kid)
        for row in session.exec(
            select(m.TriggerConsequence).where(
                col(m.TriggerConsequence.trigger_id).in_(moved["trigger"])
            )
        ).all()
    ]
    items = session.exec(select(m.FollowUpItem).where(m.FollowUpItem.patient_id == gone.id)).all()
    moved["followup_item"] = [
        _reassign(session, item, kid)
        for item in items
        if item.state not in OPEN_STATES or _belongs_to(item, moved["trigger"])
    ]
    reminders = session.exec(
        select(m.Reminder).where(
            m.Reminder.patient_id == gone.id, m.Reminder.state != m.ReminderState.PENDING
        )
    ).all()
    moved["reminder"] = [_reassign(session, row, kid) for row in reminders]
    session.flush()
    return moved


def _belongs_to(item: m.FollowUpItem, trigger_ids: list[int]) -> bool:
    """An escalation item moves with its trigger (``trigger:<id>:<kind>``)."""
    parts = item.rule_id.split(":")
    return (
        parts[0] == "trigger"
        and len(parts) > 1
        and is_digits(parts[1])
        and (int(parts[1]) in trigger_ids)
    )


def _reassign(session: Session, row: Any, patient_id: int) -> int:
    row.patient_id = patient_id
    session.add(row)
    return int(row.id)


def _move_lesions(
    session: Session, keep: m.Patient, gone: m.Patient
) -> tuple[list[int], dict[str, int]]:
    """Lesions move whole, unless KEEP has the same label: then their measurements move into
    KEEP's lesion (recorded with the lesion they came from, to go back on unmerge)."""
    kept = {
        lesion.label: lesion
        for lesion in session.exec(select(m.Lesion).where(m.Lesion.patient_id == keep.id)).all()
    }
    whole: list[int] = []
    measurements: dict[str, int] = {}
    for lesion in session.exec(select(m.Lesion).where(m.Lesion.patient_id == gone.id)).all():
        same = kept.get(lesion.label)
        if same is None:
            whole.append(_reassign(session, lesion, keep.id or 0))
            continue
        for row in session.exec(select(m.Measurement).where(m.Measurement.lesion_id == lesion.id)):
            measurements[str(row.id)] = lesion.id or 0
            row.lesion_id = same.id or 0
            session.add(row)
    return whole, measurements


def _revoke_feeds(session: Session, gone: m.Patient, now: dt.datetime) -> list[int]:
    tokens = session.exec(
        select(m.FeedToken).where(
            m.FeedToken.patient_id == gone.id, col(m.FeedToken.revoked_at).is_(None)
        )
    ).all()
    for token in tokens:
        token.revoked_at = now
        session.add(token)
    return [t.id or 0 for t in tokens]


def _discharge_as_merged(
    session: Session, keep: m.Patient, gone: m.Patient, merge: m.PatientMerge, today: dt.date
) -> dict[str, int | None]:
    current = session.exec(
        select(m.DiseaseState).where(
            m.DiseaseState.patient_id == gone.id, col(m.DiseaseState.end_date).is_(None)
        )
    ).first()
    start = max(today, current.start_date) if current else today
    if current is not None:
        current.end_date = start
        session.add(current)
    episode = m.DiseaseState(
        patient_id=gone.id or 0,
        kind=StateKind.DISCHARGED.value,
        start_date=start,
        reason=f"merged into MRN {keep.mrn} (merge #{merge.id})",
    )
    session.add(episode)
    session.flush()
    return {"ended": current.id if current else None, "opened": episode.id}


def _move_back(session: Session, moved: dict[str, Any], gone: m.Patient) -> None:
    gid = gone.id or 0
    models: dict[str, type[SQLModel]] = {
        **dict(WHOLE),
        "lesion": m.Lesion,
        "trigger": m.Trigger,
        "trigger_consequence": m.TriggerConsequence,
        "followup_item": m.FollowUpItem,
        "reminder": m.Reminder,
    }
    for name, model in models.items():
        for row_id in moved.get(name, []):
            row = session.get(model, row_id)
            if row is not None:
                _reassign(session, row, gid)
    for measurement_id, lesion_id in (moved.get("measurement") or {}).items():
        row = session.get(m.Measurement, int(measurement_id))
        if row is not None and session.get(m.Lesion, lesion_id) is not None:
            row.lesion_id = lesion_id
            session.add(row)
    session.flush()


def _restore_feeds(
    session: Session, gone: m.Patient, merge: m.PatientMerge, token_ids: list[int]
) -> list[int]:
    """Bring back the calendar feeds the merge revoked. Safe because each link only ever
    showed GONE's own items, which are GONE's again; a feed revoked at any other time than
    the merge (by a person, or retired) stays revoked, and none comes back while GONE's
    follow-up here has ended (it died or was discharged meanwhile)."""
    session.flush()
    session.refresh(gone)
    if stop.why_care_ended(session, gone) is not None:
        return []
    restored = []
    for token_id in token_ids:
        token = session.get(m.FeedToken, token_id)
        if token is None or token.patient_id != gone.id or token.revoked_at != merge.merged_at:
            continue
        token.revoked_at = None
        session.add(token)
        restored.append(token_id)
    return restored


def _end_merge_episode(session: Session, state: dict[str, int | None]) -> None:
    opened = session.get(m.DiseaseState, state["opened"]) if state.get("opened") else None
    ended = session.get(m.DiseaseState, state["ended"]) if state.get("ended") else None
    if opened is None or opened.end_date is not None:
        return  # someone has recorded a state since: theirs stands
    session.delete(opened)
    if ended is not None:
        ended.end_date = None
        session.add(ended)
    session.flush()
