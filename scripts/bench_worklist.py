"""Benchmark: the worklist and patient pages, end to end over HTTP, against the bare SQL.

    .venv/bin/python scripts/bench_worklist.py sqlite:///.bench/registry-seed7-100000.db

``run(db_url)`` is what ``make bench`` calls. It logs in as the demo navigator (``nurse``) through
the real login form and times, with the real app (``create_app``, TestClient, templates, CSRF,
audit writes):

- ``worklist_page``: ``GET /worklist?navigator=all`` (every section's count and its first
  rows for the whole clinic), today;
- ``worklist_section``: ``GET /worklist?navigator=all&section=overdue`` (a page of 50 rows);
- ``my_patients_page``: ``GET /worklist``, what the navigator sees by default: their own
  patients (and everyone's without a navigator);
- ``bare_sql``: the statements the page runs (each section's count, then its rows), compiled to
  SQL text and executed on a raw DBAPI cursor, rows fetched as tuples: the floor. The page must be
  within 3× of it. The benchmark first checks the bare rows are the rows the page shows;
- ``service``: ``build_worklist`` alone (no HTTP, no template), to show where time goes;
- ``patient_page``: ``GET /patients/{id}`` for patients picked at random (seeded).

Side effects on ``db_url``: one login attempt and one audit event per request (the real pages
audit every view of a patient). Targets: worklist p95 < 150 ms and ≤ 3× bare; patient p95 < 100 ms.
"""

import datetime as dt
import random
import re
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session
from targets import below

from surveil.config import DatabaseSettings, Settings, WebSettings
from surveil.core.zones import today_in
from surveil.db import models as m
from surveil.db.engine import make_engine
from surveil.services.actor import Actor
from surveil.services.worklist.sections import (
    COUNT_CAP,
    OVERVIEW_ROWS,
    WorklistQuery,
    build_worklist,
    section_specs,
)
from surveil.web.app import create_app

USERNAME, PASSWORD = "nurse", "nurse-demo"  # the demo generator's navigator
ROUNDS = 60
WARMUP = 5
PATIENTS = 60


def run(db_url: str, *, rounds: int = ROUNDS) -> dict[str, Any]:
    engine = make_engine(db_url)
    # A fresh key per run: the app refuses to start without one.
    web = WebSettings(secret_key=secrets.token_urlsafe(48))
    settings = Settings(database=DatabaseSettings(url=db_url), web=web)
    try:
        with Session(engine) as session:
            user = session.exec(sa.select(m.User).where(m.User.username == USERNAME)).scalar_one()
            actor = Actor.of(user)
            ids = list(
                session.exec(
                    sa.select(m.Patient.id).where(m.Patient.clinic == user.clinic)
                ).scalars()
            )
        today = today_in(settings.clinic.timezone, dt.datetime.now(dt.UTC))
        query = WorklistQuery(today=today, clinic=actor.clinic)
        bare_sql = _bare_statements(engine, query, settings)
        _check_same_rows(engine, bare_sql, query, actor, settings)
        app = create_app(settings, engine=engine)
        with TestClient(app) as client:
            _login(client)
            # The whole clinic, as the bare statements read it (a navigator's page shows only
            # their own patients unless asked for everyone's).
            page = _time(lambda: _get(client, "/worklist?navigator=all"), rounds)
            focused = _time(lambda: _get(client, "/worklist?navigator=all&section=overdue"), rounds)
            mine = _time(lambda: _get(client, "/worklist"), rounds)  # a navigator's default
            picks = random.Random(7).sample(ids, min(PATIENTS, len(ids)))
            cycle = iter(picks * (rounds // len(picks) + 2))
            patient = _time(lambda: _get(client, f"/patients/{next(cycle)}"), rounds)
        bare = _time(lambda: _run_bare(engine, bare_sql), rounds)
        service = _time(lambda: _run_service(engine, query, actor, settings), rounds)
    finally:
        engine.dispose()
    ratio_p50 = round(page["p50"] / bare["p50"], 2)
    ratio_p95 = round(page["p95"] / bare["p95"], 2)
    return {
        "patients_in_clinic": len(ids),
        "worklist_page": page,
        "worklist_section": focused,
        "my_patients_page": mine,
        "service": service,
        "bare_sql": bare,
        "patient_page": patient,
        "ratio_p50": ratio_p50,
        "ratio_p95": ratio_p95,
        "met": {
            "worklist p95": below(page["p95"], 150, "ms", ratio=ratio_p95),
            "my patients p95": below(mine["p95"], 150, "ms"),
            "worklist p95 / bare SQL p95": below(ratio_p95, 3, "×", inclusive=True),
            "patient page p95": below(patient["p95"], 100, "ms"),
        },
    }


def _login(client: TestClient) -> None:
    html = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token, "no CSRF field on the login page"
    response = client.post(
        "/login",
        data={"username": USERNAME, "password": PASSWORD, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    if response.status_code != 303:
        raise RuntimeError(f"cannot log in as the demo navigator {USERNAME!r}")


def _get(client: TestClient, path: str) -> None:
    response = client.get(path)
    if response.status_code != 200:
        raise RuntimeError(f"GET {path}: {response.status_code}")


def _bare_statements(
    engine: sa.Engine, query: WorklistQuery, settings: Settings
) -> list[tuple[str, str]]:
    """(count SQL, rows SQL) per section, with literal values: what a hand-written query runs."""
    out = []
    with Session(engine) as session:
        for spec in section_specs(session, query=query, settings=settings):
            count, rows = spec.count(COUNT_CAP), spec.rows(0, OVERVIEW_ROWS)
            out.append((_literal(engine, count), _literal(engine, rows)))
    return out


def _literal(engine: sa.Engine, stmt: Any) -> str:
    return str(stmt.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))


def _run_bare(engine: sa.Engine, statements: list[tuple[str, str]]) -> list[list[tuple[Any, ...]]]:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        shown = []
        for count_sql, rows_sql in statements:
            cursor.execute(count_sql)
            cursor.fetchone()
            cursor.execute(rows_sql)
            shown.append(cursor.fetchall())
        cursor.close()
        return shown
    finally:
        raw.close()


def _run_service(engine: sa.Engine, query: WorklistQuery, actor: Actor, settings: Settings) -> Any:
    with Session(engine) as session:
        return build_worklist(
            session, query=query, actor=actor, settings=settings, count_cap=COUNT_CAP
        )


def _check_same_rows(
    engine: sa.Engine,
    statements: list[tuple[str, str]],
    query: WorklistQuery,
    actor: Actor,
    settings: Settings,
) -> None:
    bare = _run_bare(engine, statements)
    shown = _run_service(engine, query, actor, settings)
    for rows, section in zip(bare, shown.sections, strict=True):
        bare_ids = [(r[0], r[4] if len(r) > 4 else None) for r in rows]
        page_ids = [
            (r.patient_id, r.item_id or r.trigger_id or r.reminder_id) for r in section.rows
        ]
        if bare_ids != page_ids:
            raise AssertionError(f"section {section.key}: bare SQL and page rows differ")


def _time(fn: Callable[[], object], rounds: int) -> dict[str, float]:
    for _ in range(WARMUP):
        fn()
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "p50": round(statistics.median(samples), 2),
        "p95": round(samples[max(0, int(len(samples) * 0.95) - 1)], 2),
    }


if __name__ == "__main__":
    import json

    url = sys.argv[1] if len(sys.argv) > 1 else "sqlite:///.bench/registry-seed7-100000.db"
    print(json.dumps(run(url), indent=2))
