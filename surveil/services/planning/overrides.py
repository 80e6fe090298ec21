"""Per-patient overrides: a clinician's exception to the protocol for one kind of item.

An override changes the interval or the modality of one kind, or pauses it until a date. It
needs a reason and an author, wins over the pack, and every item it shapes says so.
"""

import datetime as dt
import re

from sqlmodel import Session, col, select

from surveil.core.vocab import IMAGING_KINDS, ItemKind
from surveil.db import models as m
from surveil.errors import NotFound
from surveil.services.validate import Checker

_EVERY = re.compile(r"^\s*(\d+)\s*(?:[-–]\s*(\d+))?\s*$")
UNITS = ("days", "weeks", "months")


def add_override(
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


def list_overrides(
    session: Session, *, patient: m.Patient, include_inactive: bool = False
) -> list[m.PlanOverride]:
    query = select(m.PlanOverride).where(m.PlanOverride.patient_id == patient.id)
    if not include_inactive:
        query = query.where(col(m.PlanOverride.active))
    return list(session.exec(query.order_by(col(m.PlanOverride.id))).all())


def end_override(session: Session, *, patient: m.Patient, override_id: int) -> m.PlanOverride:
    row = session.get(m.PlanOverride, override_id)
    if row is None or row.patient_id != patient.id or not row.active:
        raise NotFound(f"no active override #{override_id} for this patient")
    row.active = False
    session.add(row)
    session.flush()
    return row
