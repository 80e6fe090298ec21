"""Benchmark: the clinic as a whole (issue 20), through the service entry points.

    .venv/bin/python scripts/bench_reports.py sqlite:///.bench/registry-seed7-2000.db

``run(db_url)`` is what ``make bench`` calls. As the demo clinic's clinician it times:

- ``quality_year``: ``quality_report`` for the last twelve months of the whole clinic;
- ``forecast_12``: ``capacity_forecast`` for 12 months by resource and month;
- ``as_of_worklist``: ``worklist_as_of`` of the whole clinic at moments over the last 30 days;
- ``letters_pdf_per_s``: bulk letters (HTML and PDF) for 40 patients, as PDFs per second;
  ``letters_in_one_pdf_per_s``: the same letters laid out as one PDF, letters per second.

Targets (issue 20, on the 100k registry): quality for a year p95 < 2 s; forecast for 12 months
< 2 s; as-of worklist p95 < 500 ms; bulk letters >= 20 PDFs/s. Side effects on ``db_url``: the
audit events of the audited reads (quality, as-of, letters).
"""

import datetime as dt
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta

from surveil.config import DatabaseSettings, Settings
from surveil.core.zones import today_in
from surveil.db.engine import make_engine
from surveil.services.actor import Actor
from surveil.services.reports.as_of import worklist_as_of
from surveil.services.reports.capacity import CapacityQuery, capacity_forecast
from surveil.services.reports.letters import letters_in_one_pdf, letters_pdf, patient_letters
from surveil.services.reports.quality import QualityQuery, quality_report
from surveil.services.worklist.sections import WorklistQuery

CLINIC = "Neuroendocrine Tumour Clinic"  # the demo generator's clinic
ROUNDS = 10
LETTERS = 40


def run(db_url: str, *, rounds: int = ROUNDS) -> dict[str, Any]:
    engine = make_engine(db_url)
    settings = Settings(database=DatabaseSettings(url=db_url))
    actor = Actor(username="bench", role="clinician", clinic=CLINIC)
    now = dt.datetime.now(dt.UTC)
    today = today_in(settings.clinic.timezone, now)
    year = QualityQuery(start=today - relativedelta(years=1), end=today)
    try:
        quality = _time(
            lambda: quality_report(engine, actor=actor, query=year, settings=settings), rounds
        )
        forecast = _time(
            lambda: capacity_forecast(
                engine, actor=actor, query=CapacityQuery(months=12), settings=settings, today=today
            ),
            rounds,
        )
        moments = iter([now - dt.timedelta(days=3 * n, hours=n) for n in range(rounds + 1)])
        as_of = _time(
            lambda: worklist_as_of(
                engine,
                actor=actor,
                query=WorklistQuery(today=today),
                moment=next(moments),
                settings=settings,
            ),
            rounds,
        )
        rate, combined = _letters(engine, actor, settings, today)
    finally:
        engine.dispose()
    return {
        "quality_year": quality,
        "forecast_12": forecast,
        "as_of_worklist": as_of,
        "letters_pdf_per_s": rate,
        "letters_in_one_pdf_per_s": combined,
        "met": {
            "quality p95 < 2 s": quality["p95"] < 2000,
            "forecast p95 < 2 s": forecast["p95"] < 2000,
            "as-of p95 < 500 ms": as_of["p95"] < 500,
            "letters >= 20 PDFs/s": rate >= 20,
        },
    }


def _letters(
    engine: sa.Engine, actor: Actor, settings: Settings, today: dt.date
) -> tuple[float, float]:
    """Letters per second: a PDF each, and all in one PDF (the bulk web download)."""
    with engine.connect() as db:
        ids = list(
            db.execute(
                sa.text("SELECT id FROM patient WHERE clinic = :c ORDER BY id LIMIT :n"),
                {"c": CLINIC, "n": LETTERS},
            ).scalars()
        )
    started = time.perf_counter()
    letters = patient_letters(
        engine,
        actor=actor,
        patient_ids=ids,
        months=12,
        handover=False,
        settings=settings,
        today=today,
    )
    pdfs = letters_pdf(letters)
    each = round(len(pdfs) / (time.perf_counter() - started), 1)
    started = time.perf_counter()
    letters_in_one_pdf(letters)
    return each, round(len(letters) / (time.perf_counter() - started), 1)


def _time(call: Callable[[], object], rounds: int) -> dict[str, float]:
    call()  # warm-up: templates, packs, statement caches
    spent = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        spent.append((time.perf_counter() - started) * 1000)
    spent.sort()
    return {
        "p50": round(statistics.median(spent), 1),
        "p95": round(spent[min(len(spent) - 1, int(len(spent) * 0.95))], 1),
    }


if __name__ == "__main__":
    print(run(sys.argv[1] if len(sys.argv) > 1 else "sqlite:///.bench/registry-seed7-100000.db"))
