"""Replanning speed on the benchmark registry (issue 4: how long `surveil replan --all` takes).

Measures a steady-state replan (triggers evaluated, plans reconciled, nothing to change) of
``SAMPLE`` patients in transactions of 500, the way `replan --all` works, and compares it with the
bare work inside it: the pure planner on facts already in memory. The ratio is what the database
round trips and reconciliation cost on top of the clinical logic.
"""

import datetime as dt
import time
from typing import Any

from sqlmodel import Session, col, select

from surveil.config import DatabaseSettings, Settings
from surveil.core.vocab import Channel
from surveil.core.zones import today_in
from surveil.db import models as m
from surveil.db.engine import make_engine
from surveil.db.queries import facts_for_patients
from surveil.services.planning.plans import compute_plan, replan_patients
from surveil.services.protocols import active_profile
from surveil.services.triggers.escalation import evaluate_and_escalate

SAMPLE = 10_000
CHUNK = 500


def run(db_url: str) -> dict[str, Any]:
    settings = Settings(database=DatabaseSettings(url=db_url))
    engine = make_engine(db_url)
    today = today_in("Europe/London", dt.datetime.now(dt.UTC))
    with Session(engine) as session:
        ids = list(
            session.exec(select(m.Patient.id).order_by(col(m.Patient.id)).limit(SAMPLE)).all()
        )
        total_patients = len(session.exec(select(m.Patient.id)).all())
    pack, profile = active_profile(settings)
    full = bare = 0.0
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        with Session(engine, expire_on_commit=False) as session:
            patients = list(session.exec(select(m.Patient).where(col(m.Patient.id).in_(chunk))))
            began = time.perf_counter()
            facts = facts_for_patients(session, patients)
            evaluate_and_escalate(
                session,
                patients=patients,
                settings=settings,
                today=today,
                facts=facts,
                channel=Channel.CLI,
            )
            replan_patients(session, patients=patients, settings=settings, today=today, facts=facts)
            session.commit()
            full += time.perf_counter() - began
            facts = facts_for_patients(session, patients)
        began = time.perf_counter()
        for pid in chunk:
            compute_plan(facts[pid], pack=pack, profile=profile, overrides=[], today=today)
        bare += time.perf_counter() - began
    engine.dispose()
    per_patient_ms = full / len(ids) * 1000
    return {
        "patients_measured": len(ids),
        "replan_patients_per_s": round(len(ids) / full),
        "replan_ms_per_patient": round(per_patient_ms, 3),
        "pure_planner_ms_per_patient": round(bare / len(ids) * 1000, 3),
        "ratio_vs_pure_planner": round(full / bare, 2),
        "projected_replan_all_s": round(per_patient_ms * total_patients / 1000, 1),
    }


if __name__ == "__main__":
    import sys

    print(run(sys.argv[1]))
