"""Time only the pure planner (``compute_plan``) on a registry's facts, read once (issue 19).

    .venv/bin/python scripts/bench_planner.py PLANNED.db [--runs 3] [--cache FACTS.pickle]

Reads every patient's facts and overrides once (``facts_for_patients``, ``overrides_for``, the
configured pack and profile, as ``bench_replan._pure_planner_cpu`` does), then plans all of them
``--runs`` times and prints the CPU seconds (``time.process_time``) and patients per CPU-second of
each run, and an md5 over every plan's ``repr`` in patient order: a change to the planner that
keeps its output keeps that digest.
"""

import argparse
import datetime as dt
import hashlib
import pickle
import time
from pathlib import Path

from sqlmodel import col, select

from surveil.config import DatabaseSettings, Settings
from surveil.core.facts import Facts
from surveil.core.overrides import Override
from surveil.core.protocol import Pack, Profile
from surveil.db import models as m
from surveil.db.engine import make_engine
from surveil.db.queries import facts_for_patients
from surveil.db.session import read_scope
from surveil.services.planning.batch_gc import batch_gc
from surveil.services.planning.plans import compute_plan, overrides_for
from surveil.services.protocols import active_profile


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("db")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--today", type=dt.date.fromisoformat, default=dt.date(2026, 12, 5))
    parser.add_argument("--cache", help="a pickle of the facts read, made on the first use")
    args = parser.parse_args()
    url = f"sqlite:///{args.db}"
    pack, profile = active_profile(Settings(database=DatabaseSettings(url=url)))
    if args.cache and Path(args.cache).exists():
        work = pickle.loads(Path(args.cache).read_bytes())
    else:
        work = _read(url, profile)
        if args.cache:
            Path(args.cache).write_bytes(pickle.dumps(work))
    with batch_gc():  # as replan_every_patient plans: the frozen heap, rarer young passes
        for run in range(args.runs):
            cpu, digest = _run(work, pack, profile, args.today)
            print(
                f"run {run + 1}: {len(work)} patients, {cpu:.3f} CPU-s, "
                f"{len(work) / cpu:,.0f} patients/CPU-s, plans md5 {digest}"
            )


def _run(
    work: list[tuple[int, Facts, list[Override]]], pack: Pack, profile: Profile, today: dt.date
) -> tuple[float, str]:
    """Plan ``work`` in chunks of 500 (the batch's), timing only ``compute_plan``."""
    digest = hashlib.md5()
    cpu = 0.0
    for start in range(0, len(work), 500):
        chunk = work[start : start + 500]
        began = time.process_time()
        plans = [
            compute_plan(f, pack=pack, profile=profile, overrides=o, today=today)
            for _, f, o in chunk
        ]
        cpu += time.process_time() - began
        for (pid, _, _), p in zip(chunk, plans, strict=True):
            digest.update(f"{pid}:{p!r}\n".encode())
    return cpu, digest.hexdigest()


def _read(url: str, profile: Profile) -> list[tuple[int, Facts, list[Override]]]:
    work: list[tuple[int, Facts, list[Override]]] = []
    with read_scope(make_engine(url)) as session:
        patients = list(session.exec(select(m.Patient).order_by(col(m.Patient.id))))
        for start in range(0, len(patients), 500):
            chunk = patients[start : start + 500]
            facts = facts_for_patients(session, chunk)
            overrides = overrides_for(session, [p.id or 0 for p in chunk], profile=profile)
            work += [(pid, facts[pid], overrides.get(pid, [])) for pid in sorted(facts)]
    return work


if __name__ == "__main__":
    main()
