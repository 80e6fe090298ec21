"""``surveil demo`` at scale: ``COPY`` on PostgreSQL, drafting in worker processes, MRNs past
D999999. The registry must come out the same, row for row, whichever way it was written."""

import datetime as dt
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from surveil.config import DatabaseSettings, Settings
from surveil.core.vocab import Channel
from surveil.db.engine import make_engine
from surveil.demo import generate as demo
from surveil.demo.history import Protocol, history
from surveil.demo.patients import synthesise
from surveil.errors import InvalidInput
from surveil.schedules import get_profile, load_packs
from surveil.services.actor import Actor
from surveil.services.planning.replan import replan_every_patient

TODAY = dt.date(2026, 6, 1)
NOW = dt.datetime(2026, 6, 1, 8, 30, tzinfo=dt.UTC)
CLINIC = "Neuroendocrine Tumour Clinic"


def make(engine: sa.Engine, patients: int, **kwargs: object) -> demo.DemoResult:
    return demo.generate_demo(
        engine,
        patients=patients,
        seed=7,
        clinic=CLINIC,
        timezone="Europe/London",
        today=TODAY,
        now=NOW,
        **kwargs,  # type: ignore[arg-type]
    )


def rows(engine: sa.Engine) -> dict[str, list[tuple[object, ...]]]:
    """The demo's tables, ordered by primary key, times in UTC (SQLite drops the zone)."""
    out = {}
    with engine.connect() as connection:
        for table in demo.TABLES.values():
            query = sa.select(table).order_by(*table.primary_key.columns)
            out[table.name] = [tuple(map(_utc, row)) for row in connection.execute(query)]
    return out


def _utc(value: object) -> object:
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


@pytest.mark.postgres
def test_copy_on_postgresql_writes_what_core_inserts_write_on_sqlite(
    pg_database: str, sqlite_url: str
) -> None:
    """COPY (PostgreSQL), drafted in two processes, against Core inserts (SQLite) in this one."""
    copied = make_engine(pg_database)
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with copied.begin() as connection:
        connection.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    inserted = make_engine(sqlite_url)
    try:
        make(copied, 150, chunk_size=40, workers=2)
        make(inserted, 150, chunk_size=40)
        on_postgres, on_sqlite = rows(copied), rows(inserted)
    finally:
        copied.dispose()
        inserted.dispose()
    assert len(on_postgres["patient"]) == 150
    assert len(on_postgres["followup_item"]) > 150  # the history is there, and compared
    for name, expected in on_sqlite.items():
        assert on_postgres[name] == expected, name


def test_drafting_in_processes_gives_the_same_registry(
    sqlite_template: Path, tmp_path: Path
) -> None:
    engines = []
    for name in ("alone", "parallel"):
        shutil.copyfile(sqlite_template, tmp_path / f"{name}.db")
        engines.append(make_engine(f"sqlite:///{tmp_path / name}.db"))
    alone, parallel = engines
    make(alone, 90, chunk_size=20)
    make(parallel, 90, chunk_size=20, workers=3)
    assert rows(alone) == rows(parallel)
    for engine in engines:
        engine.dispose()


def test_the_past_does_not_depend_on_the_patient_id() -> None:
    """Drafting numbers patients only when they are written: the replay must not use the id."""
    pack, profile = get_profile(load_packs())
    replay = Protocol(pack, profile, today=TODAY, seed=7)
    for number in range(1, 41):
        draft = synthesise(7, number, today=TODAY, timezone="Europe/London")
        as_zero = history(draft, patient_id=0, created=TODAY, protocol=replay)
        as_real = history(draft, patient_id=900_000 + number, created=TODAY, protocol=replay)
        assert as_zero == as_real


def test_mrns_go_on_past_d999999(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    make(engine, 2)
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE patient SET mrn = 'D999999' WHERE mrn = 'D000001'")
    assert demo.next_demo_number(engine, clinic=CLINIC) == 1_000_000
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE patient SET mrn = 'D1000000' WHERE mrn = 'D000002'")
    assert demo.next_demo_number(engine, clinic=CLINIC) == 1_000_001  # not D999999's successor
    with pytest.raises(InvalidInput) as error:
        make(engine, 9_000_000)
    assert [p.field for p in error.value.problems] == ["patients"]
    with pytest.raises(InvalidInput) as error:
        make(engine, 1, workers=0)
    assert [p.field for p in error.value.problems] == ["workers"]
    engine.dispose()


def test_replanning_a_range_of_ids_plans_only_those_patients(db_url: str) -> None:
    """How the million-patient build shares its first planning between processes."""
    engine = make_engine(db_url)
    make(engine, 30)
    with engine.connect() as connection:
        ids = sorted(connection.exec_driver_sql("SELECT id FROM patient").scalars())
    part = range(ids[10], ids[20])
    result = replan_every_patient(
        engine,
        actor=Actor.system(channel=Channel.CLI),
        settings=Settings(database=DatabaseSettings(url=db_url)),
        today=TODAY,
        id_range=part,
    )
    with engine.connect() as connection:
        planned = connection.exec_driver_sql(
            "SELECT id FROM patient WHERE planned_at IS NOT NULL ORDER BY id"
        ).scalars()
        with_items = connection.exec_driver_sql(
            "SELECT DISTINCT patient_id FROM followup_item WHERE state = 'planned'"
        ).scalars()
        assert list(planned) == ids[10:20]
        assert set(with_items) <= set(part)
    assert result.patients == 10
    engine.dispose()
