"""The listener's coalesced refresh does all that a refresh per result would: after a burst of
results for demo patients (real tumours, plans, open items; some results high enough to fire
marker triggers, some patients hit twice), sent over a real socket and refreshed together, a
refresh of each patient on its own finds nothing left to do."""

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.config import DatabaseSettings, Settings
from surveil.core.vocab import Channel
from surveil.db import models as m
from surveil.db.hl7 import Hl7Message
from surveil.demo.generate import generate_demo
from surveil.hl7.listener import Listener
from surveil.hl7.sender import ack_code
from surveil.services.planning import care
from tests.hl7.conftest import serving


def _oru(control: str, mrn: str, value: float, day: dt.date) -> bytes:
    stamp = day.strftime("%Y%m%d")
    return (
        "\r".join(
            [
                f"MSH|^~\\&|LAB|HOSP|SURVEIL|NET|{stamp}0900||ORU^R01^ORU_R01|{control}|P|2.5.1",
                f"PID|1||{mrn}^^^HOSP^MR||Demo^Patient||19600101|F",
                f"OBR|1|ORD{control}||9811-1^Chromogranin A^LN|||{stamp}0800",
                f"OBX|1|NM|9811-1^Chromogranin A^LN||{value:g}|ug/L|0-100|H|||F|||{stamp}0800",
            ]
        ).encode()
        + b"\r"
    )


def test_a_burst_refreshed_together_leaves_nothing_for_a_refresh_per_patient(
    engine: sa.Engine, db_url: str
) -> None:
    settings = Settings(database=DatabaseSettings(url=db_url))
    now = dt.datetime.now(dt.UTC)
    clinic = settings.clinic
    generate_demo(
        engine,
        patients=24,
        seed=11,
        clinic=clinic.name,
        timezone=clinic.timezone,
        today=now.date(),
        now=now,
    )
    with Session(engine) as session:
        mine = select(m.Patient).where(m.Patient.clinic == clinic.name)
        mrns = [p.mrn for p in session.exec(mine.order_by(col(m.Patient.id)))][:12]
        triggers_before = len(session.exec(select(m.Trigger)).all())
    # Twelve patients, the first four twice; values from normal to many times the limit.
    burst = [
        _oru(f"C{i:04d}", mrn, 40 + 150 * i, now.date()) for i, mrn in enumerate(mrns + mrns[:4])
    ]
    listener = Listener(engine, settings)
    listener.coalesce_seconds = 30  # only the explicit settle below refreshes
    with serving(listener) as running:
        acks = running.send_raw(*burst)
        with Session(engine) as session:
            due = session.exec(select(Hl7Message).where(col(Hl7Message.refresh_due))).all()
        assert len(due) == len(burst)  # ACKed, applied, the refresh still to come
        assert listener.settle() == len(burst)
    assert {ack_code(a) for a in acks} == {"AA"}
    with Session(engine) as session:
        refreshed = session.exec(
            select(m.AuditEvent).where(m.AuditEvent.action == "hl7.refreshed")
        ).all()
        assert len(refreshed) == 1 and "for 12 patient(s) after 16" in refreshed[0].detail
        assert len(session.exec(select(m.Trigger)).all()) > triggers_before  # some fired
        patients = list(session.exec(select(m.Patient).where(col(m.Patient.mrn).in_(mrns))))
        for patient in patients:
            again = care.refresh_patient(
                session, patient=patient, settings=settings, today=now.date(), channel=Channel.HL7
            )
            assert again.new_triggers == [], patient.mrn
            assert not again.plan.changed, patient.mrn
        session.rollback()
