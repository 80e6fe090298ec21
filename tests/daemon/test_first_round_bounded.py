"""The daemon's first round on a fresh SQLite registry (issue 19): reminders are planned in short
transactions, and a nurse signing in and opening pages meanwhile never meets "database is locked".

A 3,000-patient demo registry, planned; then the leader's first ``plan_due_reminders`` in one
thread while, through a real uvicorn on a loopback socket, a navigator signs in and opens the
worklist and patient pages over and over until the round is done. Every write transaction the
round opens is timed from BEGIN IMMEDIATE (when SQLite's write lock is taken) to COMMIT.
"""

import datetime as dt
import re
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
import uvicorn

from surveil.config import DatabaseSettings, Settings, WebSettings
from surveil.core.vocab import Channel
from surveil.db import migrate
from surveil.db.engine import make_engine
from surveil.demo import generate as demo
from surveil.services import leases
from surveil.services.actor import Actor
from surveil.services.leases import Fence
from surveil.services.planning.replan import replan_every_patient
from surveil.services.reminders import jobs
from surveil.web.app import create_app
from tests.web.seed import NO_TOTP, SECRET_KEY

PATIENTS = 3_000
TODAY = dt.date(2026, 12, 5)
NOW = dt.datetime(2026, 12, 5, 9, 30, tzinfo=dt.UTC)
LONGEST_WRITE_S = 0.5  # of the round's own CPU while it holds the lock (see _timed_writes)
LONGEST_WAIT_S = 5.0  # wall clock, however loaded the machine: far below the busy timeout


@pytest.fixture(scope="module")
def registry() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="surveil-first-round-") as folder:
        url = f"sqlite:///{Path(folder) / 'registry.db'}"
        engine = make_engine(url)
        migrate.upgrade(engine)
        demo.generate_demo(
            engine,
            patients=PATIENTS,
            seed=19,
            clinic="Neuroendocrine Tumour Clinic",
            timezone="Europe/London",
            today=TODAY,
            now=NOW,
        )
        settings = Settings(database=DatabaseSettings(url=url))
        replan_every_patient(
            engine, actor=Actor.system(channel=Channel.CLI), settings=settings, today=TODAY
        )
        engine.dispose()
        yield url


def _timed_writes(engine: sa.Engine) -> list[tuple[float, float]]:
    """For each write transaction on ``engine``, how long it held SQLite's lock (BEGIN
    IMMEDIATE→end): wall seconds, and the CPU seconds of the thread holding it. The CPU figure
    is the work done under the lock whatever else the machine runs (a shared 2-core machine
    under test load can stretch wall time several-fold); the wall figure guards against waits."""
    held: list[tuple[float, float]] = []
    began: dict[int, tuple[float, float]] = {}

    @sa.event.listens_for(engine, "begin")
    def _begin(connection: sa.Connection) -> None:
        began[id(connection)] = (time.perf_counter(), time.thread_time())

    def _end(connection: sa.Connection) -> None:
        start = began.pop(id(connection), None)
        if start is not None:
            held.append((time.perf_counter() - start[0], time.thread_time() - start[1]))

    sa.event.listen(engine, "commit", _end)
    sa.event.listen(engine, "rollback", _end)
    return held


def _serve(settings: Settings) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(5)


def _sign_in_and_browse(base: str, patient_ids: list[int]) -> list[int]:
    statuses = []
    with httpx.Client(base_url=base, timeout=60, follow_redirects=True) as client:
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        response = client.post(
            "/login",
            data={"username": "nurse", "password": "nurse-demo", "csrf_token": token.group(1)},
        )
        statuses.append(response.status_code)
        assert response.url.path != "/login", "the nurse was not signed in"
        for pid in patient_ids:
            statuses.append(client.get("/").status_code)
            statuses.append(client.get(f"/patients/{pid}").status_code)
    return statuses


def test_first_round_in_short_transactions_beside_the_web(registry: str) -> None:
    settings = Settings(
        database=DatabaseSettings(url=registry),
        security=NO_TOTP,
        web=WebSettings(secret_key=SECRET_KEY),
    )
    engine = make_engine(registry)
    with engine.connect() as connection:
        ids = list(connection.exec_driver_sql("SELECT id FROM patient ORDER BY id").scalars())
    epoch = leases.take_lead(engine, worker="w1", now=NOW, ttl_seconds=600)
    assert epoch is not None
    held = _timed_writes(engine)
    outcome: dict[str, object] = {}

    def first_round() -> None:
        try:
            outcome["added"] = jobs.plan_due_reminders(
                engine, actor=Actor.system(), fence=Fence("w1", epoch), settings=settings, now=NOW
            )
        except sa.exc.OperationalError as error:
            outcome["error"] = str(error)

    server = _serve(settings)
    base = next(server)
    daemon = threading.Thread(target=first_round)
    daemon.start()
    statuses: list[int] = []
    while daemon.is_alive() or not statuses:
        statuses += _sign_in_and_browse(base, ids[:: len(ids) // 5][:5])
    daemon.join()
    next(server, None)
    engine.dispose()

    assert "error" not in outcome, outcome.get("error")
    assert isinstance(outcome["added"], int) and outcome["added"] > 1_000
    assert set(statuses) == {200}, statuses  # the login redirect is followed to the worklist
    rounds = PATIENTS // jobs.PATIENTS_PER_TRANSACTION
    assert len(held) >= rounds  # one transaction per chunk of patients, not one for all
    walls, cpus = [wall for wall, _ in held], [cpu for _, cpu in held]
    assert max(cpus) < LONGEST_WRITE_S, sorted(cpus)[-5:]
    assert max(walls) < LONGEST_WAIT_S, sorted(walls)[-5:]
    print(f"{len(held)} write transactions, longest {max(walls):.3f} s ({max(cpus):.3f} s CPU)")
