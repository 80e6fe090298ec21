"""Per-patient overrides: a clinician's exception to the protocol for one kind of item.

An override changes the interval or the modality of one kind, or pauses it until a date. It
needs a reason and an author (the clinician who decided, who may not be the person typing it in:
the audit records that one), wins over the pack, and every item it shapes says so. Adding or
ending one re-plans the patient in the same transaction.
"""

import datetime as dt
import re
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.config import Settings
from surveil.core.vocab import IMAGING_KINDS, ItemKind
from surveil.db import models as m
from surveil.db.session import session_scope
from surveil.errors import InvalidInput, NotFound
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.entry import audited_read, change
from surveil.services.planning import care
from surveil.services.reasons import OTHER, check_code, keep_reason
from surveil.services.registry.access import patient_by_mrn
from surveil.services.validate import Checker

_EVERY = re.compile(r"^\s*([0-9]+)\s*(?:[-–]\s*([0-9]+))?\s*$")
UNITS = ("days", "weeks", "months")


@change("override.added", *care.CONSEQUENCES)
def add_override(
    engine: sa.Engine,
    *,
    actor: Actor,
    mrn: str,
    clinic: str,
    kind: str | None,
    every: str | None,
    unit: str | None,
    modality: str | None,
    paused_until: str | None,
    reason: str | None,
    author: str | None,
    settings: Settings,
    today: dt.date,
    reason_code: str | None = None,
) -> int:
    """Add an override and re-plan the patient; returns the override's id. The reason carries a
    code from ``[reasons] override`` ("other" when none is given), counted by the reasons report."""
    with session_scope(engine) as session:
        patient = patient_by_mrn(session, actor=actor, mrn=mrn, clinic=clinic)
        coded = Checker(today=today, what="override")
        code, _ = check_code(
            coded, settings.reasons, "override", reason_code, (reason or "")[:300], default=OTHER
        )
        try:
            row = _new_override(
                session,
                patient=patient,
                kind=kind,
                every=every,
                unit=unit,
                modality=modality,
                paused_until=paused_until,
                reason=reason,
                author=author,
                today=today,
            )
        except InvalidInput as error:  # every problem at once, the code's too
            raise InvalidInput([*coded.problems, *error.problems], what="override") from error
        coded.raise_if_problems()
        assert code is not None
        keep_reason(
            session,
            actor=actor,
            patient_id=patient.id or 0,
            action="override.added",
            subject=f"override:{row.id}",
            rule_id=f"override:{row.kind}",
            code=code,
            note=row.reason,
        )
        audit(
            session,
            actor=actor,
            action="override.added",
            patient_id=patient.id,
            subject=f"override:{row.id}",
            after=_shown(row),
            detail=f"override #{row.id} of {row.kind} by {row.author}: {row.reason}",
        )
        care.refresh_patient(
            session, patient=patient, settings=settings, today=today, channel=actor.channel
        )
        return row.id or 0


def _new_override(
    session: Session,
    *,
    patient: m.Patient,
    kind: str | None,
    every: str | None,
    unit: str | None,
    modality: str | None,
    paused_until: str | None,
    reason: str | None,
    author: str | None,
    today: dt.date,
) -> m.PlanOverride:
    check = Checker(today=today, what="override")
    item_kind = check.choice("kind", kind, ItemKind)
    low = high = None
    if every:
        match = _EVERY.match(every)
        if match is None or int(match.group(1)) == 0:
            check.fail("every", f"{every!r}: write a number or a range, e.g. 3 or 3-6")
        else:
            low = int(match.group(1))
            high = int(match.group(2) or low)
            if high < low:
                check.fail("every", f"{every!r}: the range runs from low to high")
    if unit is not None and unit not in UNITS:
        check.fail("unit", f"{unit!r} is not one of: {', '.join(UNITS)}")
    new_kind = check.choice("modality", modality, ItemKind, required=False)
    if new_kind is not None and (new_kind not in IMAGING_KINDS or item_kind not in IMAGING_KINDS):
        check.fail("modality", "a modality override swaps one scan for another (e.g. mri → ct)")
    pause = check.date("paused_until", paused_until, required=False, not_future=False)
    if not (every or modality or paused_until):
        check.fail("every", "say what changes: --every, --modality or --paused-until")
    text = check.text("reason", reason, max_length=300)
    who = check.text("author", author, max_length=64)
    check.raise_if_problems()
    row = m.PlanOverride(
        patient_id=patient.id or 0,
        kind=str(item_kind),
        interval_min=low,
        interval_max=high,
        interval_unit=(unit or "months") if low else None,
        modality=new_kind,
        paused_until=pause,
        reason=text or "",
        author=who or "",
    )
    session.add(row)
    session.flush()
    return row


@audited_read("overrides.viewed")
def show_overrides(
    engine: sa.Engine, *, actor: Actor, mrn: str, clinic: str, include_inactive: bool = False
) -> list[dict[str, Any]]:
    """A patient's overrides (the active ones, or all), oldest first."""
    with session_scope(engine) as session:
        patient = patient_by_mrn(session, actor=actor, mrn=mrn, clinic=clinic)
        query = select(m.PlanOverride).where(m.PlanOverride.patient_id == patient.id)
        if not include_inactive:
            query = query.where(col(m.PlanOverride.active))
        rows = session.exec(query.order_by(col(m.PlanOverride.id))).all()
        audit(
            session,
            actor=actor,
            action="overrides.viewed",
            patient_id=patient.id,
            subject=f"patient:{patient.id}",
            detail=f"override list: {len(rows)} shown",
        )
        return [row.model_dump(exclude={"patient_id"}) for row in rows]


@change("override.ended", *care.CONSEQUENCES)
def end_override(
    engine: sa.Engine,
    *,
    actor: Actor,
    mrn: str,
    clinic: str,
    override_id: int,
    settings: Settings,
    today: dt.date,
) -> None:
    """End an override (it is kept, inactive) and re-plan: the pack's schedule applies again."""
    with session_scope(engine) as session:
        patient = patient_by_mrn(session, actor=actor, mrn=mrn, clinic=clinic)
        row = session.get(m.PlanOverride, override_id)
        if row is None or row.patient_id != patient.id or not row.active:
            raise NotFound(f"no active override #{override_id} for this patient")
        row.active = False
        session.add(row)
        audit(
            session,
            actor=actor,
            action="override.ended",
            patient_id=patient.id,
            subject=f"override:{row.id}",
            before={"active": True},
            after={"active": False},
            detail=f"override #{row.id} of {row.kind} ended",
        )
        care.refresh_patient(
            session, patient=patient, settings=settings, today=today, channel=actor.channel
        )


def _shown(row: m.PlanOverride) -> dict[str, object]:
    return row.model_dump(
        include={"kind", "interval_min", "interval_max", "interval_unit", "modality"}
        | {"paused_until", "reason", "author"}
    )
