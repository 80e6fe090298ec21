"""``audit_many`` (a batch's per-patient events in one statement) stores exactly what ``audit``
stores for the same event, on both backends."""

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Session, select

from surveil.core.vocab import Channel
from surveil.db import models as m
from surveil.services.actor import Actor
from surveil.services.audit import audit, audit_many


def test_audit_many_stores_what_audit_stores(engine: sa.Engine) -> None:
    actor = Actor(
        username="nurse\n1", role=m.Role.NAVIGATOR, clinic="A", channel=Channel.CLI, os_user="ops"
    )
    with Session(engine) as session:
        patient = m.Patient(
            clinic="A", mrn="M1", given_name="T", family_name="P", birth_date=dt.date(1970, 1, 1)
        )
        session.add(patient)
        session.flush()
        event = {
            "action": "plan.replanned",
            "patient_id": patient.id,
            "subject": "plan:1",
            "after": {"created": 2, "superseded": 0, "kept": 1},
            "detail": "replan --all: 2 item(s) created\x1b[31m, 0 superseded",
        }
        audit(session, actor=actor, **event)  # type: ignore[arg-type]
        audit_many(session, [event, event], actor=actor)
        session.commit()
        rows = session.exec(select(m.AuditEvent).order_by(m.AuditEvent.id)).all()
    stored = [r.model_dump(exclude={"id", "at"}) for r in rows]
    assert len(stored) == 3 and stored[0] == stored[1] == stored[2]
    assert stored[0]["actor"] == "nurse 1" and stored[0]["channel"] == "cli"
    assert "\x1b" not in stored[0]["detail"] and stored[0]["os_user"] == "ops"
    assert all(r.at is not None for r in rows)
