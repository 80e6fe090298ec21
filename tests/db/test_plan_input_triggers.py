"""The database marks a patient whenever a row planning reads changes (``plan_input_change``,
migration 0030), on SQLite and PostgreSQL: a routine replan skips exactly the patients with no
mark (``services.planning.memo``), so a write these triggers missed would leave a plan stale.
Every write below goes straight to the tables, past every service."""

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.sql.util import find_tables
from sqlmodel import Session, select

from surveil.config import Settings
from surveil.core.vocab import Channel
from surveil.db import models as m
from surveil.db.queries import FACT_READS, PLANNED_PATIENT
from surveil.demo import generate as demo
from surveil.services.actor import Actor
from surveil.services.planning import memo
from surveil.services.planning.replan import replan_every_patient
from surveil.services.planning.stored_items import RECONCILED_READ

TODAY = dt.date(2026, 12, 5)
# Every table whose rows planning reads (``memo``'s docstring; ``db.queries.FACT_READS``,
# ``stored_items.RECONCILED_READ``, the triggers, their consequences and the overrides).
BY_PATIENT_ID = (
    "tumour",
    "diseasestate",
    "markerresult",
    "therapy",
    "symptom",
    "pathologyresult",
    "lesion",
    "followup_item",
    "trigger",
    "trigger_consequence",
    "planoverride",
)
_CHANGE = m.PlanInputChange.__table__  # type: ignore[attr-defined]


@pytest.fixture
def registry(engine: sa.Engine, settings: Settings) -> sa.Engine:
    """A planned demo registry (triggers and their consequences included) with one override,
    and no marks left."""
    demo.generate_demo(
        engine,
        patients=40,
        seed=5,
        clinic="Neuroendocrine Tumour Clinic",
        timezone="Europe/London",
        today=TODAY,
        now=dt.datetime(2026, 12, 5, 12, tzinfo=dt.UTC),
    )
    for _ in range(2):  # the second finds most plans stable and stores their memos
        replan_every_patient(
            engine, actor=Actor.system(channel=Channel.CLI), settings=settings, today=TODAY
        )
    with Session(engine) as session:
        session.add(
            m.PlanOverride(
                patient_id=1, kind="ct", interval_min=2, interval_max=3, interval_unit="months",
                reason="clinician's choice", author="dr",
            )
        )  # fmt: skip
        session.commit()
    _take_all(engine)
    return engine


def _take_all(engine: sa.Engine) -> set[int]:
    with engine.begin() as connection:
        return set(connection.execute(sa.delete(_CHANGE).returning(_CHANGE.c.patient_id)).scalars())


def _new_patient(engine: sa.Engine, mrn: str) -> int:
    with Session(engine) as session:
        patient = m.Patient(
            clinic="Neuroendocrine Tumour Clinic", mrn=mrn, given_name="T", family_name="P",
            birth_date=dt.date(1970, 1, 1),
        )  # fmt: skip
        session.add(patient)
        session.commit()
        return patient.id or 0


def _copy_row(connection: sa.Connection, table: sa.Table, **values: Any) -> int:
    """A copy of ``table``'s first row with ``values`` in place, under a new id."""
    row = connection.execute(sa.select(table).order_by(table.c.id).limit(1)).mappings().one()
    fresh = {k: v for k, v in row.items() if k != "id"} | values
    return int(
        connection.execute(sa.insert(table).values(fresh).returning(table.c.id)).scalar_one()
    )


def test_every_table_the_facts_and_items_are_read_from_is_watched() -> None:
    """A table added to planning's reads without its triggers would never mark anyone."""
    read = {
        table.name
        for query in (*FACT_READS, RECONCILED_READ)
        for table in find_tables(query.statement, include_joins=True)
    }
    assert read <= {*BY_PATIENT_ID, "measurement"}


@pytest.mark.parametrize("name", BY_PATIENT_ID)
def test_every_write_to_an_input_table_marks_its_patients(registry: sa.Engine, name: str) -> None:
    table = sa.Table(name, sa.MetaData(), autoload_with=registry)
    one, other = _new_patient(registry, "Q1"), _new_patient(registry, "Q2")
    _take_all(registry)
    with registry.begin() as connection:
        row = _copy_row(connection, table, patient_id=one)
    assert _take_all(registry) == {one}
    with registry.begin() as connection:
        connection.execute(sa.update(table).where(table.c.id == row).values(patient_id=one))
    assert _take_all(registry) == {one}
    with registry.begin() as connection:  # a merge moves rows from one patient to another
        connection.execute(sa.update(table).where(table.c.id == row).values(patient_id=other))
    assert _take_all(registry) == {one, other}
    with registry.begin() as connection:
        connection.execute(sa.delete(table).where(table.c.id == row))
    assert _take_all(registry) == {other}


def test_every_write_to_a_measurement_marks_its_lesion_s_patient(registry: sa.Engine) -> None:
    lesions = m.Lesion.__table__  # type: ignore[attr-defined]
    table = m.Measurement.__table__  # type: ignore[attr-defined]
    one, other = _new_patient(registry, "Q1"), _new_patient(registry, "Q2")
    with registry.begin() as connection:
        first = _copy_row(connection, lesions, patient_id=one)
        second = _copy_row(connection, lesions, patient_id=other)
    _take_all(registry)
    with registry.begin() as connection:
        row = _copy_row(connection, table, lesion_id=first, replaces_id=None)
    assert _take_all(registry) == {one}
    with registry.begin() as connection:
        connection.execute(sa.update(table).where(table.c.id == row).values(diameter_mm=31.0))
    assert _take_all(registry) == {one}
    with registry.begin() as connection:
        connection.execute(sa.update(table).where(table.c.id == row).values(lesion_id=second))
    assert _take_all(registry) == {one, other}
    with registry.begin() as connection:
        connection.execute(sa.delete(table).where(table.c.id == row))
    assert _take_all(registry) == {other}


@pytest.mark.parametrize("column", [c for c in PLANNED_PATIENT if c != "id"])
def test_a_change_to_what_planning_reads_of_the_patient_marks_them(
    registry: sa.Engine, column: str
) -> None:
    patients = m.Patient.__table__  # type: ignore[attr-defined]
    with registry.begin() as connection:
        connection.execute(sa.update(patients).where(patients.c.id == 3).values(planned_at=None))
    assert _take_all(registry) == set()  # every run writes it: it is not an input
    with registry.begin() as connection:
        connection.execute(
            sa.update(patients).where(patients.c.id == 3).values({column: patients.c[column]})
        )
    assert _take_all(registry) == {3}


def test_a_change_committed_during_a_run_is_left_for_the_next(registry: sa.Engine) -> None:
    """PostgreSQL: a write still open when a replan takes the marks leaves its own mark, which
    that replan could not see; SQLite lets one transaction write at a time, so no such case."""
    if registry.dialect.name != "postgresql":
        pytest.skip("concurrent writers: PostgreSQL only")
    with Session(registry) as writer:
        writer.add(m.MarkerResult(patient_id=2, name="cga", value=900.0, uln=100.0, date=TODAY))
        writer.flush()
        with Session(registry) as run:
            assert memo.take_changes(run, [1, 2, 3]) == set()
            run.commit()
        writer.commit()
    with Session(registry) as run:
        assert memo.take_changes(run, [1, 2, 3]) == {2}
        run.commit()


def test_a_patient_planned_again_and_changed_loses_its_memo(registry: sa.Engine) -> None:
    """A run that took a patient's marks and wrote something for them leaves no memo a
    concurrent run could skip them on; one that found them stable stores a new one."""
    with Session(registry) as session:
        stored = sorted(session.exec(select(m.PlanMemo.patient_id)).all())
        assert len(stored) >= 2
        found = memo.Memo(run_key=b"k" * 16, changed={stored[0], stored[1]})
        memo.record(session, found, unchanged={stored[1]: (2, None)}, today=TODAY)
        session.commit()
        left = {row.patient_id: row for row in session.exec(select(m.PlanMemo))}
    assert stored[0] not in left
    assert left[stored[1]].run_key == b"k" * 16 and left[stored[1]].checked_on == TODAY


def test_at_head_every_input_table_has_its_triggers(engine: sa.Engine) -> None:
    """SQLite drops a table's triggers when a migration rebuilds the table
    (``batch_alter_table``): a later migration must create them again."""
    if engine.dialect.name == "postgresql":
        sql = (
            "SELECT c.relname, t.tgname FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal"
        )
    else:
        sql = "SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'"
    with engine.connect() as connection:
        found = {tuple(row) for row in connection.exec_driver_sql(sql).all()}
    expected = {
        (table, f"plan_input_{table}_{operation}")
        for table in (*BY_PATIENT_ID, "measurement")
        for operation in ("insert", "update", "delete")
    } | {("patient", "plan_input_patient_update")}
    assert expected <= found
