"""What happens whenever a patient's facts change: re-grade, re-evaluate triggers, re-plan.

All of it runs inside the caller's transaction, so a recorded result and its consequences are
committed together or not at all.
"""

import datetime as dt
from dataclasses import dataclass

from sqlmodel import Session, select

from surveil.config import Settings
from surveil.db import models as m
from surveil.db.queries import facts_for_patient
from surveil.services.planning.plans import ReplanResult, replan_patients
from surveil.services.triggers.escalation import evaluate_and_escalate


@dataclass
class Refresh:
    new_triggers: list[m.Trigger]
    plan: ReplanResult


def refresh_patient(
    session: Session, *, patient: m.Patient, settings: Settings, today: dt.date
) -> Refresh:
    session.flush()
    _regrade(session, patient)
    triggers = evaluate_and_escalate(session, patients=[patient], settings=settings, today=today)
    result = replan_patients(session, patients=[patient], settings=settings, today=today)
    return Refresh(new_triggers=triggers, plan=result)


def _regrade(session: Session, patient: m.Patient) -> None:
    # The highest grade ever recorded stands: facts.grade never goes down.
    facts = facts_for_patient(session, patient)
    tumour = session.exec(select(m.Tumour).where(m.Tumour.patient_id == patient.id)).first()
    if tumour is not None and tumour.grade != facts.grade:
        tumour.grade = facts.grade
        session.add(tumour)
        session.flush()
