"""What a change did to a patient's plan, in words: the open items before and after it, compared
by what they are (kind and region), so a nurse sees "CgA: target 2026-09-01 → 2026-07-02" rather
than item ids that the reconciler may have replaced."""

import datetime as dt
from dataclasses import dataclass

from sqlmodel import Session, col, select

from surveil.db import models as m
from surveil.services.labels import kind_label

Key = tuple[str, str]  # kind, region ("" when none)


@dataclass(frozen=True)
class Planned:
    target: dt.date
    urgent: bool


def open_plan(session: Session, patient_id: int) -> dict[Key, Planned]:
    """The patient's open items, one per kind and region (the earliest target if several)."""
    rows = session.exec(
        select(m.FollowUpItem)
        .where(
            m.FollowUpItem.patient_id == patient_id,
            col(m.FollowUpItem.state).in_([s.value for s in m.OPEN_ITEM_STATES]),
        )
        .order_by(col(m.FollowUpItem.target).desc())
    ).all()
    # Descending, so the earliest target of a kind is the one kept.
    return {(i.kind, i.region or ""): Planned(i.target, i.urgent) for i in rows}


def plan_changes(before: dict[Key, Planned], after: dict[Key, Planned]) -> tuple[str, ...]:
    """One line per item added, dropped or moved, in a stable order."""
    lines: list[str] = []
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key), after.get(key)
        label = _label(key)
        urgent = " (urgent)" if new is not None and new.urgent else ""
        if old is None and new is not None:
            lines.append(f"added {label}, target {new.target}{urgent}")
        elif new is None and old is not None:
            lines.append(f"no longer planned: {label} (was due {old.target})")
        elif old is not None and new is not None and old != new:
            lines.append(f"{label}: target {old.target} → {new.target}{urgent}")
    return tuple(lines)


def _label(key: Key) -> str:
    kind, region = key
    return f"{kind_label(kind)} ({region})" if region else kind_label(kind)
