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
from surveil.db import migrate, plan_inputs
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
BY_PATIENT_ID = tuple(table for table in plan_inputs.WATCHED if table != "measurement")
_CHANGE = m.PlanInputChange.__table__  # type: ignore[attr-defined]


@pytest.fixture
def registry(engine: sa.Engine, settings: Settings) -> sa.Engine:
    """A planned demo registry (triggers and their consequences included) with one override,
    and no marks left."""
    demo.generate_demo(
        engine,
        patients=30,
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
    assert read <= set(plan_inputs.WATCHED)


def test_every_write_to_a_watched_row_marks_its_patients(registry: sa.Engine) -> None:
    """Insert, update, a move to another patient (as a merge does) and delete, on every watched
    table; one registry for all of them (each costs a demo and two replans)."""
    one, other = _new_patient(registry, "Q1"), _new_patient(registry, "Q2")
    for name in BY_PATIENT_ID:
        table = sa.Table(name, sa.MetaData(), autoload_with=registry)
        _take_all(registry)
        with registry.begin() as connection:
            row = _copy_row(connection, table, patient_id=one)
        assert _take_all(registry) == {one}, f"insert into {name}"
        with registry.begin() as connection:
            connection.execute(sa.update(table).where(table.c.id == row).values(patient_id=one))
        assert _take_all(registry) == {one}, f"update of {name}"
        with registry.begin() as connection:
            connection.execute(sa.update(table).where(table.c.id == row).values(patient_id=other))
        assert _take_all(registry) == {one, other}, f"{name} row moved to another patient"
        with registry.begin() as connection:
            connection.execute(sa.delete(table).where(table.c.id == row))
        assert _take_all(registry) == {other}, f"delete from {name}"


def test_measurements_mark_their_lesion_s_patient_and_the_patient_row_itself(
    registry: sa.Engine,
) -> None:
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
    # What planning reads of the patient row marks them; when it was last planned does not.
    patients = m.Patient.__table__  # type: ignore[attr-defined]
    with registry.begin() as connection:
        connection.execute(sa.update(patients).where(patients.c.id == 3).values(planned_at=None))
    assert _take_all(registry) == set()  # every run writes it: it is not an input
    for column in (c for c in PLANNED_PATIENT if c != "id"):
        with registry.begin() as connection:
            connection.execute(
                sa.update(patients).where(patients.c.id == 3).values({column: patients.c[column]})
            )
        assert _take_all(registry) == {3}, f"patient.{column}"


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
    with engine.connect() as connection:
        assert plan_inputs.trigger_problem(connection) is None
    assert migrate.schema_problem(engine) is None


def test_db_check_names_a_trigger_missing_or_disabled(engine: sa.Engine) -> None:
    """SQLite drops a table's triggers when a migration rebuilds the table
    (``batch_alter_table``); PostgreSQL's can be disabled: ``surveil db check`` refuses both."""
    postgresql = engine.dialect.name == "postgresql"
    try:
        with engine.begin() as connection:
            on = " ON markerresult" if postgresql else ""
            connection.exec_driver_sql(f"DROP TRIGGER plan_input_markerresult_insert{on}")
        problem = migrate.schema_problem(engine)
        assert problem is not None and "plan_input_markerresult_insert on markerresult" in problem
        if postgresql:
            _put_back_markerresult_insert(engine)
            with engine.begin() as connection:
                connection.exec_driver_sql(
                    "ALTER TABLE markerresult DISABLE TRIGGER plan_input_markerresult_update"
                )
            problem = migrate.schema_problem(engine)
            assert problem is not None and "disabled: plan_input_markerresult_update" in problem
    finally:
        if postgresql:  # the PostgreSQL test database outlives this test: leave it as found
            _put_back_markerresult_insert(engine)
            with engine.begin() as connection:
                connection.exec_driver_sql(
                    "ALTER TABLE markerresult ENABLE TRIGGER plan_input_markerresult_update"
                )
            assert migrate.schema_problem(engine) is None


def _put_back_markerresult_insert(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE OR REPLACE TRIGGER plan_input_markerresult_insert AFTER INSERT ON markerresult "
            "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
            "EXECUTE FUNCTION plan_input_insert()"
        )


def test_a_truncate_drops_every_memo(registry: sa.Engine) -> None:
    """PostgreSQL: TRUNCATE fires no row trigger and cannot say whose rows it removed."""
    if registry.dialect.name != "postgresql":
        pytest.skip("TRUNCATE: PostgreSQL only (SQLite's DELETE fires the row triggers)")
    with Session(registry) as session:
        assert session.exec(select(m.PlanMemo)).first() is not None
    with registry.begin() as connection:
        connection.exec_driver_sql("TRUNCATE planoverride")
    with Session(registry) as session:
        assert session.exec(select(m.PlanMemo)).first() is None
