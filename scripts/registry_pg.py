"""The benchmark registry on PostgreSQL: ``scripts/bench.py --backend postgresql`` (not in CI).

    .venv/bin/python scripts/bench.py --patients 1000000 --backend postgresql

The registry gets a database of its own on the server at ``$SURVEIL_BENCH_PG`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432``), named by size and seed
(``surveil_bench_1000000_seed7``), which the script creates. A build is complete only once its
last step has written the ``bench_registry`` table (one row: the build figures as JSON), which
plays the part of the SQLite build's rename of the ``.partial`` file. A complete database is
reused. An unfinished one is resumed, not thrown away (a million patients take hours on a loaded
machine): the patients already written are kept, the generator goes on from the next demo number
as of the same day (``bench_registry_started``), and planning from the first unplanned patient.
``--rebuild`` drops the database and starts again; ``--drop`` just drops it.

Building: ``surveil demo``'s generator (bulk rows through ``COPY``, the patients drafted in
``--workers`` processes) and, following it, the first planning (``replan_every_patient``, which
runs ``ANALYZE`` after each part) in ``--workers`` processes more, each taking the next range of
patient ids committed; then ``VACUUM (ANALYZE)``.
"""

import datetime as dt
import json
import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from surveil.config import DatabaseSettings, Settings
from surveil.core.vocab import Channel
from surveil.core.zones import today_in
from surveil.db import migrate
from surveil.db.engine import make_engine
from surveil.demo import generate as demo
from surveil.services.actor import Actor
from surveil.services.planning.replan import replan_every_patient

SERVER = os.environ.get("SURVEIL_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
MARKER = "bench_registry"  # written last: its row says the build is complete
STARTED = "bench_registry_started"  # written first: when the build began
Say = Callable[[str], None]


def database_name(patients: int, seed: int) -> str:
    return f"surveil_bench_{patients}_seed{seed}"


def url_of(name: str) -> str:
    return f"{SERVER}/{name}"


def complete_figures(url: str) -> dict[str, Any] | None:
    """The build figures of a complete registry at ``url``; None if missing or incomplete."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            if not sa.inspect(connection).has_table(MARKER):
                return None
            text = connection.exec_driver_sql(f"SELECT figures FROM {MARKER}").scalar()
            return json.loads(text) if text else None
    except sa.exc.OperationalError:  # no such database
        return None
    finally:
        engine.dispose()


def drop(name: str) -> None:
    admin = sa.create_engine(url_of("postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


def create(name: str) -> None:
    drop(name)
    admin = sa.create_engine(url_of("postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        admin.dispose()


def registry(
    patients: int, seed: int, *, rebuild: bool, workers: int, clinic: str, zone: str, say: Say
) -> tuple[str, dict[str, Any]]:
    """The URL of the PostgreSQL benchmark registry and its build figures (built if need be)."""
    name = database_name(patients, seed)
    url = url_of(name)
    figures = None if rebuild else complete_figures(url)
    if figures is not None:
        say(f"reusing database {name} (--rebuild to make it again)")
        return url, figures
    if rebuild or not exists(name):
        create(name)
    else:
        say(f"resuming the unfinished build in database {name} (--rebuild to start again)")
    figures = build(
        url, patients=patients, seed=seed, workers=workers, clinic=clinic, zone=zone, say=say
    )
    return url, figures


def exists(name: str) -> bool:
    admin = sa.create_engine(url_of("postgres"))
    try:
        with admin.connect() as connection:
            query = sa.text("SELECT 1 FROM pg_database WHERE datname = :name")
            return connection.execute(query, {"name": name}).first() is not None
    finally:
        admin.dispose()


def _started(engine: sa.Engine) -> dt.datetime:
    """When this registry's build began (its demo ``now``), kept in the database so that a build
    resumed another day still makes the same patients as of the same day."""
    with engine.begin() as connection:
        connection.exec_driver_sql(f"CREATE TABLE IF NOT EXISTS {STARTED} (now text NOT NULL)")
        kept = connection.exec_driver_sql(f"SELECT now FROM {STARTED}").scalar()
        if kept is not None:
            return dt.datetime.fromisoformat(kept)
        now = dt.datetime.now(dt.UTC)
        connection.execute(
            sa.text(f"INSERT INTO {STARTED} (now) VALUES (:now)"), {"now": now.isoformat()}
        )
        return now


def build(
    url: str, *, patients: int, seed: int, workers: int, clinic: str, zone: str, say: Say
) -> dict[str, Any]:
    """Generate and plan the registry. Planning follows the generator: each time another
    ``PLAN_BATCH`` patients are committed, their id range goes to one of ``workers`` planning
    processes, so both halves of the build run at once (on a shared machine the build's share of
    the CPU grows with its processes; run one after the other, it took twice as long)."""
    engine = make_engine(url)
    migrate.upgrade(engine)
    now = _started(engine)
    today = today_in(zone, now)
    already = demo.count_patients(engine)
    load = [round(x, 2) for x in os.getloadavg()]
    say(
        f"{patients:,} patients ({already:,} there already): {workers} drafting and {workers} "
        f"planning processes, load {load}"
    )
    started = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as planners:
        follower = _Follower(
            url, engine, planners, today=today, patients=patients, workers=workers, say=say
        )
        follower.resume(already)
        try:
            demo.generate_demo(
                engine,
                patients=max(patients - already, 0),
                seed=seed,
                clinic=clinic,
                timezone=zone,
                today=today,
                now=now,
                on_progress=follower.written,
                workers=workers,
            )
        except _Stopped:
            follower.flush()
            planned = sum(f.result() for f in follower.futures)
            vacuum_analyze(engine)
            follower.stop_file.unlink(missing_ok=True)
            raise SystemExit(
                f"stopped as asked after {follower.done:,} patients, all written planned "
                f"({planned:,} in this run); the same command resumes the build"
            ) from None
        generated = time.perf_counter() - started
        size_demo = size_mb(engine)
        say(f"generated in {generated:,.0f} s ({size_demo:,} MB); waiting for the planning")
        follower.flush()
        planned_patients = sum(f.result() for f in follower.futures)
    vacuum_analyze(engine)
    built = time.perf_counter() - started
    figures = {
        "backend": "postgresql",
        "database": url.rsplit("/", 1)[1],
        "patients": patients,
        "resumed_after_patients": already,
        "planned_patients": planned_patients,
        "seed": seed,
        "today": today.isoformat(),
        "workers": workers,
        "load_average_at_start": load,
        "generate_seconds": round(generated, 1),
        "generate_patients_per_s": round(patients / generated),
        "size_mb_after_demo": size_demo,
        "planning_done_after_generation_seconds": round(built - generated, 1),
        "build_seconds": round(built, 1),
        "build_patients_per_s": round(patients / built),
        "size_mb_after_replan": size_mb(engine),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }
    with engine.begin() as connection:
        connection.exec_driver_sql(f"CREATE TABLE {MARKER} (figures text NOT NULL)")
        connection.execute(
            sa.text(f"INSERT INTO {MARKER} (figures) VALUES (:f)"), {"f": json.dumps(figures)}
        )
    engine.dispose()
    say(f"built {figures}")
    return figures


PLAN_BATCH = 10_000  # patients handed to a planning process at a time
STOP_DIR = Path(__file__).resolve().parent.parent / ".bench"


class _Stopped(Exception):
    """The stop file appeared: write no more patients."""


class _Follower:
    """Hands the patients the generator has committed to the planning processes, in id ranges.

    The generator waits while every planning process is busy and one more batch is queued:
    planning is the slower half, and without the wait an interrupted build would leave tens of
    thousands of patients written but unplanned. ``touch .bench/stop-<database>`` stops the
    build cleanly: no more patients are written, those written are planned, and the database is
    left to be resumed (measurable meanwhile as a registry of that size)."""

    def __init__(
        self,
        url: str,
        engine: sa.Engine,
        pool: ProcessPoolExecutor,
        *,
        today: dt.date,
        patients: int,
        workers: int,
        say: Say,
    ) -> None:
        self.url, self.engine, self.pool, self.today, self.say = url, engine, pool, today, say
        self.workers = workers
        self.analyzed = 0  # how many patients there were at the last ANALYZE
        self.patients, self.done, self.handed, self.next_id = patients, 0, 0, 1
        self.already = 0  # patients there before this run (a resumed build)
        self.started = time.perf_counter()
        self.futures: list[Future[int]] = []
        self.stop_file = STOP_DIR / f"stop-{url.rsplit('/', 1)[1]}"

    def resume(self, already: int) -> None:
        """An unfinished build: plan from its first unplanned patient on (a planning part that
        was cut off rolled back whole, and those already planned only get planned again)."""
        self.done = self.handed = self.already = already
        with self.engine.connect() as connection:
            first, top = connection.exec_driver_sql(
                "SELECT min(id) FILTER (WHERE planned_at IS NULL), max(id) FROM patient"
            ).one()
        if first is not None:
            self.next_id = first
            self.flush()
        elif top is not None:  # all planned: the next range starts after the last patient
            self.next_id = top + 1

    def written(self, n: int) -> None:
        """``generate_demo``'s progress: ``n`` more patients committed."""
        self.done += n
        if self.done - self.handed >= PLAN_BATCH:
            self.flush()
        if self.stop_file.exists():
            raise _Stopped
        if self.done % 50_000 < n or self.done == self.patients:
            rate = (self.done - self.already) / (time.perf_counter() - self.started)
            planned = sum(f.result() for f in self.futures if f.done())
            self.say(
                f"  {self.done:,} written ({rate:,.0f}/s), {planned:,} planned, "
                f"load {os.getloadavg()[0]:.1f}, {time.perf_counter() - self.started:,.0f} s"
            )

    def flush(self) -> None:
        """Hand every committed patient not yet handed on to a planning process."""
        with self.engine.connect() as connection:
            top = connection.exec_driver_sql("SELECT max(id) FROM patient").scalar() or 0
        if top >= 2 * self.analyzed:
            # Statistics taken when the tables were small make PostgreSQL read the facts of
            # each 500-patient part with sequential scans of whole tables (a build that slows
            # as it grows); ANALYZE each time the registry has doubled keeps them near the truth.
            migrate.analyze(self.engine)
            self.analyzed = top
        for low in range(self.next_id, top + 1, PLAN_BATCH):
            ids = range(low, min(low + PLAN_BATCH, top + 1))
            self.futures.append(self.pool.submit(plan_range, self.url, ids, self.today))
        self.next_id, self.handed = max(self.next_id, top + 1), self.done
        while sum(not f.done() for f in self.futures) > self.workers:
            next(f for f in self.futures if not f.done()).result()


def vacuum_analyze(engine: sa.Engine) -> None:
    """``VACUUM (ANALYZE)``: what autovacuum (off on this server) would do after a bulk load.
    ``ANALYZE`` alone is not enough: until a vacuum sets the visibility map, every "index-only"
    scan also reads the table. On the 126,000-patient registry the worklist's safety-net count
    (an anti-join over the open items' index) took 208 ms before and 34 ms after; all the page's
    statements together ~330 ms before, ~55 ms after."""
    with engine.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        connection.exec_driver_sql("VACUUM (ANALYZE)")


def size_mb(engine: sa.Engine) -> float:
    with engine.connect() as connection:
        size = connection.exec_driver_sql("SELECT pg_database_size(current_database())").scalar()
    return round(int(size or 0) / 1e6, 1)


def plan_range(url: str, ids: range, today: dt.date) -> int:
    """One planning process: ``replan_every_patient`` over the patients with ids in ``ids``."""
    engine = make_engine(url)
    settings = Settings(database=DatabaseSettings(url=url))
    started = time.perf_counter()
    label = f"ids {ids.start:,}–{ids.stop - 1:,}"

    def progress(done: int, total: int) -> None:
        if done == total:
            rate = done / (time.perf_counter() - started)
            print(f"  planned {label}: {total:,} patients, {rate:,.0f}/s", flush=True)

    result = replan_every_patient(
        engine,
        actor=Actor.system(channel=Channel.CLI),
        settings=settings,
        today=today,
        progress=progress,
        id_range=ids,
    )
    engine.dispose()
    return result.patients
