"""The audit trail: who did what to which patient, when, from where (HIPAA 164.312(b)).

Events are appended in the transaction of the change they describe, so a change and its record
are kept or lost together."""

import re

from sqlmodel import Session, col, func, select

from surveil.db import models as m

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def audit(
    session: Session,
    *,
    actor: str,
    action: str,
    patient_id: int | None = None,
    detail: str = "",
    ip: str | None = None,
) -> m.AuditEvent:
    """Append one audit event (who, what, which patient; ``at`` is UTC now). Control characters
    are flattened so a crafted value cannot forge extra lines in an exported log (ASVS 16.4.1)."""
    event = m.AuditEvent(
        actor=_CONTROL.sub(" ", actor)[:64],
        action=action[:64],
        patient_id=patient_id,
        detail=_CONTROL.sub(" ", detail)[:1000],
        ip=ip[:64] if ip else None,
    )
    session.add(event)
    return event


def list_audit(
    session: Session,
    *,
    actor: str | None = None,
    patient_id: int | None = None,
    action: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[m.AuditEvent], int]:
    """Newest first, with the total count for pagination."""
    query = select(m.AuditEvent)
    if actor:
        query = query.where(m.AuditEvent.actor == actor)
    if patient_id is not None:
        query = query.where(m.AuditEvent.patient_id == patient_id)
    if action:
        query = query.where(col(m.AuditEvent.action).startswith(action))
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(
        query.order_by(col(m.AuditEvent.at).desc(), col(m.AuditEvent.id).desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return list(rows), total
