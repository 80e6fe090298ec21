"""Benchmark: what the planning-input marks (migration 0030) cost the writes they watch.

    .venv/bin/python scripts/bench_marks.py [--patients 4000] [--postgresql ADMIN_URL]

Every row written to a table planning reads fires a trigger that marks its patient
(``plan_input_change``; ``services.planning.memo``). Measured: two fresh, migrated databases of
one backend, identical but that one has its ``plan_input_*`` triggers dropped; the demo
generator's rows for the same patients (tumours, disease states, markers, therapies, symptoms,
pathology, lesions, measurements: an import's or a bulk load's writes) are inserted into both,
500 patients a transaction, the two taking turns to go first. CPU time on SQLite (the triggers run
in this process), wall clock on PostgreSQL (they run in the server); ``ratio`` is with marks over
without, chunk by chunk (median).

``run(db_url)`` is what ``make bench`` calls: SQLite scratch files, ``db_url`` untouched. With
``--postgresql`` the pair are scratch databases on that server, dropped afterwards.
"""

import argparse
import json
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from bench_demo import CLINIC, NOW, TODAY, ZONE
from targets import reported

from surveil.db import migrate
from surveil.db.engine import make_engine
from surveil.demo import generate as demo
from surveil.demo.patients import synthesise

CHUNK = 500


def run(db_url: str, *, patients: int = 4_000) -> dict[str, Any]:  # noqa: ARG001
    scratch = Path(tempfile.mkdtemp(prefix="bench-marks-"))
    try:
        marked = _fresh(f"sqlite:///{scratch / 'marked.db'}")
        plain = _fresh(f"sqlite:///{scratch / 'plain.db'}", drop_marks=True)
        return _measure(marked, plain, patients)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def run_postgresql(admin_url: str, *, patients: int) -> dict[str, Any]:
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    names = [f"surveil_bench_marks_{uuid.uuid4().hex[:8]}_{n}" for n in ("marked", "plain")]
    with admin.connect() as connection:
        for name in names:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        base = admin_url.rsplit("/", 1)[0]
        marked = _fresh(f"{base}/{names[0]}")
        plain = _fresh(f"{base}/{names[1]}", drop_marks=True)
        return _measure(marked, plain, patients)
    finally:
        with admin.connect() as connection:
            for name in names:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _fresh(url: str, *, drop_marks: bool = False) -> sa.Engine:
    engine = make_engine(url)
    migrate.upgrade(engine)
    if drop_marks:
        with engine.begin() as connection:
            for table, name in _mark_triggers(connection):
                suffix = f' ON "{table}"' if engine.dialect.name == "postgresql" else ""
                connection.exec_driver_sql(f"DROP TRIGGER {name}{suffix}")
            assert not _mark_triggers(connection)
    return engine


def _mark_triggers(connection: sa.Connection) -> list[tuple[str, str]]:
    if connection.dialect.name == "postgresql":
        sql = (
            "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE substr(t.tgname, 1, 11) = 'plan_input_'"
        )
    else:
        sql = (
            "SELECT tbl_name, name FROM sqlite_master "
            "WHERE type = 'trigger' AND substr(name, 1, 11) = 'plan_input_'"
        )
    return [(table, name) for table, name in connection.exec_driver_sql(sql).all()]


def _measure(marked: sa.Engine, plain: sa.Engine, patients: int) -> dict[str, Any]:
    navigators = {e: demo.ensure_demo_users(e, clinic=CLINIC, now=NOW) for e in (marked, plain)}
    with_marks: list[float] = []
    without: list[float] = []
    rows_written = 0
    for number, begin in enumerate(range(1, patients + 1, CHUNK)):
        drafts = [
            synthesise(7, n, today=TODAY, timezone=ZONE)
            for n in range(begin, min(begin + CHUNK, patients + 1))
        ]
        order = (marked, plain) if number % 2 == 0 else (plain, marked)
        for engine in order:
            seconds, rows = _insert(engine, drafts, navigators[engine])
            (with_marks if engine is marked else without).append(seconds)
            rows_written += rows if engine is marked else 0
    with marked.connect() as connection:
        marks = connection.exec_driver_sql("SELECT count(*) FROM plan_input_change").scalar_one()
    ratios = [a / b for a, b in zip(with_marks, without, strict=True)]
    for engine in (marked, plain):
        engine.dispose()
    per_row = (sum(with_marks) - sum(without)) / rows_written * 1e6
    return {
        "backend": marked.dialect.name,
        "patients": patients,
        "rows_written": rows_written,
        "marks_left": marks,
        "with_marks_s": round(sum(with_marks), 3),
        "without_marks_s": round(sum(without), 3),
        "marks_us_per_row": round(per_row, 2),
        "ratio_median": round(statistics.median(ratios), 2),
        "met": {
            "bulk writes with marks / without": reported(round(statistics.median(ratios), 2), "×"),
        },
    }


def _insert(engine: sa.Engine, drafts: list[Any], navigators: Any) -> tuple[float, int]:
    with engine.begin() as connection:
        _, rows = demo.numbered_rows(
            connection, drafts, clinic=CLINIC, navigators=navigators, now=NOW
        )
        clock = time.process_time if engine.dialect.name == "sqlite" else time.perf_counter
        started = clock()
        demo.insert_rows(connection, rows)
        seconds = clock() - started
    written = sum(len(table_rows) for name, table_rows in rows.items() if name != "patient")
    return seconds, written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=4_000)
    parser.add_argument(
        "--postgresql",
        metavar="ADMIN_URL",
        help="measure on this server instead (e.g. postgresql+psycopg://postgres@127.0.0.1/postgres)",
    )
    args = parser.parse_args()
    if args.postgresql:
        result = run_postgresql(args.postgresql, patients=args.patients)
    else:
        result = run("", patients=args.patients)
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
