"""A patient's stored plan as another system reads it (the JSON API): every item with its due
window, its status and why it was planned. Reading it is audited as a view of the patient."""

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import col, select

from surveil.db import models as m
from surveil.db.session import session_scope
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.entry import audited_read
from surveil.services.registry.access import patient_by_mrn


@dataclass(frozen=True)
class PlanItem:
    id: int
    kind: str
    region: str | None
    earliest: dt.date
    target: dt.date
    latest: dt.date
    status: str
    urgent: bool
    why: str  # the planner's reason, in words
    rule_id: str
    source: str  # the guideline the rule cites
    protocol: str  # pack:version/profile
    booked_at: dt.datetime | None
    completed_on: dt.date | None
    snoozed_until: dt.date | None


@audited_read("plan.viewed")
def read_stored_plan(
    engine: sa.Engine, *, actor: Actor, mrn: str, clinic: str, open_only: bool
) -> list[PlanItem]:
    """The items planned for the patient (superseded ones left out), by target date."""
    with session_scope(engine) as session:
        patient = patient_by_mrn(session, actor=actor, mrn=mrn, clinic=clinic)
        query = (
            select(m.FollowUpItem)
            .where(
                m.FollowUpItem.patient_id == patient.id,
                col(m.FollowUpItem.superseded_by_id).is_(None),
            )
            .order_by(col(m.FollowUpItem.target), col(m.FollowUpItem.id))
        )
        if open_only:
            query = query.where(col(m.FollowUpItem.state).in_(list(m.OPEN_ITEM_STATES)))
        items = [_item(row) for row in session.exec(query)]
        audit(
            session,
            actor=actor,
            action="plan.viewed",
            patient_id=patient.id,
            subject=f"plan:{patient.id}",
            detail=f"stored plan: {len(items)} items" + (" (open only)" if open_only else ""),
        )
        return items


def _item(row: m.FollowUpItem) -> PlanItem:
    assert row.id is not None
    return PlanItem(
        id=row.id,
        kind=row.kind,
        region=row.region,
        earliest=row.earliest,
        target=row.target,
        latest=row.latest,
        status=row.state,
        urgent=row.urgent,
        why=row.reason,
        rule_id=row.rule_id,
        source=row.source,
        protocol=f"{row.pack_id}:{row.pack_version}/{row.profile}",
        booked_at=row.booked_at,
        completed_on=row.completed_on,
        snoozed_until=row.snoozed_until,
    )
