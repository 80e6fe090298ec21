"""Rows inserted straight through the driver (``db.bulk_rows.insert_plain``: an executemany on
SQLite, COPY on PostgreSQL) are stored exactly as ``sa.insert`` stores the same values: dates,
aware instants given in another zone, booleans, enums, NULLs, the columns' own defaults."""

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from surveil.core.vocab import ItemState
from surveil.db import models as m
from surveil.db.bulk_rows import insert_dicts, insert_plain, new_ids, table_of
from surveil.demo import generate as demo

TODAY = dt.date(2026, 6, 1)
NOW = dt.datetime(2026, 6, 1, 8, 30, tzinfo=dt.UTC)
PARIS = dt.timezone(dt.timedelta(hours=2))


def _item(patient_id: int, n: int) -> dict[str, Any]:
    day = TODAY + dt.timedelta(days=n)
    return {
        "patient_id": patient_id,
        "kind": "mri" if n % 2 else "cga",
        "region": None if n % 3 else "pancreas",
        "earliest": day,
        "target": day + dt.timedelta(days=10),
        "latest": day + dt.timedelta(days=20),
        "rule_id": f"rule-{n}",
        "pack_id": "net-default",
        "pack_version": "2026.1",
        "profile": "standard",
        "source": "ENETS 2023",
        "evidence": "guideline",
        "anchor_event": "resection",
        "anchor_date": None if n % 4 else day - dt.timedelta(days=400),
        "reason": f"reason «{n}»",
        "urgent": n % 5 == 0,
    }


def _stored(session: Session, table: sa.Table, ids: list[int]) -> list[tuple[Any, ...]]:
    columns = [c for c in table.c if c.name != "id"]
    query = sa.select(*columns).where(table.c.id.in_(ids)).order_by(table.c.id)
    return [tuple(row) for row in session.execute(query)]


@pytest.fixture
def patient_ids(engine: sa.Engine) -> list[int]:
    clinic = "Neuroendocrine Tumour Clinic"
    demo.generate_demo(
        engine, patients=3, seed=3, clinic=clinic, timezone="Europe/London", today=TODAY, now=NOW
    )
    with Session(engine) as session:
        patients = table_of(m.Patient)
        return list(session.execute(sa.select(patients.c.id).order_by(patients.c.id)).scalars())


def test_plain_rows_are_stored_as_sa_insert_stores_them(
    engine: sa.Engine, patient_ids: list[int]
) -> None:
    table = table_of(m.FollowUpItem)
    rows = [_item(patient_ids[n % len(patient_ids)], n) for n in range(12)]
    columns = tuple(rows[0])
    at = NOW.astimezone(PARIS)  # stored as UTC either way
    same = {"state": ItemState.PLANNED, "sequence": 0, "created_at": at, "updated_at": at}
    with Session(engine) as session:
        ids = new_ids(session, table, 2 * len(rows))
        session.execute(
            sa.insert(table),
            [{"id": i, **row, **same} for i, row in zip(ids, rows, strict=False)],
        )
        plain = [(i, *row.values()) for i, row in zip(ids[len(rows) :], rows, strict=True)]
        insert_plain(session, table, ("id", *columns), plain, constants=same)
        session.commit()
        by_sa, by_plain = (
            _stored(session, table, ids[: len(rows)]),
            _stored(session, table, ids[len(rows) :]),
        )
    assert len(by_plain) == len(rows)
    assert by_plain == by_sa
    # the defaults not given (notes, snooze reason) are the model's, as sa.insert fills them in
    assert {row[columns.index("reason") + 1] for row in by_plain} != {""}


def test_dicts_are_taken_by_name_and_must_name_the_same_columns(engine: sa.Engine) -> None:
    table = table_of(m.AuditEvent)
    first = {"actor": "ann", "action": "x.one", "detail": "a", "channel": "cli"}
    second = {"channel": "web", "detail": "b", "action": "x.two", "actor": "bob"}  # other order
    with Session(engine) as session:
        insert_dicts(session, table, [first, second], constants={"at": NOW})
        stored = session.execute(
            sa.select(table.c.actor, table.c.action, table.c.detail, table.c.channel).order_by(
                table.c.id
            )
        ).all()
        assert [tuple(r) for r in stored[-2:]] == [
            ("ann", "x.one", "a", "cli"),
            ("bob", "x.two", "b", "web"),
        ]
        with pytest.raises(ValueError, match="same columns"):
            insert_dicts(session, table, [first, {"actor": "c", "action": "y"}])
        session.rollback()
