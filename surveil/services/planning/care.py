"""What happens whenever a patient's facts change: re-grade, re-evaluate triggers, re-plan.

This is the one place that runs "triggers, then plans" (a new trigger's consequences shape the
plan), for one patient (:func:`refresh_patient`) or the whole registry (:func:`replan_all`).
``refresh_patient`` runs inside the caller's transaction, so a recorded result and its
consequences are committed together or not at all.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.config import Settings
from surveil.db import models as m
from surveil.db.queries import facts_for_patient, facts_for_patients
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


def replan_all(
    engine: sa.Engine,
    *,
    settings: Settings,
    today: dt.date,
    chunk: int = 500,
    progress: Callable[[int, int], None] | None = None,
) -> ReplanResult:
    """Replan every patient, ``chunk`` patients per transaction; ``progress(done, total)``.

    Triggers are evaluated first for each chunk, so that their consequences shape the plan.
    """
    with Session(engine) as session:
        ids = list(session.exec(select(m.Patient.id).order_by(col(m.Patient.id))).all())
    total = ReplanResult()
    for start in range(0, len(ids), chunk):
        with Session(engine, expire_on_commit=False) as session:
            patients = list(
                session.exec(
                    select(m.Patient).where(col(m.Patient.id).in_(ids[start : start + chunk]))
                ).all()
            )
            facts = facts_for_patients(session, patients)
            created = evaluate_and_escalate(
                session, patients=patients, settings=settings, today=today, facts=facts
            )
            # A new trigger may have moved a patient out of a pathway: re-read only those.
            changed = [p for p in patients if p.id in {t.patient_id for t in created}]
            if changed:
                facts.update(facts_for_patients(session, changed))
            total.add(
                replan_patients(
                    session, patients=patients, settings=settings, today=today, facts=facts
                )
            )
            session.commit()
        if progress is not None:
            progress(min(start + chunk, len(ids)), len(ids))
    return total
