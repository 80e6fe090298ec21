"""CSV import at spreadsheet scale (issue 16: 100,000 measurement rows in under a minute on SQLite).

On a scratch copy of the registry (the shared one is left as it was), a 100,000-row measurements
CSV for registry patients (``PATIENTS`` patients of the main demo clinic, ``SCANS`` scans each of a
new lesion, six months apart, sizes that wander a millimetre or two and sometimes grow) goes
through ``import_csv`` exactly as `surveil import csv --kind measurements` runs it:

* **dry run**: parse, check every row, write, open triggers and re-plan the touched patients,
  then roll back (the preview);
* **commit**: the same, committed as one batch with its file hash, counts, audit events;
* **re-import**: the same file again: every row found already stored, nothing written;
* **rollback**: the batch undone whole, its patients re-planned.

The bare baseline, in the same run on the same copy: Python's ``csv`` reading the same bytes and
``sqlite3`` ``executemany`` inserting the same 100,000 rows into the same ``measurement`` table
(with its indexes) in one transaction, rolled back. ``ratio_commit_vs_bare`` is commit over bare.
Times are wall clock (the target is "under a minute" for a person waiting) with CPU beside them
(``time.process_time``), and the load average: on a machine shared by several runs, the wall time
measures the neighbours too.
"""

import csv
import datetime as dt
import io
import os
import random
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlmodel import col, select
from targets import below, reported

from surveil.config import DatabaseSettings, Settings
from surveil.core.vocab import Channel
from surveil.core.zones import today_in
from surveil.db import models as m
from surveil.db.engine import SQLITE_PRAGMAS, make_engine
from surveil.db.session import read_scope
from surveil.services.actor import Actor
from surveil.services.imports.batch import import_csv, rollback_import

CLINIC = "Neuroendocrine Tumour Clinic"
ZONE = "Europe/London"
PATIENTS = 20_000
SCANS = 5
TARGET_S = 60.0


def run(db_url: str) -> dict[str, Any]:
    source = db_url.removeprefix("sqlite:///")
    with tempfile.TemporaryDirectory(prefix="bench-import-") as folder:
        scratch = Path(folder) / "registry.db"
        _copy(source, scratch)
        return _measure(f"sqlite:///{scratch}")


def _copy(source: str, target: Path) -> None:
    """A consistent copy through SQLite's backup API (the registry may be in WAL mode)."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()


def _measure(url: str) -> dict[str, Any]:
    engine = make_engine(url)
    settings = Settings(database=DatabaseSettings(url=url))
    now = dt.datetime.now(dt.UTC)
    today = today_in(ZONE, now)
    content = _csv(engine, today)
    rows = content.count(b"\n") - 1
    actor = Actor(username="bench", role=m.Role.NAVIGATOR, clinic=CLINIC, channel=Channel.CLI)

    def timed(**kw: Any) -> tuple[dict[str, float], Any]:
        wall, cpu, load = time.perf_counter(), time.process_time(), os.getloadavg()[0]
        report = import_csv(engine, actor=actor, kind="measurements", content=content,
                            filename="bench.csv", clinic=CLINIC, settings=settings, today=today,
                            **kw)  # fmt: skip
        return _took(wall, cpu, load), report

    dry, preview = timed(dry_run=True)
    commit, report = timed(dry_run=False)
    again, second = timed(dry_run=False)
    bare = _bare(url.removeprefix("sqlite:///"), content, engine)
    wall, cpu, load = time.perf_counter(), time.process_time(), os.getloadavg()[0]
    deleted = rollback_import(engine, actor=actor, batch_id=report.batch_id, now=now,
                              settings=settings, today=today)  # fmt: skip
    back = _took(wall, cpu, load)
    engine.dispose()
    assert preview.created == report.created == rows and second.skipped == rows
    steps = {"dry_run": dry, "commit": commit, "reimport": again, "rollback": back}
    figures = {
        f"{step}_{key}": value for step, took in steps.items() for key, value in took.items()
    }
    return {
        "rows": rows,
        "patients_touched": report.touched_patients,
        "new_triggers": len(report.new_triggers),
        **figures,
        "commit_rows_per_s": round(rows / commit["wall_s"]),
        "rollback_rows_deleted": deleted,
        "bare_csv_executemany_s": bare["wall_s"],
        "bare_csv_executemany_cpu_s": bare["cpu_s"],
        "ratio_commit_vs_bare": round(commit["wall_s"] / bare["wall_s"], 1),
        "ratio_commit_vs_bare_cpu": round(commit["cpu_s"] / bare["cpu_s"], 1),
        "load_average_1m": round(os.getloadavg()[0], 1),
        "met": {
            "100,000 rows committed (wall)": below(
                commit["wall_s"], TARGET_S, "s", ratio=round(commit["wall_s"] / bare["wall_s"], 1)
            ),
            "dry run (wall)": below(dry["wall_s"], TARGET_S, "s"),
            # On the shared bench machine wall time mostly measures the neighbours: CPU time
            # says what the import itself costs (ratio: CPU over the bare insert's CPU).
            "commit (CPU)": below(
                commit["cpu_s"], TARGET_S, "s", ratio=round(commit["cpu_s"] / bare["cpu_s"], 1)
            ),
            "dry run (CPU)": reported(dry["cpu_s"], "s"),
            "re-import (wall)": reported(again["wall_s"], "s"),
            "rollback (wall)": reported(back["wall_s"], "s"),
        },
    }


def _took(wall: float, cpu: float, load: float) -> dict[str, float]:
    """Wall and CPU seconds since ``wall`` and ``cpu``, with the 1-minute load average at the
    start and at the end (wall time on a busy machine measures the neighbours too)."""
    return {
        "wall_s": round(time.perf_counter() - wall, 2),
        "cpu_s": round(time.process_time() - cpu, 2),
        "load_start": round(load, 1),
        "load_end": round(os.getloadavg()[0], 1),
    }


def _csv(engine: Any, today: dt.date) -> bytes:
    """``SCANS`` rows for each of ``PATIENTS`` patients: a new lesion, scans six months apart."""
    rng = random.Random(16)
    with read_scope(engine) as session:
        query = (
            select(m.Patient.mrn)
            .where(m.Patient.clinic == CLINIC)
            .order_by(col(m.Patient.id))
            .limit(PATIENTS)
        )
        mrns = list(session.exec(query))
    out = io.StringIO()
    out.write("mrn,lesion,date,diameter_mm,modality\n")
    for mrn in mrns:
        size = rng.uniform(6, 25)
        for scan in range(SCANS):
            day = today - dt.timedelta(days=30 + 182 * (SCANS - 1 - scan))
            size = max(1.0, size + rng.choice((-1, 0, 0, 1, 1, 2)) * rng.random())
            out.write(f"{mrn},import-1,{day.isoformat()},{size:.1f},mri\n")
    return out.getvalue().encode()


def _bare(path: str, content: bytes, engine: Any) -> dict[str, float]:
    """Python's csv and sqlite3 doing the same work in bulk: read the rows, insert them into the
    same table (the lesions exist now: the commit made them), roll back."""
    with read_scope(engine) as session:
        lesion = session.exec(
            select(m.Patient.mrn, m.Lesion.id)
            .join(m.Lesion, col(m.Lesion.patient_id) == m.Patient.id)
            .where(m.Patient.clinic == CLINIC, m.Lesion.label == "import-1")
        ).all()
    ids = dict(lesion)
    connection = sqlite3.connect(path, isolation_level=None)
    for pragma in SQLITE_PRAGMAS:
        connection.execute(f"PRAGMA {pragma}")  # as surveil's engine sets them
    try:
        wall, cpu, load = time.perf_counter(), time.process_time(), os.getloadavg()[0]
        reader = csv.reader(io.StringIO(content.decode("utf-8-sig")))
        next(reader)
        now = dt.datetime.now(dt.UTC).isoformat(" ")
        rows = [(ids[mrn], day, modality, float(mm), now) for mrn, _, day, mm, modality in reader]
        connection.execute("BEGIN")
        connection.executemany(
            "INSERT INTO measurement (lesion_id, date, modality, diameter_mm, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            rows,
        )
        took = _took(wall, cpu, load)
        connection.execute("ROLLBACK")
    finally:
        connection.close()
    return took
