"""Replanning with several processes on PostgreSQL (issue 19, points 1 and 6; not in CI).

    .venv/bin/python scripts/bench_replan_workers.py \
        postgresql+psycopg://postgres@127.0.0.1:5432/surveil_bench_1000000_seed7 --rounds 2 --full

Times ``replan_every_patient`` exactly as ``surveil replan --all --workers N`` runs it, as a
navigator of the second demo clinic (Northern NET Centre, every 20th patient: 50,000 of a
million), on a registry already planned (nothing changes), alternating 1 and 2 workers
``--rounds`` times so that both meet the same neighbours. Each run reports patients per
wall-second (what scaling with cores is about), the client CPU of the process and its workers
(``getrusage``: PostgreSQL's own CPU is not in it) and the load average. A routine run skips
the patients whose inputs did not change (``services.planning.memo``), so it measures little but
each worker's start; ``--full`` derives every plan, as `replan --all --full` does.
"""

import argparse
import datetime as dt
import json
import os
import resource
import time
from typing import Any

from surveil.config import DatabaseSettings, Settings
from surveil.core.vocab import Channel
from surveil.core.zones import today_in
from surveil.db import models as m
from surveil.db.engine import make_engine
from surveil.services.actor import Actor
from surveil.services.planning.replan import replan_every_patient

CLINIC = "Northern NET Centre"
ZONE = "Europe/London"


def _client_cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def replan_once(url: str, workers: int, today: dt.date, *, full: bool = False) -> dict[str, Any]:
    engine = make_engine(url)
    actor = Actor(username="bench", role=m.Role.NAVIGATOR, clinic=CLINIC, channel=Channel.CLI)
    settings = Settings(database=DatabaseSettings(url=url))
    load = os.getloadavg()[0]
    cpu, wall = _client_cpu(), time.perf_counter()
    result = replan_every_patient(
        engine, actor=actor, settings=settings, today=today, workers=workers, full=full
    )
    cpu, wall = _client_cpu() - cpu, time.perf_counter() - wall
    engine.dispose()
    return {
        "workers": workers,
        "patients": result.patients,
        "full": full,
        "skipped": result.skipped,
        "created": result.created,
        "superseded": result.superseded,
        "wall_s": round(wall, 1),
        "patients_per_wall_s": round(result.patients / wall),
        "client_cpu_s": round(cpu, 1),
        "load_1min_at_start": round(load, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="a planned PostgreSQL registry (scripts/registry_pg.py)")
    parser.add_argument("--rounds", type=int, default=2, help="pairs of runs (1 then 2 workers)")
    parser.add_argument("--full", action="store_true", help="derive every plan (replan --full)")
    args = parser.parse_args()
    today = today_in(ZONE, dt.datetime.now(dt.UTC))
    replan_once(args.url, 1, today)  # settle: caches warm, anything left over planned
    runs = [
        replan_once(args.url, n, today, full=args.full) for _ in range(args.rounds) for n in (1, 2)
    ]
    for run in runs:
        print(json.dumps(run))


if __name__ == "__main__":
    main()
