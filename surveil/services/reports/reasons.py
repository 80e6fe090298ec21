"""How often each rule is declined, not needed, snoozed, booked outside its window, overridden or
reopened, and why: the coded reasons counted by rule and reason, with the coded outcomes
clinicians gave when resolving triggers (by trigger kind and outcome code; a resolution from
before outcomes were coded is counted by its words, read from the trigger row).

Counts only (no patient is named), for the actor's own clinic (an admin: every clinic).
"""

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import col, select

from surveil.db import models as m
from surveil.db.session import read_scope
from surveil.services.actor import Actor

# What a coded reason's action is called in the report.
DECISIONS = {
    "item.declined": "declined",
    "item.not_needed": "not needed",
    "item.snoozed": "snoozed",
    "item.booked_outside": "booked outside the window",
    "item.reopened": "reopened",
    "override.added": "override",
    "trigger.resolved": "trigger resolved",
}


@dataclass(frozen=True)
class ReasonCount:
    decision: str  # declined, not needed, ..., or "trigger resolved"
    rule: str  # the item's rule, override:<kind>, or the trigger's kind
    reason: str  # the code, or the trigger's outcome
    count: int


def count_reasons(
    engine: sa.Engine, *, actor: Actor, since: dt.date | None = None
) -> list[ReasonCount]:
    """Every (decision, rule, reason) with its count, most frequent first."""
    start = dt.datetime.combine(since, dt.time(), tzinfo=dt.UTC) if since else None
    with read_scope(engine) as session:
        r, p, t = m.CodedReason, m.Patient, m.Trigger
        coded = (
            select(r.action, r.rule_id, r.code, sa.func.count())
            .join(p, col(p.id) == r.patient_id)
            .group_by(r.action, r.rule_id, r.code)
        )
        # Resolutions before outcomes were coded: counted by their words (a coded one is
        # counted once, by its code, above).
        coded_resolution = (
            sa.exists()
            .where(col(r.action) == "trigger.resolved")
            .where(col(r.subject) == sa.literal("trigger:") + sa.cast(col(t.id), sa.String))
        )
        resolved = (
            select(t.kind, col(t.outcome), sa.func.count())
            .join(p, col(p.id) == t.patient_id)
            .where(t.state == m.TriggerState.RESOLVED, ~coded_resolution)
            .group_by(t.kind, col(t.outcome))
        )
        if not actor.is_admin:
            coded = coded.where(p.clinic == actor.clinic)
            resolved = resolved.where(p.clinic == actor.clinic)
        if start is not None:
            coded = coded.where(r.created_at >= start)
            resolved = resolved.where(col(t.resolved_at) >= start)
        rows = [
            ReasonCount(DECISIONS.get(action, action), rule, code, int(n))
            for action, rule, code, n in session.exec(coded).all()
        ]
        rows += [
            ReasonCount("trigger resolved", kind, outcome or "(no outcome)", int(n))
            for kind, outcome, n in session.exec(resolved).all()
        ]
    return sorted(rows, key=lambda c: (-c.count, c.decision, c.rule, c.reason))
