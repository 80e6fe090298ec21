"""Benchmark: ``surveil serve --workers N`` under 8 concurrent clients (issue 19, point 5).

    .venv/bin/python scripts/bench_serve.py sqlite:///.bench/registry-seed7-100000.db [--rounds 8]

``run(db_url)`` is what ``make bench`` calls, on the 100,000-patient registry. For 1, 2 and 4
workers it starts ``surveil serve --workers N`` (a real uvicorn, over loopback; see
scripts/served.py) and runs ``CLIENTS`` clients at once, each a thread with its own keep-alive
connection and its own login (the demo navigator, through the login form), each doing
``rounds`` times: the worklist (``GET /worklist``), a random patient's page and a random
patient's calendar feed. Reported per worker count: p50/p95 per kind of request and over all,
and pages per second (all requests / wall time). The mix is the same for every worker count
(same seed).

There is no target for these figures in the issue; they are reported, with the speed-up over
one worker as the ratio. On this 2-core machine shared with other work, more than two workers
cannot be expected to add much. The feeds issued here are deleted at the end, with their audit
rows; the logins and their sessions stay, as with bench_worklist.
"""

import argparse
import json
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import served
import sqlalchemy as sa
from bench_feed import BASE, _clean_up, _issue
from sqlmodel import Session
from targets import holds, reported

from surveil.db import models as m
from surveil.db.engine import make_engine

USERNAME, PASSWORD = "nurse", "nurse-demo"  # the demo generator's navigator
CLIENTS = 8
WORKERS = (1, 2, 4)
ROUNDS = 8
FEEDS = 200


def run(db_url: str, *, rounds: int = ROUNDS, workers: tuple[int, ...] = WORKERS) -> dict[str, Any]:
    engine = make_engine(db_url)
    try:
        patients = _patients(engine)
        tokens = _issue(engine, sample=FEEDS, seed=11)
        try:
            by_workers = {n: _measure(db_url, n, patients, list(tokens), rounds) for n in workers}
        finally:
            _clean_up(engine, list(tokens.values()))
    finally:
        engine.dispose()
    result: dict[str, Any] = {"clients": CLIENTS, "rounds": rounds}
    one = by_workers[workers[0]]["pages_per_s"]
    met: dict[str, Any] = {}
    for n, figures in by_workers.items():
        for kind in ("all", "worklist", "patient", "feed"):
            result[f"workers_{n}_{kind}_ms"] = figures[kind]
        result[f"workers_{n}_pages_per_s"] = figures["pages_per_s"]
        speed_up = round(figures["pages_per_s"] / one, 2)
        met[f"{n} worker(s): p95, all requests"] = reported(figures["all"]["p95"], "ms")
        met[f"{n} worker(s): pages/s"] = reported(figures["pages_per_s"], "/s", ratio=speed_up)
    errors = sum(figures["errors"] for figures in by_workers.values())
    met["every answer 200"] = holds(errors == 0, "no error answers")
    result["met"] = met
    return result


def _patients(engine: sa.Engine) -> list[int]:
    """Patients of the navigator's clinic (the pages the navigator may open)."""
    with Session(engine) as session:
        user = session.exec(sa.select(m.User).where(m.User.username == USERNAME)).scalar_one()
        patient = m.Patient.__table__.c  # type: ignore[attr-defined]
        ids = session.execute(sa.select(patient.id).where(patient.clinic == user.clinic))
        return [row[0] for row in ids]


def _measure(
    db_url: str, workers: int, patients: list[int], tokens: list[str], rounds: int
) -> dict[str, Any]:
    timings: dict[str, list[float]] = {"worklist": [], "patient": [], "feed": []}
    errors = [0]
    lock = threading.Lock()
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as folder:
        scratch = Path(folder)
        config = served.surveil_config(scratch, db_url, base_url=BASE, feed_limit=100_000)
        with served.surveil_serve(scratch, config, workers=workers) as server:
            clients = [_logged_in(server.base) for _ in range(CLIENTS)]
            for client in clients:  # each connection warmed (templates, caches) once
                client.get("/worklist")
            barrier = threading.Barrier(CLIENTS + 1)

            def work(index: int, client: httpx.Client) -> None:
                pick = random.Random(index)
                barrier.wait()
                for _ in range(rounds):
                    for kind, path in (
                        ("worklist", "/worklist"),
                        ("patient", f"/patients/{pick.choice(patients)}"),
                        ("feed", f"/feeds/{pick.choice(tokens)}.ics"),
                    ):
                        started = time.perf_counter()
                        status = client.get(path).status_code
                        took = time.perf_counter() - started
                        with lock:
                            timings[kind].append(took)
                            errors[0] += status != 200

            threads = [threading.Thread(target=work, args=(i, c)) for i, c in enumerate(clients)]
            for thread in threads:
                thread.start()
            barrier.wait()
            started = time.perf_counter()
            for thread in threads:
                thread.join()
            wall = time.perf_counter() - started
            for client in clients:
                client.close()
    every = [t for values in timings.values() for t in values]
    return {
        **{kind: _summary(values) for kind, values in timings.items()},
        "all": _summary(every),
        "pages_per_s": round(len(every) / wall, 1),
        "errors": errors[0],
    }


def _logged_in(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=120)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token, "no CSRF field on the login page"
    data = {"username": USERNAME, "password": PASSWORD, "csrf_token": token.group(1)}
    if client.post("/login", data=data).status_code != 303:
        raise RuntimeError(f"cannot log in as the demo navigator {USERNAME!r}")
    return client


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(statistics.median(values) * 1e3, 1),
        "p95": round(statistics.quantiles(values, n=20, method="inclusive")[18] * 1e3, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("db_url", help="a planned registry, e.g. sqlite:///var/bench.db")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="rounds per client")
    parser.add_argument("--workers", type=int, nargs="+", default=list(WORKERS))
    args = parser.parse_args(argv)
    print(json.dumps(run(args.db_url, rounds=args.rounds, workers=tuple(args.workers)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
