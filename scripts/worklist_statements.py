"""Where a worklist page's time goes: each section's capped count and first rows, timed bare.

    .venv/bin/python scripts/worklist_statements.py URL            # the demo navigator's own page
    .venv/bin/python scripts/worklist_statements.py URL --all      # the whole clinic's
    .venv/bin/python scripts/worklist_statements.py URL --explain triggers
    .venv/bin/python scripts/worklist_statements.py URL --navigator nurse2   # another's page

The statements are the page's own (``section_specs``, as ``bench_worklist`` reads them), compiled
with literal values and run on a raw cursor ``--rounds`` times after one warm-up; the median of
each is printed in milliseconds: wall time of the round trip, or with ``--cpu`` this process's
CPU time (on SQLite the whole cost of a statement, whatever else the machine is doing).
``--explain KEY`` prints PostgreSQL's ``EXPLAIN (ANALYZE, BUFFERS)`` of that section's count and
rows instead; ``--sql`` prints every statement. Reads only.
"""

import argparse
import datetime as dt
import statistics
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from surveil.config import DatabaseSettings, Settings
from surveil.core.zones import today_in
from surveil.db import models as m
from surveil.db.engine import make_engine
from surveil.services.worklist.sections import (
    COUNT_CAP,
    OVERVIEW_ROWS,
    WorklistQuery,
    section_specs,
)

USERNAME = "nurse"  # the demo generator's navigator, as in bench_worklist


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--all", action="store_true", help="the whole clinic (navigator=all)")
    parser.add_argument("--navigator", default=USERNAME, help=f"whose page (default {USERNAME})")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--explain", metavar="SECTION")
    parser.add_argument("--sql", action="store_true", help="print the statements, run nothing")
    parser.add_argument(
        "--cpu", action="store_true", help="this process's CPU time, not wall time (SQLite)"
    )
    args = parser.parse_args()
    engine = make_engine(args.url)
    settings = Settings(database=DatabaseSettings(url=args.url))
    with Session(engine) as session:
        named = m.User.username == args.navigator
        user = session.exec(sa.select(m.User).where(named)).scalar_one()
        today = today_in(settings.clinic.timezone, dt.datetime.now(dt.UTC))
        query = WorklistQuery(
            today=today, clinic=user.clinic, navigator=None if args.all else args.navigator
        )
        specs = section_specs(session, query=query, settings=settings)
        statements = [
            (s.key, _sql(engine, s.count(COUNT_CAP)), _sql(engine, s.rows(0, OVERVIEW_ROWS)))
            for s in specs
        ]
    if args.sql:
        for key, count, rows in statements:
            print(f"-- {key}\n{count};\n{rows};\n")
        return
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if args.explain:
            for key, count, rows in statements:
                if key == args.explain:
                    for sql in (count, rows):
                        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                        print("\n".join(r[0] for r in cursor.fetchall()), end="\n\n")
            return
        total = 0.0
        for key, count, rows in statements:
            clock = time.process_time if args.cpu else time.perf_counter
            c, n = (
                _median(cursor, count, args.rounds, clock),
                _median(cursor, rows, args.rounds, clock),
            )
            cursor.execute(count)
            found = cursor.fetchone()[0]
            total += c + n
            print(f"{key:18} count {c:7.2f} ms ({found:>5})   rows {n:7.2f} ms")
        print(f"{'total':18} {total:.1f} ms")
    finally:
        raw.close()
        engine.dispose()


def _sql(engine: sa.Engine, stmt: Any) -> str:
    return str(stmt.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))


def _median(cursor: Any, sql: str, rounds: int, clock: Callable[[], float]) -> float:
    cursor.execute(sql)
    cursor.fetchall()
    samples = []
    for _ in range(rounds):
        started = clock()
        cursor.execute(sql)
        cursor.fetchall()
        samples.append((clock() - started) * 1000)
    return statistics.median(samples)


if __name__ == "__main__":
    main()
