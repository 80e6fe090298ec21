"""The audit trail: who did what to which patient, when, from where (HIPAA 164.312(b)).

Events are appended in the transaction of the change they describe, so a change and its record
are kept or lost together."""

import json
import re
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from surveil.core.vocab import Channel
from surveil.db import models as m
from surveil.db.base import utcnow
from surveil.db.bulk_rows import insert_dicts, table_of
from surveil.services.actor import Actor

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def audit(
    session: Session,
    *,
    actor: Actor | str,
    action: str,
    patient_id: int | None = None,
    subject: str | None = None,
    before: object = None,
    after: object = None,
    detail: str = "",
    ip: str | None = None,
    channel: Channel = Channel.WEB,
) -> m.AuditEvent:
    """Append one audit event in the caller's transaction: who (and by which channel, from which
    address or OS account), what, which patient and record, from what to what; ``at`` is UTC
    now. ``actor`` may be a bare name only where there is no account (a failed login with an
    unknown username), then ``ip`` and ``channel`` say the rest. Control characters are
    flattened so a crafted value cannot forge extra lines in an exported log (ASVS 16.4.1)."""
    event = m.AuditEvent(
        **_values(actor, action, patient_id, subject, before, after, detail, ip, channel)
    )
    session.add(event)
    return event


_INSERT = sa.insert(m.AuditEvent.__table__)  # type: ignore[attr-defined]


def audit_at_once(
    connection: sa.Connection,
    *,
    actor: Actor,
    action: str,
    patient_id: int | None = None,
    subject: str | None = None,
    before: object = None,
    after: object = None,
    detail: str = "",
) -> None:
    """:func:`audit`, stored as it stores it, but written at once by one Core INSERT on the
    transaction's connection (its compiled form cached) instead of as an ORM object flushed
    later: the HL7 feed writes three for each result, and the object and its flush were a
    tenth of a result's time. A caller with ORM rows pending flushes them first, so that the
    events keep the order of the changes."""
    row = _values(actor, action, patient_id, subject, before, after, detail, None, Channel.WEB)
    row["at"] = utcnow()
    connection.execute(_INSERT, row)


def audit_many(session: Session, events: list[dict[str, Any]], *, actor: Actor) -> None:
    """Append many events of one actor in one statement (``replan --all``: an event for each
    patient whose plan moved, ~1 ms each as ORM objects). Each dict holds :func:`audit`'s
    keyword arguments but the actor; stored exactly as :func:`audit` stores them."""
    if not events:
        return
    rows = [
        _values(
            actor,
            e["action"],
            e.get("patient_id"),
            e.get("subject"),
            e.get("before"),
            e.get("after"),
            e.get("detail", ""),
            None,
            Channel.WEB,
        )
        for e in events
    ]
    # The rows as plain values through the driver, ``at`` given once (``db.bulk_rows``).
    insert_dicts(session, table_of(m.AuditEvent), rows, constants={"at": utcnow()})


def _values(
    actor: Actor | str,
    action: str,
    patient_id: int | None,
    subject: str | None,
    before: object,
    after: object,
    detail: str,
    ip: str | None,
    channel: Channel,
) -> dict[str, Any]:
    if isinstance(actor, Actor):
        name, ip, channel, os_user = actor.username, actor.ip, actor.channel, actor.os_user
    else:
        name, os_user = actor, None
    return {
        "actor": _clean(name, 64),
        "action": action[:64],
        "patient_id": patient_id,
        "detail": _clean(detail, 1000),
        "ip": ip[:64] if ip else None,
        "channel": str(channel),
        "os_user": _clean(os_user, 64) if os_user else None,
        "subject": _clean(subject, 64) if subject else None,
        "before": _value(before),
        "after": _value(after),
    }


def _clean(text: str, limit: int) -> str:
    return _CONTROL.sub(" ", text)[:limit]


def _value(value: object) -> str | None:
    """A before/after value as stored: dicts as sorted JSON, so two events compare as text."""
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return _clean(text, 1000)


def list_audit(
    session: Session,
    *,
    actor: str | None = None,
    patient_id: int | None = None,
    mrn: str | None = None,
    action: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[m.AuditEvent], int]:
    """Newest first, with the total count for pagination. ``mrn`` keeps the events of the
    patients with that MRN (one per clinic): an MRN nobody has matches no event."""
    query = select(m.AuditEvent)
    if actor:
        query = query.where(m.AuditEvent.actor == actor)
    if patient_id is not None:
        query = query.where(m.AuditEvent.patient_id == patient_id)
    if mrn:
        with_mrn = select(m.Patient.id).where(m.Patient.mrn == mrn)
        query = query.where(col(m.AuditEvent.patient_id).in_(with_mrn))
    if action:
        query = query.where(col(m.AuditEvent.action).startswith(action))
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(
        query.order_by(col(m.AuditEvent.at).desc(), col(m.AuditEvent.id).desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return list(rows), total


def patient_mrns(session: Session, events: list[m.AuditEvent]) -> dict[int, str]:
    """The MRN of each patient the events name, so the log reads in MRNs as nurses do."""
    ids = {e.patient_id for e in events if e.patient_id is not None}
    if not ids:
        return {}
    rows = session.exec(select(m.Patient.id, m.Patient.mrn).where(col(m.Patient.id).in_(ids)))
    return {pid: mrn for pid, mrn in rows if pid is not None}
