"""Check that a change to replanning leaves what it writes exactly as it was (issue 19).

    .venv/bin/python scripts/replan_fingerprint.py make UNPLANNED.db --patients 20000
    .venv/bin/python scripts/replan_fingerprint.py run UNPLANNED.db [--passes 3] [--keep OUT.db]
    .venv/bin/python scripts/replan_fingerprint.py run UNPLANNED.db --days 0,0,1,27,400 [--full]
    .venv/bin/python scripts/replan_fingerprint.py digest PLANNED.db

``make`` writes a demo registry that was never planned (seed 7, a fixed today). ``run`` copies
it, plans it with ``replan_every_patient`` (the first planning), replans it ``--passes - 1`` more
times (nothing changes), and prints each pass's CPU and wall seconds, the load average, and an
md5 per table over every row and every column but the timestamps (rows in id order). Run it on
main and on a branch: equal digests mean the branch wrote the same items, triggers,
consequences and audit events, with the same ids. ``followup_item*`` also gives a digest without
ids (rows sorted by value), which survives a change of insertion order.

``--days`` replans on those days after the fixed today, one pass each (the first planning is the
first); ``--full`` derives every plan on every pass (``replan --all --full``): with and without
it, a routine replan that skips unchanged patients (``services.planning.memo``) must write the
same. ``plan_memo`` and ``plan_input_change`` (what allow the skipping) are left out of the
digests, and ``audit (no run events)`` leaves out each run's own event, whose counts say how many
patients were skipped.
"""

import argparse
import datetime as dt
import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import SQLModel

from surveil.config import DatabaseSettings, Settings
from surveil.core.vocab import Channel
from surveil.db import migrate
from surveil.db.engine import make_engine
from surveil.demo import generate as demo
from surveil.services.actor import Actor
from surveil.services.planning.replan import replan_every_patient

TODAY = dt.date(2026, 12, 5)  # fixed: the plans depend on today
NOW = dt.datetime(2026, 12, 5, 12, tzinfo=dt.UTC)


def make(path: Path, patients: int) -> None:
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    demo.generate_demo(
        engine,
        patients=patients,
        seed=7,
        clinic="Neuroendocrine Tumour Clinic",
        timezone="Europe/London",
        today=TODAY,
        now=NOW,
    )
    engine.dispose()


def run(source: Path, days: list[int], keep: Path | None, *, full: bool = False) -> None:
    with tempfile.TemporaryDirectory(prefix="surveil-fingerprint-", dir=source.parent) as folder:
        path = keep or Path(folder) / "copy.db"
        shutil.copy(source, path)
        url = f"sqlite:///{path}"
        engine = make_engine(url)
        settings = Settings(database=DatabaseSettings(url=url))
        for number, offset in enumerate(days, start=1):
            cpu, wall = time.process_time(), time.perf_counter()
            result = replan_every_patient(
                engine,
                actor=Actor.system(channel=Channel.CLI),
                settings=settings,
                today=TODAY + dt.timedelta(days=offset),
                full=full,
            )
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            print(
                f"pass {number} (day {offset}): {result.patients} patients, "
                f"created {result.created}, superseded {result.superseded}, "
                f"skipped {result.skipped}; {cpu:.2f} CPU-s "
                f"({result.patients / cpu:,.0f}/CPU-s), {wall:.2f} wall-s "
                f"({result.patients / wall:,.0f}/s), load {os.getloadavg()[0]:.2f}"
            )
        for name, digest in digests(engine).items():
            print(f"{name}: {digest}")
        engine.dispose()


def digests(engine: sa.Engine) -> dict[str, str]:
    out = {}
    with engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            if table.name in ("plan_memo", "plan_input_change"):
                continue
            columns = [c for c in table.c if not _is_timestamp(c)]
            key = list(table.primary_key.columns) or columns
            rows = connection.execute(sa.select(*columns).order_by(*key)).all()
            if rows:
                out[table.name] = _md5(rows)
            if table.name == "followup_item":
                plain = [c for c in columns if c.name not in ("id", "superseded_by_id")]
                values = connection.execute(sa.select(*plain)).all()
                out["followup_item (no ids)"] = _md5(sorted(values, key=repr))
            if table.name == "audit_event":
                kept = [row for row in rows if "plan.replanned_all" not in row]
                out["audit (no run events)"] = _md5(kept)
    return out


def _md5(rows: list[Any]) -> str:
    digest = hashlib.md5()
    for row in rows:
        digest.update(repr(tuple(row)).encode())
    return f"{digest.hexdigest()} ({len(rows)} rows)"


def _is_timestamp(column: sa.Column[Any]) -> bool:
    kind = getattr(column.type, "impl", column.type)  # the UTC timestamps are TypeDecorators
    return isinstance(kind, sa.DateTime)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["make", "run", "digest"])
    parser.add_argument("path", type=Path)
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--passes", type=int, default=3, help="as many passes on today")
    parser.add_argument("--days", help="instead: a pass on each of these days after today")
    parser.add_argument("--full", action="store_true", help="skip no patient (replan --full)")
    parser.add_argument("--keep", type=Path, help="plan into this file and keep it")
    args = parser.parse_args()
    if args.command == "make":
        make(args.path, args.patients)
    elif args.command == "digest":
        for name, digest in digests(make_engine(f"sqlite:///{args.path}")).items():
            print(f"{name}: {digest}")
    else:
        days = [int(d) for d in args.days.split(",")] if args.days else [0] * args.passes
        run(args.path, days, args.keep, full=args.full)
