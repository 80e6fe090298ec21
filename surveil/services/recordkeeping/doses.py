"""Each dose of a therapy as given: an SSA injection every four weeks, a PRRT cycle. A dose is
its own row (``therapy_dose``); the therapy's last dose and count follow it, so the next
injection is planned from the one just given and the overdue trigger sees it."""

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Session

from surveil.config import Settings
from surveil.db import models as m
from surveil.errors import NotFound
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.entry import change
from surveil.services.outcome import Outcome
from surveil.services.planning import care
from surveil.services.records.results import Which, record_and_replan
from surveil.services.validate import Checker


@change("therapy.dose_given", *care.CONSEQUENCES)
def record_dose(
    engine: sa.Engine,
    *,
    actor: Actor,
    therapy_id: int,
    given_on: str | None,
    note: str = "",
    mrn: str = "",
    clinic: str = "",
    patient_id: int | None = None,
    settings: Settings,
    today: dt.date,
) -> Outcome:
    """One dose of a therapy given: an SSA injection or a PRRT cycle. Kept as its own row, and
    the therapy's last dose and count follow, so the next injection is planned from it."""

    def add(session: Session, actor: Actor, patient: m.Patient) -> str:
        therapy = session.get(m.Therapy, therapy_id)
        if therapy is None or therapy.patient_id != patient.id:
            raise NotFound(f"no therapy {therapy_id} for this patient")
        check = Checker(today=today, what="dose")
        day = check.date(
            "given_on", given_on, not_before=therapy.started_on, not_before_label="the start"
        )
        text = check.text("note", note, required=False, max_length=300)
        check.raise_if_problems()
        assert day
        before = {"cycles_given": therapy.cycles_given, "last_given_on": therapy.last_given_on}
        dose = m.TherapyDose(
            therapy_id=therapy_id, given_on=day, note=text or "", recorded_by=actor.username
        )
        session.add(dose)
        therapy.cycles_given = (therapy.cycles_given or 0) + 1
        if therapy.last_given_on is None or day > therapy.last_given_on:
            therapy.last_given_on = day
        session.add(therapy)
        session.flush()
        words = f"{therapy.agent or therapy.kind} given on {day}"
        audit(
            session,
            actor=actor,
            action="therapy.dose_given",
            patient_id=patient.id,
            subject=f"therapy:{therapy_id}",
            before=before,
            after={"cycles_given": therapy.cycles_given, "last_given_on": therapy.last_given_on},
            detail=f"dose {dose.id}: {words}",
        )
        return "recorded " + words

    where = Which(mrn=mrn, clinic=clinic, patient_id=patient_id)
    return record_and_replan(engine, actor, where, add, settings=settings, today=today)
