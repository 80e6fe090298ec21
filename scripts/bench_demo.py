"""Benchmark: the demo generator (``surveil demo``) against a bare ``executemany``.

    .venv/bin/python scripts/bench_demo.py [--patients 10000] [--json]

``run(db_url)`` is what ``make bench`` calls. It never writes to ``db_url`` (the shared
benchmark registry): generation needs an empty database, so it makes fresh, migrated SQLite files
in a scratch folder and removes them afterwards. Measured:

- ``end_to_end``: ``generate_demo`` for N patients (drafting in memory + Core bulk inserts, one
  transaction per 2,000 patients), as patients per second; the demo logins exist beforehand so
  argon2 hashing is not counted;
- ``synthesis``: drafting the same patients in memory only;
- per chunk of 500 patients, paired: ``core_insert`` (SQLAlchemy Core ``insert()`` with lists of
  dicts, what the generator does) and ``bare_executemany`` (the same rows as tuples through the
  sqlite3 module's ``executemany``, the floor), both into fresh databases, each chunk its own
  transaction. ``ratio_*`` is Core over bare: the price of SQLAlchemy.
"""

import argparse
import datetime as dt
import json
import shutil
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from surveil.db import migrate
from surveil.db.engine import SQLITE_PRAGMAS, make_engine
from surveil.demo import generate as demo
from surveil.demo.patients import synthesise
from surveil.demo.story import Row

TODAY = dt.date(2026, 6, 1)
NOW = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)
CLINIC = "Neuroendocrine Tumour Clinic"
ZONE = "Europe/London"
PAIRED_CHUNK = 500


# The harness passes every benchmark its database; this one builds its own scratch files.
def run(db_url: str, *, patients: int = 10_000, seed: int = 7) -> dict[str, Any]:  # noqa: ARG001
    """Generation figures for ``patients`` patients (``db_url`` is left untouched)."""
    scratch = Path(tempfile.mkdtemp(prefix="bench-demo-"))
    try:
        end_to_end = _end_to_end(scratch / "demo.db", patients, seed)
        synthesis, core, bare, rows = _paired(scratch, patients, seed)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {
        "patients": patients,
        "rows_per_patient": round(rows / patients, 1),
        "end_to_end_patients_per_s": round(patients / end_to_end),
        "synthesis_patients_per_s": round(patients / synthesis),
        "core_insert_ms": _summary(core),
        "bare_executemany_ms": _summary(bare),
        "insert_patients_per_s": round(patients / sum(core)),
        "bare_patients_per_s": round(patients / sum(bare)),
        "ratio_p50": round(statistics.median(core) / statistics.median(bare), 2),
        "ratio_p95": round(_p95(core) / _p95(bare), 2),
        "end_to_end_vs_bare": round(end_to_end / sum(bare), 2),
    }


def _fresh_engine(path: Path) -> sa.Engine:
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    return engine


def _end_to_end(path: Path, patients: int, seed: int) -> float:
    engine = _fresh_engine(path)
    demo.ensure_demo_users(engine, clinic=CLINIC, now=NOW)  # argon2 is not what we measure
    started = time.perf_counter()
    result = demo.generate_demo(
        engine, patients=patients, seed=seed, clinic=CLINIC, timezone=ZONE, today=TODAY, now=NOW
    )
    seconds = time.perf_counter() - started
    assert result.created == patients
    engine.dispose()
    return seconds


def _paired(scratch: Path, patients: int, seed: int) -> tuple[float, list[float], list[float], int]:
    """Per chunk: draft (timed), then the same rows through Core and through bare sqlite3."""
    engine = _fresh_engine(scratch / "core.db")
    navigators = demo.ensure_demo_users(engine, clinic=CLINIC, now=NOW)
    engine.dispose()  # checkpoints the WAL: the file now holds the schema and the users
    shutil.copyfile(scratch / "core.db", scratch / "bare.db")
    bare_db = sqlite3.connect(scratch / "bare.db", isolation_level=None)
    for pragma in SQLITE_PRAGMAS:
        bare_db.execute(f"PRAGMA {pragma}")  # as surveil's engine sets them
    synthesis, core, bare, rows_total = 0.0, [], [], 0
    for begin in range(1, patients + 1, PAIRED_CHUNK):
        numbers = range(begin, min(begin + PAIRED_CHUNK, patients + 1))
        started = time.perf_counter()
        drafts = [synthesise(seed, n, today=TODAY, timezone=ZONE) for n in numbers]
        synthesis += time.perf_counter() - started
        with engine.begin() as connection:
            _, rows = demo.numbered_rows(
                connection, drafts, clinic=CLINIC, navigators=navigators, now=NOW
            )
            started = time.perf_counter()
            demo.insert_rows(connection, rows)
            core.append(time.perf_counter() - started)
        started = time.perf_counter()
        _bare_insert(bare_db, rows)
        bare.append(time.perf_counter() - started)
        rows_total += sum(len(r) for r in rows.values())
    bare_db.close()
    engine.dispose()
    return synthesis, core, bare, rows_total


def _bare_insert(db: sqlite3.Connection, rows: dict[str, list[Row]]) -> None:
    """The same rows as tuples, one executemany per table, in one transaction."""
    db.execute("BEGIN IMMEDIATE")
    for name, table in demo.TABLES.items():
        batch = rows.get(name)
        if not batch:
            continue
        # Columns the rows leave out get their scalar defaults, as Core's insert() fills them in.
        defaults = {
            c.name: c.default.arg
            for c in table.columns
            if isinstance(c.default, sa.ColumnDefault)
            and c.default.is_scalar
            and c.name not in batch[0]
        }
        columns = [*batch[0], *defaults]
        sql = (
            f"INSERT INTO {table.name} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)})"
        )
        values = [tuple(_plain(row.get(c, defaults.get(c))) for c in columns) for row in batch]
        db.executemany(sql, values)
    db.execute("COMMIT")


def _plain(value: object) -> object:
    # What the driver can store as-is (SQLAlchemy's type processors do this on the Core side).
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(statistics.median(values) * 1e3, 1),
        "p95": round(_p95(values) * 1e3, 1),
        "max": round(max(values) * 1e3, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--patients", type=int, default=10_000, help="patients (default 10,000)")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args(argv)
    result = run("sqlite://", patients=args.patients)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{result['patients']:,} demo patients, {result['rows_per_patient']} rows each")
    for key in ("end_to_end", "synthesis", "insert", "bare"):
        print(f"  {key:<12} {result[f'{key}_patients_per_s']:>8,} patients/s")
    core, bare = result["core_insert_ms"], result["bare_executemany_ms"]
    print(f"  per {PAIRED_CHUNK} patients, ms: Core p50 {core['p50']} p95 {core['p95']}, ", end="")
    print(f"bare p50 {bare['p50']} p95 {bare['p95']}")
    print(f"  Core / bare: p50 {result['ratio_p50']}x, p95 {result['ratio_p95']}x; ", end="")
    print(f"end to end / bare inserts {result['end_to_end_vs_bare']}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
