"""What happens whenever a patient's facts change: re-grade, re-evaluate triggers, re-plan.

All of it runs inside the caller's transaction, so a recorded result and its consequences are
committed together or not at all.
"""

import datetime as dt

from sqlmodel import Session, select

from surveil.config import Settings
from surveil.db import models as m
from surveil.db.queries import facts_for_patient


def refresh_patient(
    session: Session, *, patient: m.Patient, settings: Settings, today: dt.date
) -> None:
    facts = facts_for_patient(session, patient)
    tumour = session.exec(select(m.Tumour).where(m.Tumour.patient_id == patient.id)).first()
    if tumour is not None and tumour.grade != facts.grade:
        # The highest grade ever recorded stands (facts.grade never goes down).
        tumour.grade = facts.grade
        session.add(tumour)
    session.flush()
