"""The facts read straight from the driver give the rows SQLAlchemy's own reads give."""

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from surveil.db import models as m
from surveil.db import queries
from surveil.db.driver_rows import ChunkQuery
from surveil.demo.generate import generate_demo

QUERIES = {
    name: getattr(queries, name)
    for name in (
        "_TUMOUR",
        "_STATE",
        "_MARKER",
        "_THERAPY",
        "_SYMPTOM",
        "_PATHOLOGY",
        "_MEASUREMENT",
        "_DONE",
    )
}


@pytest.fixture
def registry(engine: sa.Engine) -> list[int]:
    generate_demo(
        engine,
        patients=40,
        seed=3,
        clinic="Test Clinic",
        timezone="Europe/London",
        today=dt.date(2026, 12, 5),
        now=dt.datetime(2026, 12, 5, 12, tzinfo=dt.UTC),
    )
    with Session(engine) as session:
        return sorted(pid for pid in session.execute(sa.select(m.Patient.id)).scalars() if pid)


def _through_sqlalchemy(session: Session, query: ChunkQuery, ids: list[int]) -> list[tuple[Any]]:
    statement = query.statement.where(query.patient_id.in_(ids))
    return [tuple(row) for row in session.execute(statement)]


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_same_rows_and_types_as_sqlalchemy(
    engine: sa.Engine, registry: list[int], name: str
) -> None:
    query = QUERIES[name]
    some = [*registry[::3], 10_000_000]  # a chunk with a missing patient too
    with Session(engine) as session:
        expected = _through_sqlalchemy(session, query, some)
        got = [tuple(row) for row in query.rows(session, some, chunk=7)]  # several chunks
    assert expected, "the demo wrote no rows for this table"
    key = repr
    assert sorted(got, key=key) == sorted(expected, key=key)
    for mine, theirs in zip(sorted(got, key=key), sorted(expected, key=key), strict=True):
        assert [type(v) for v in mine] == [type(v) for v in theirs]


def test_reads_what_the_transaction_has_not_committed(
    engine: sa.Engine, registry: list[int]
) -> None:
    pid = registry[0]
    with Session(engine) as session:
        before = len(queries._SYMPTOM.rows(session, [pid]))
        session.add(m.Symptom(patient_id=pid, date=dt.date(2024, 2, 29), description="flushing"))
        rows = queries._SYMPTOM.rows(session, [pid])  # pending: flushed first
        session.rollback()
    assert len(rows) == before + 1
    assert (pid, dt.date(2024, 2, 29), "flushing") in [tuple(row) for row in rows]


def test_null_dates_and_flags_stay_none(engine: sa.Engine, registry: list[int]) -> None:
    with Session(engine) as session:
        rows = queries._THERAPY.rows(session, registry)
        tumours = queries._TUMOUR.rows(session, registry)
    assert any(row[4] is None for row in rows)  # an ongoing therapy has no end date
    assert all(row[4] is None or isinstance(row[4], dt.date) for row in rows)
    assert all(row[-1] in (None, True, False) for row in tumours)
