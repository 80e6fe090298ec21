"""Protocol diff at registry scale (issue 15: `surveil schedules diff --from 2026.1 --to 2027.1`
over the 100k registry "finishes in minutes").

Two figures in the same run, over the same patients and facts:

* **diff**: ``diff_protocols`` exactly as `surveil schedules diff` runs it, as an administrator
  (every patient), chunks of 1,000: facts read in bulk (``facts_for_patients``, the loader
  replanning uses), overrides for each side, both versions planned, items compared, one audit
  event. Wall clock (what a user waits, neighbours included) and CPU (``time.process_time``);
* **pure planner**: ``compute_plan`` under 2026.1 and under 2027.1 for the same patients, with the
  facts and overrides already in memory (their loading not timed): the work a diff cannot avoid.
  ``ratio_vs_pure_planner`` is the diff's CPU per patient over this.

The diff leaves one ``protocol.diffed`` audit event in the registry (it reads every record).
"""

import datetime as dt
import time
from typing import Any

from sqlmodel import col, select

from surveil.config import DatabaseSettings, Settings
from surveil.core.vocab import Channel
from surveil.core.zones import today_in
from surveil.db import models as m
from surveil.db.engine import make_engine
from surveil.db.queries import facts_for_patients
from surveil.db.session import read_scope
from surveil.services.actor import Actor
from surveil.services.planning.plans import compute_plan, overrides_for
from surveil.services.protocols import version_profile
from surveil.services.rollout.diff import diff_protocols

ZONE = "Europe/London"
FROM, TO = "2026.1", "2027.1"
CHUNK = 1_000
TARGET_MINUTES = 10  # "finishes in minutes" on this shared 2-core machine


def run(db_url: str) -> dict[str, Any]:
    settings = Settings(database=DatabaseSettings(url=db_url))
    engine = make_engine(db_url)
    today = today_in(ZONE, dt.datetime.now(dt.UTC))
    actor = Actor(username="bench", role=m.Role.ADMIN, clinic="", channel=Channel.CLI)
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        report = diff_protocols(
            engine, actor=actor, settings=settings, from_version=FROM, to_version=TO,
            today=today, chunk=CHUNK,
        )  # fmt: skip
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        pure = _pure_planner_cpu(engine, settings, today)
    finally:
        engine.dispose()
    per_diff = cpu / report.patients
    per_pure = pure["cpu_s"] / pure["patients"]
    return {
        "patients": report.patients,
        "changed_patients": report.changed_patients,
        "changed_items": len(report.rows),
        "diff_wall_s": round(wall, 1),
        "diff_patients_per_s": round(report.patients / wall),
        "diff_patients_per_cpu_s": round(1 / per_diff),
        "pure_planner_patients_per_cpu_s": round(1 / per_pure),
        "ratio_vs_pure_planner": round(per_diff / per_pure, 2),
        "met": {f"diff of the registry under {TARGET_MINUTES} min": wall < TARGET_MINUTES * 60},
    }


def _pure_planner_cpu(engine: Any, settings: Settings, today: dt.date) -> dict[str, float]:
    """Both versions planned for every patient, facts and overrides loaded beforehand per chunk."""
    before = version_profile(settings, FROM, None)
    after = version_profile(settings, TO, None)
    cpu = 0.0
    count = 0
    with read_scope(engine) as session:
        ids = [i for i in session.exec(select(m.Patient.id).order_by(col(m.Patient.id))) if i]
    for start in range(0, len(ids), CHUNK):
        part = ids[start : start + CHUNK]
        with read_scope(engine) as session:
            patients = list(session.exec(select(m.Patient).where(col(m.Patient.id).in_(part))))
            facts = facts_for_patients(session, patients)
            overrides = [overrides_for(session, part, profile=p) for _, p in (before, after)]
        began = time.process_time()
        for pid, one in facts.items():
            for (pack, profile), side in zip((before, after), overrides, strict=True):
                compute_plan(
                    one, pack=pack, profile=profile, overrides=side.get(pid, []), today=today
                )
        cpu += time.process_time() - began
        count += len(facts)
    return {"patients": count, "cpu_s": cpu}


if __name__ == "__main__":
    import sys

    print(run(sys.argv[1]))
