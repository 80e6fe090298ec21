"""`surveil replan --all --workers N`: a run split between processes on PostgreSQL plans every
patient exactly once, the same as one process does, and takes up a dead worker's range again;
SQLite refuses it with a clear message."""

import datetime as dt
import json
import multiprocessing
import os
import re
import signal
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from surveil.config import DatabaseSettings, Settings
from surveil.core.vocab import Channel
from surveil.db import migrate
from surveil.db import models as m
from surveil.db.engine import make_engine
from surveil.db.session import session_scope
from surveil.demo import generate as demo
from surveil.errors import InvalidInput
from surveil.services.actor import Actor
from surveil.services.planning import replan, replan_workers
from tests.conftest import PG_ADMIN_URL

TODAY = dt.date(2026, 12, 5)
NOW = dt.datetime(2026, 12, 5, 9, tzinfo=dt.UTC)
PATIENTS = 300
CHUNK = 25  # 12 ranges


def _fill(engine: sa.Engine) -> None:
    demo.generate_demo(
        engine,
        patients=PATIENTS,
        seed=19,
        clinic="Neuroendocrine Tumour Clinic",
        timezone="Europe/London",
        today=TODAY,
        now=NOW,
    )


@pytest.fixture
def pg_pair(pg_database: str) -> Iterator[tuple[str, str]]:  # noqa: ARG001 (skips without PG)
    """Two PostgreSQL databases holding the same 300 demo patients, not yet planned."""
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    names = [f"surveil_split_{os.getpid()}_{uuid.uuid4().hex[:6]}_{n}" for n in (1, 2)]
    urls = []
    for name in names:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        engine = make_engine(url)
        migrate.upgrade(engine)
        _fill(engine)
        engine.dispose()
        urls.append(url)
    yield urls[0], urls[1]
    with admin.connect() as connection:
        for name in names:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def _settings(url: str) -> Settings:
    return Settings(database=DatabaseSettings(url=url))


def _no_ids(text: object) -> str:
    """Trigger ids are handed out in the order the ranges finish, so they differ between runs:
    compared without them (``trigger #18``, ``trigger:18:recist``)."""
    return re.sub(r"#\d+|trigger:\d+", "#", str(text))


def _items(engine: sa.Engine) -> list[tuple[Any, ...]]:
    """Every stored item but its ids and timestamps, by patient MRN."""
    f, p = m.FollowUpItem.__table__, m.Patient.__table__  # type: ignore[attr-defined]
    columns = [c for c in f.c if c.name not in {"id", "patient_id", "created_at", "updated_at"}]
    query = sa.select(p.c.mrn, *columns).join(p, p.c.id == f.c.patient_id)
    with engine.connect() as connection:
        rows = [tuple(_no_ids(v) for v in row) for row in connection.execute(query)]
    return sorted(rows)


def _events(engine: sa.Engine, action: str) -> list[m.AuditEvent]:
    with Session(engine) as session:
        return list(session.exec(select(m.AuditEvent).where(m.AuditEvent.action == action)))


@pytest.mark.postgres
def test_two_workers_plan_every_patient_once_and_as_one_worker_does(
    pg_pair: tuple[str, str],
) -> None:
    split_url, single_url = pg_pair
    split, single = make_engine(split_url), make_engine(single_url)
    actor = Actor.system(channel=Channel.CLI)
    seen: list[tuple[int, int]] = []
    two = replan.replan_every_patient(
        split,
        actor=actor,
        settings=_settings(split_url),
        today=TODAY,
        chunk=CHUNK,
        workers=2,
        progress=lambda done, total: seen.append((done, total)),
    )
    one = replan.replan_every_patient(
        single, actor=actor, settings=_settings(single_url), today=TODAY, chunk=CHUNK
    )
    assert (two.patients, two.created, two.kept, two.superseded) == (
        one.patients,
        one.created,
        one.kept,
        one.superseded,
    )
    assert two.patients == PATIENTS and two.created > PATIENTS
    assert _items(split) == _items(single)
    assert seen[-1] == (PATIENTS, PATIENTS)

    # One run event, with the run's id; its ranges cover every patient once, each planned by
    # one worker (a range is marked done by the transaction that planned it).
    [event] = _events(split, "plan.replanned_all")
    assert f"{PATIENTS} patient(s)" in event.detail
    with Session(split) as session:
        ranges = list(session.exec(select(m.ReplanClaim).order_by(m.ReplanClaim.first_id)))
        ids = list(session.exec(select(m.Patient.id).order_by(m.Patient.id)))
    assert {r.run for r in ranges} == {json.loads(event.after or "")["run"]}
    assert all(r.done and r.worker for r in ranges) and len(ranges) == PATIENTS // CHUNK
    assert sum(r.patients for r in ranges) == PATIENTS
    assert [i for r in ranges for i in ids if r.first_id <= i <= r.last_id] == ids
    # The patients' own trail is the one a single process leaves.
    per_patient = sorted(
        (e.patient_id, _no_ids(e.detail)) for e in _events(split, "plan.replanned")
    )
    assert per_patient == sorted(
        (e.patient_id, _no_ids(e.detail)) for e in _events(single, "plan.replanned")
    )
    # One event per patient whose plan was made (the dead and discharged have none to make).
    assert len({pid for pid, _ in per_patient}) == len(per_patient) > PATIENTS * 0.8
    split.dispose()
    single.dispose()


def _claim_and_die(url: str, run: str, ready: Any) -> None:
    """A worker that claims the first range, plans it, and hangs before committing (then the
    test kills it): what a worker killed mid-range leaves behind."""
    engine = make_engine(url)
    actor = Actor.system(channel=Channel.CLI)
    settings = _settings(url)
    with session_scope(engine) as session:
        row = replan_workers.claim(session, run)
        assert row is not None
        ids = replan_workers.range_ids(session, actor, row[1], row[2])
        replan._replan_part(session, actor, ids, settings=settings, today=TODAY, why="test")
        ready.set()
        signal.pause()  # killed here, the transaction open


@pytest.mark.postgres
def test_a_dead_workers_range_is_planned_again(pg_pair: tuple[str, str]) -> None:
    url, _ = pg_pair
    engine = make_engine(url)
    actor = Actor.system(channel=Channel.CLI)
    with Session(engine) as session:
        ids = [i for i in session.exec(select(m.Patient.id).order_by(m.Patient.id)) if i]
    run = replan_workers.create_claims(engine, ids, CHUNK)
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    doomed = context.Process(target=_claim_and_die, args=(url, run, ready))
    doomed.start()
    assert ready.wait(120)
    planner = replan._planner(_settings(url), TODAY, "test")
    # While it holds its range, another worker skips it and plans the others.
    assert replan_workers.work(engine, run, actor, planner) == PATIENTS // CHUNK - 1
    os.kill(doomed.pid or 0, signal.SIGKILL)
    doomed.join()
    # Its transaction is rolled back, nothing of it kept; the range is taken up again.
    assert replan_workers.work(engine, run, actor, planner, wait=True) == 1
    with session_scope(engine) as session:
        total, _ = replan_workers.finish(session, run)
    assert total.patients == PATIENTS
    with Session(engine) as session:
        unplanned = session.exec(select(m.Patient).where(m.Patient.planned_at == None))  # noqa: E711
        assert list(unplanned) == []
    engine.dispose()


def test_sqlite_refuses_more_than_one_worker(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    with pytest.raises(InvalidInput) as refused:
        replan.replan_every_patient(
            engine,
            actor=Actor.system(channel=Channel.CLI),
            settings=_settings(sqlite_url),
            today=TODAY,
            workers=2,
        )
    assert refused.value.problems[0].field == "workers"
    assert "needs PostgreSQL" in str(refused.value)
    assert _events(engine, "plan.replanned_all") == []
    engine.dispose()
