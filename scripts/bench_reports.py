"""Benchmark: the clinic as a whole (issue 20), through the service entry points, each against
the bare database (or library) doing the same work in the same run.

    .venv/bin/python scripts/bench_reports.py sqlite:///.bench/registry-seed7-100000.db

``run(db_url)`` is what ``make bench`` calls. As the demo clinic's clinician it times:

- ``quality_year``: ``quality_report`` for the last twelve months of the whole clinic; bare:
  the same counts as hand-written SQL (done items by day and timing over 24 months, the open
  items' overdue/lost/patient counts, the triggers, reminders and declines of the period);
- ``forecast_12``: ``capacity_forecast`` for 12 months by resource and month; bare: the grouped
  count of open items by kind, site and months, as hand-written SQL;
- ``as_of_worklist``: ``worklist_as_of`` of the whole clinic (the overview, counts capped as
  on the page) at moments between the registry's last change and now, so that every item and
  patient existed then; bare: the live worklist's own section statements (``section_specs``:
  each section's capped count and first rows), as the database runs them;
- ``letters_pdf_per_s``: bulk letters (HTML and one PDF each) for 100 patients as
  ``surveil letter`` makes them (laid out in batches, one process per CPU), PDFs per second;
  ``letters_one_process_per_s`` the same in one process; bare: WeasyPrint making each letter's
  PDF from its HTML on its own (``html_to_pdf``), in one process. ``letters_per_cpu_s``: the
  bulk letters per CPU-second of the process and its workers (what one unshared core makes).
  ``letters_html_cpu_ms_*`` and ``letters_one_process_per_cpu_s_*``: the same 100 letters in
  English and with the patients' languages set to Spanish, French and none in turn (put back
  afterwards), the HTML's CPU ms per letter and the PDFs per CPU-second in one process: the cost
  of writing letters in the patient's language, measured against English in the same run.

Each timed figure has ``p50``/``p95`` in wall-clock ms and ``cpu_p50`` (this process's CPU ms:
on a shared machine, the part that does not depend on the load). Targets (issue 20, on the 100k
registry): quality for a year p95 < 2 s; forecast for 12 months < 2 s; as-of worklist p95 <
500 ms; bulk letters >= 20 PDFs/s. Side effects on ``db_url``: the audit events of the audited
reads (quality, as-of, letters); the 100 letter patients' languages are changed and restored.
"""

import datetime as dt
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from sqlmodel import Session
from targets import above, below, reported

from surveil.config import DatabaseSettings, Settings
from surveil.core.zones import today_in
from surveil.db import migrate
from surveil.db import models as m
from surveil.db.engine import make_engine
from surveil.render.pdf import html_to_pdf
from surveil.services.actor import Actor
from surveil.services.reports.as_of import worklist_as_of
from surveil.services.reports.capacity import CapacityQuery, capacity_forecast
from surveil.services.reports.letters import Letter, letters_pdf, patient_letters
from surveil.services.reports.quality import QualityQuery, quality_report
from surveil.services.worklist.sections import (
    COUNT_CAP,
    OVERVIEW_ROWS,
    WorklistQuery,
    section_specs,
)

CLINIC = "Neuroendocrine Tumour Clinic"  # the demo generator's clinic
ROUNDS = 10
LETTERS = 100
OPEN = "('planned', 'ordered', 'booked')"
PATIENTS = m.Patient.__table__  # type: ignore[attr-defined]
PATIENT = PATIENTS.c


def run(db_url: str, *, rounds: int = ROUNDS) -> dict[str, Any]:
    engine = make_engine(db_url)
    migrate.upgrade(engine)  # a registry built before ix_followup_item_updated_at (0022)
    settings = Settings(database=DatabaseSettings(url=db_url))
    actor = Actor(username="bench", role="clinician", clinic=CLINIC)
    now = dt.datetime.now(dt.UTC)
    today = today_in(settings.clinic.timezone, now)
    year = QualityQuery(start=today - relativedelta(years=1), end=today)
    try:
        quality = _time(
            lambda: quality_report(engine, actor=actor, query=year, settings=settings), rounds
        )
        quality_bare = _time(lambda: _bare(engine, _quality_sql(year, settings)), rounds)
        forecast = _time(
            lambda: capacity_forecast(
                engine, actor=actor, query=CapacityQuery(months=12), settings=settings, today=today
            ),
            rounds,
        )
        forecast_bare = _time(lambda: _bare(engine, [_forecast_sql(today)]), rounds)
        as_of, as_of_bare = _as_of(engine, actor, settings, now, rounds)
        letters = _letters(engine, actor, settings, today)
    finally:
        engine.dispose()
    return {
        "quality_year": quality,
        "quality_bare_sql": quality_bare,
        "quality_ratio_p50": _ratio(quality, quality_bare),
        "forecast_12": forecast,
        "forecast_bare_sql": forecast_bare,
        "forecast_ratio_p50": _ratio(forecast, forecast_bare),
        "as_of_worklist": as_of,
        "as_of_live_sections_bare_sql": as_of_bare,
        "as_of_ratio_p50": _ratio(as_of, as_of_bare),
        **letters,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "met": {
            "quality p95": below(quality["p95"], 2000, "ms", ratio=_ratio(quality, quality_bare)),
            "forecast p95": below(
                forecast["p95"], 2000, "ms", ratio=_ratio(forecast, forecast_bare)
            ),
            "as-of worklist p95": below(as_of["p95"], 500, "ms", ratio=_ratio(as_of, as_of_bare)),
            "bulk letters": above(
                letters["letters_pdf_per_s"],
                20,
                "PDFs/s",
                ratio=letters["letters_ratio_to_bare"],
            ),
            "bulk letters per CPU-second": reported(letters["letters_per_cpu_s"], "PDFs"),
            "letters in es/fr/en, HTML CPU per letter / English": reported(
                letters["letters_languages_html_cpu_ratio"], "×"
            ),
        },
    }


def _ratio(service: dict[str, float], bare: dict[str, float]) -> float:
    return round(service["p50"] / max(bare["p50"], 0.1), 2)


def _quality_sql(year: QualityQuery, settings: Settings) -> list[str]:
    """What the quality page counts, as hand-written SQL (SQLite's spelling)."""
    start, end = year.start.isoformat(), year.end.isoformat()
    trend = (year.end.replace(day=1) - relativedelta(months=23)).isoformat()
    first = min(trend, start)
    mine = f"patient_id IN (SELECT id FROM patient WHERE clinic = '{CLINIC}')"
    lost = (year.end - dt.timedelta(days=settings.worklist.lost_after_days)).isoformat()
    return [
        f"""SELECT completed_on, CASE WHEN completed_on < earliest THEN 'early'
            WHEN completed_on > latest THEN 'late' ELSE 'on_time' END AS timing,
            CASE WHEN completed_on > latest THEN latest END AS closed, count(*)
            FROM followup_item WHERE state = 'done' AND {mine}
            AND completed_on >= '{first}' AND completed_on <= '{end}'
            GROUP BY completed_on, timing, closed""",
        f"""SELECT count(DISTINCT patient_id), count(CASE WHEN latest < '{end}' THEN 1 END),
            count(CASE WHEN latest < '{lost}' THEN 1 END),
            count(DISTINCT CASE WHEN latest < '{lost}' THEN patient_id END)
            FROM followup_item
            WHERE state IN {OPEN} AND created_at <= '{end} 23:59:59' AND {mine}""",
        f"""SELECT t.detected_on, t.resolved_at, i.kind, i.state, i.completed_on
            FROM "trigger" t LEFT JOIN followup_item i ON i.id = t.item_id
            WHERE t.detected_on >= '{start}' AND t.detected_on <= '{end}' AND t.{mine}""",
        f"""SELECT state, count(*) FROM reminder WHERE send_after >= '{start}'
            AND send_after < '{end} 23:59:59' AND {mine} AND state != 'suppressed'
            GROUP BY state""",
        f"""SELECT state, rule_id, outcome_note FROM followup_item
            WHERE state IN ('declined', 'not_needed') AND updated_at >= '{start}'
            AND updated_at < '{end} 23:59:59' AND {mine}""",
        f"""SELECT kind, reason FROM planoverride WHERE created_at >= '{start}'
            AND created_at < '{end} 23:59:59' AND {mine}""",
    ]


def _forecast_sql(today: dt.date) -> str:
    before = (today.replace(day=1) + relativedelta(months=12)).isoformat()
    return f"""SELECT i.kind, u.site, substr(i.earliest, 1, 7), substr(i.target, 1, 7),
        substr(i.latest, 1, 7), count(*) FROM followup_item i JOIN patient p ON p.id = i.patient_id
        LEFT JOIN tumour u ON u.patient_id = i.patient_id
        WHERE i.state IN {OPEN} AND i.earliest < '{before}' AND p.deceased_on IS NULL
        AND p.clinic = '{CLINIC}' GROUP BY 1, 2, 3, 4, 5"""


def _bare(engine: sa.Engine, statements: list[str]) -> int:
    """The statements on the driver's own cursor, every row fetched."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        fetched = 0
        for sql in statements:
            cursor.execute(sql)
            fetched += len(cursor.fetchall())
        cursor.close()
        return fetched
    finally:
        raw.close()


def _as_of(
    engine: sa.Engine, actor: Actor, settings: Settings, now: dt.datetime, rounds: int
) -> tuple[dict[str, float], dict[str, float]]:
    """The as-of overview at moments after the registry's last change (its build), and the live
    overview's section statements bare, for the day of those moments."""
    with engine.connect() as db:
        built = db.execute(sa.text("SELECT max(updated_at) FROM followup_item")).scalar()
    last = dt.datetime.fromisoformat(str(built)).replace(tzinfo=dt.UTC)
    span = max((now - last).total_seconds(), 2.0)
    moments = iter(
        [last + dt.timedelta(seconds=span * (n + 1) / (rounds + 2)) for n in range(rounds + 1)]
    )
    query = WorklistQuery(today=today_in(settings.clinic.timezone, now), clinic=CLINIC)
    service = _time(
        lambda: worklist_as_of(
            engine,
            actor=actor,
            query=query,
            moment=next(moments),
            settings=settings,
            count_cap=COUNT_CAP,
        ),
        rounds,
    )
    with Session(engine) as session:
        specs = section_specs(session, query=query, settings=settings)
        statements = [
            str(stmt.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
            for spec in specs
            for stmt in (spec.count(COUNT_CAP), spec.rows(0, OVERVIEW_ROWS))
        ]
    return service, _time(lambda: _bare(engine, statements), rounds)


def _letters(
    engine: sa.Engine, actor: Actor, settings: Settings, today: dt.date
) -> dict[str, float]:
    """Letters per second as ``surveil letter`` makes them (workers: one per CPU), in one
    process, and one PDF at a time with bare WeasyPrint, per second of wall clock; and the bulk
    letters per CPU-second of all processes (what a core makes when it is not shared)."""
    with engine.connect() as db:
        ids = list(
            db.execute(
                sa.text("SELECT id FROM patient WHERE clinic = :c ORDER BY id LIMIT :n"),
                {"c": CLINIC, "n": LETTERS},
            ).scalars()
        )
    cpus = len(os.sched_getaffinity(0))
    started, cpu_started = time.perf_counter(), _cpu()
    letters = patient_letters(
        engine,
        actor=actor,
        patient_ids=ids,
        months=12,
        handover=False,
        settings=settings,
        today=today,
    )
    pdfs = letters_pdf(letters, jobs=cpus)
    bulk = len(pdfs) / (time.perf_counter() - started)
    per_cpu = len(pdfs) / (_cpu() - cpu_started)
    started = time.perf_counter()
    letters_pdf(letters, jobs=1)
    one = len(letters) / (time.perf_counter() - started)
    started = time.perf_counter()
    for letter in letters[:40]:
        html_to_pdf(letter.html)
    bare = 40 / (time.perf_counter() - started)
    languages = _letters_in_languages(engine, actor, settings, today, ids)
    return {
        **languages,
        "letters_pdf_per_s": round(bulk, 1),
        "letters_one_process_per_s": round(one, 1),
        "letters_bare_weasyprint_per_s": round(bare, 1),
        "letters_ratio_to_bare": round(bulk / bare, 2),
        "letters_workers": cpus,
        "letters_per_cpu_s": round(per_cpu, 1),
    }


def _letters_in_languages(
    engine: sa.Engine, actor: Actor, settings: Settings, today: dt.date, ids: list[int]
) -> dict[str, float]:
    """The same letters with the patients' languages set in turn to Spanish, French and none
    (the registry's patients have none), against the English letters in the same run: the HTML
    (catalogues, Babel dates) per letter in CPU ms, and the PDFs per CPU-second in one process.
    The patients' languages are put back as they were afterwards."""

    def html() -> list[Letter]:
        return patient_letters(
            engine,
            actor=actor,
            patient_ids=ids,
            months=12,
            handover=False,
            settings=settings,
            today=today,
        )

    def cpu_of(call: Callable[[], object]) -> float:
        started = time.process_time()
        call()
        return time.process_time() - started

    english = html()
    english_html = min(cpu_of(html) for _ in range(3))
    english_pdf = cpu_of(lambda: letters_pdf(english, jobs=1))
    with engine.begin() as db:
        before = dict(
            db.execute(sa.select(PATIENT.id, PATIENT.language).where(PATIENT.id.in_(ids))).all()
        )
        for n, pid in enumerate(ids):
            tag = ("es", "fr", None)[n % 3]
            db.execute(sa.update(PATIENTS).where(PATIENT.id == pid).values(language=tag))
    try:
        mixed = html()
        mixed_html = min(cpu_of(html) for _ in range(3))
        mixed_pdf = cpu_of(lambda: letters_pdf(mixed, jobs=1))
    finally:
        with engine.begin() as db:
            for pid, language in before.items():
                db.execute(sa.update(PATIENTS).where(PATIENT.id == pid).values(language=language))
    spoken = {letter.language for letter in mixed}
    assert spoken == {"es", "fr", "en"}, spoken  # the languages really were used
    return {
        "letters_html_cpu_ms_english": round(english_html * 1000 / len(ids), 2),
        "letters_html_cpu_ms_languages": round(mixed_html * 1000 / len(ids), 2),
        "letters_languages_html_cpu_ratio": round(mixed_html / english_html, 2),
        "letters_one_process_per_cpu_s_english": round(len(ids) / english_pdf, 1),
        "letters_one_process_per_cpu_s_languages": round(len(ids) / mixed_pdf, 1),
    }


def _cpu() -> float:
    """CPU seconds of this process and of its finished workers (``os.times`` counts a child
    once it has been waited for, which the pool does when it closes)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _time(call: Callable[[], object], rounds: int) -> dict[str, float]:
    call()  # warm-up: templates, packs, statement caches
    spent, cpu = [], []
    for _ in range(rounds):
        started, cpu_started = time.perf_counter(), time.process_time()
        call()
        spent.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
    spent.sort()
    return {
        "p50": round(statistics.median(spent), 1),
        "p95": round(spent[min(len(spent) - 1, int(len(spent) * 0.95))], 1),
        "cpu_p50": round(statistics.median(cpu), 1),
    }


if __name__ == "__main__":
    print(run(sys.argv[1] if len(sys.argv) > 1 else "sqlite:///.bench/registry-seed7-100000.db"))
