"""What a change did to a patient's plan, in words: the open items before and after it,
compared by what they are (kind and region), since a replan supersedes a moved item with a new
row rather than editing it."""

import datetime as dt
from dataclasses import dataclass

from sqlmodel import Session

from surveil.services.labels import kind_label
from surveil.services.planning.stored_items import open_items

PlanKey = tuple[str, str]  # kind, region ("" for none)


@dataclass(frozen=True)
class Window:
    earliest: dt.date
    target: dt.date
    latest: dt.date


@dataclass(frozen=True)
class PlanChange:
    """The open items that appeared, went away and moved, each in words."""

    new: tuple[str, ...] = ()
    gone: tuple[str, ...] = ()
    moved: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.new or self.gone or self.moved)

    def summary(self) -> str:
        if self.empty:
            return "The plan did not change."
        parts = [
            f"{title}: {'; '.join(lines)}"
            for title, lines in (("new", self.new), ("moved", self.moved), ("gone", self.gone))
            if lines
        ]
        return "Plan: " + " · ".join(parts) + "."


def open_plan(session: Session, patient_id: int) -> dict[PlanKey, Window]:
    """The patient's open items now, keyed by what they are."""
    session.flush()
    rows = open_items(session, [patient_id]).get(patient_id, [])
    return {(r.kind, r.region or ""): Window(r.earliest, r.target, r.latest) for r in rows}


def compare(before: dict[PlanKey, Window], after: dict[PlanKey, Window]) -> PlanChange:
    new = tuple(f"{_name(k)} by {after[k].target}" for k in sorted(after.keys() - before.keys()))
    gone = tuple(_name(k) for k in sorted(before.keys() - after.keys()))
    moved = tuple(
        f"{_name(k)} {before[k].target} → {after[k].target}"
        if before[k].target != after[k].target
        else f"{_name(k)} window now {after[k].earliest} to {after[k].latest}"
        for k in sorted(before.keys() & after.keys())
        if before[k] != after[k]
    )
    return PlanChange(new=new, gone=gone, moved=moved)


def _name(key: PlanKey) -> str:
    kind, region = key
    return kind_label(kind) + (f" ({region.replace('_', ' ')})" if region else "")
