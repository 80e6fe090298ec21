"""Real ``surveil hl7 listen`` processes: a SIGKILL right after the message is stored and
applied (before its ACK) and right after its ACK (before the triggers and replan) loses nothing
and applies nothing twice; a message stored but never applied is applied on the next start; two
listeners on one PostgreSQL database apply each message once."""

import socket
import threading
import time

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from surveil.config import ClinicSettings
from surveil.core.vocab import Channel
from surveil.db import models as m
from surveil.db.hl7 import Hl7Message
from surveil.hl7.mllp import frame
from surveil.hl7.sender import ack_code, messages_in, send
from surveil.services.actor import Actor
from surveil.services.hl7 import store
from tests.hl7.conftest import SAMPLES
from tests.hl7.processes import kill_9, listener_process

CGA = messages_in(SAMPLES / "oru_cga.hl7")[0]
CLINIC = ClinicSettings().name


def _state(engine: sa.Engine) -> tuple[list[str], int]:
    with Session(engine) as session:
        states = [r.state for r in session.exec(select(Hl7Message).order_by(Hl7Message.id))]
        markers = len(session.exec(select(m.MarkerResult)).all())
        return states, markers


def _refresh_due(engine: sa.Engine) -> list[bool]:
    with Session(engine) as session:
        return [r.refresh_due for r in session.exec(select(Hl7Message).order_by(Hl7Message.id))]


def _refreshes(engine: sa.Engine) -> int:
    with Session(engine) as session:
        query = select(m.AuditEvent).where(m.AuditEvent.action == "hl7.refreshed")
        return len(session.exec(query).all())


def _wait_for(engine: sa.Engine, state: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if _state(engine)[0] == [state]:
            return
        time.sleep(0.05)
    raise AssertionError(f"the message never reached {state}: {_state(engine)}")


@pytest.mark.usefixtures("world")
def test_sigkill_after_the_commit_before_the_ack_loses_nothing_and_applies_nothing_twice(
    engine: sa.Engine, db_url: str
) -> None:
    with (
        listener_process(db_url, "after_persist") as (process, port),
        socket.create_connection(("127.0.0.1", port), timeout=30) as connection,
    ):
        connection.sendall(frame(CGA))
        _wait_for(engine, "applied")  # stored and applied in one commit
        kill_9(process)
        assert connection.recv(65536) == b""  # killed before any ACK was sent
    assert _state(engine) == (["applied"], 1)
    assert _refresh_due(engine) == [True]  # triggers and replan had not run
    with listener_process(db_url) as (_, port):  # a new listener runs what was left
        assert _refresh_due(engine) == [False] and _refreshes(engine) == 1
        [ack] = send("127.0.0.1", port, [CGA])  # the interface engine resends: no ACK came
    assert ack_code(ack) == "AA"
    assert _state(engine) == (["applied"], 1)
    assert _refreshes(engine) == 1  # the resend changed nothing, refreshed nothing


@pytest.mark.usefixtures("world")
def test_sigkill_after_the_ack_before_the_refresh_leaves_it_to_the_next_listener(
    engine: sa.Engine, db_url: str
) -> None:
    with listener_process(db_url, "before_refresh") as (process, port):
        [ack] = send("127.0.0.1", port, [CGA])
        assert ack_code(ack) == "AA"
        time.sleep(0.5)  # past the coalescing window: the refresher waits at its pause
        kill_9(process)
    assert _state(engine) == (["applied"], 1) and _refresh_due(engine) == [True]
    assert _refreshes(engine) == 0
    with listener_process(db_url):
        assert _refresh_due(engine) == [False] and _refreshes(engine) == 1
    assert _state(engine) == (["applied"], 1)


@pytest.mark.usefixtures("world")
def test_a_message_stored_but_never_applied_is_applied_by_the_next_listener(
    engine: sa.Engine, db_url: str
) -> None:
    # What ``store.receive`` leaves when the application failed on surveil's side (or a
    # listener of the two-step kind was killed between its two commits).
    store.receive(engine, actor=Actor.system(Channel.HL7, clinic=CLINIC), raw=CGA)
    assert _state(engine) == (["received"], 0)
    with listener_process(db_url) as (_, port):
        assert _state(engine) == (["applied"], 1) and _refresh_due(engine) == [False]
        [ack] = send("127.0.0.1", port, [CGA])
    assert ack_code(ack) == "AA"
    assert _state(engine) == (["applied"], 1)


@pytest.mark.postgres
@pytest.mark.usefixtures("world")
def test_two_listeners_on_postgres_apply_each_message_once(engine: sa.Engine, db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("several listeners share a PostgreSQL database; SQLite has one")
    gastrin = messages_in(SAMPLES / "oru_gastrin.hl7")[0]
    batch = [gastrin.replace(b"ORU0004", f"G{i:04d}".encode()) for i in range(40)]
    acks: list[str] = []
    with listener_process(db_url) as (_, one), listener_process(db_url) as (_, two):
        # Every message goes to both listeners at the same time, as two engines might.
        threads = [
            threading.Thread(target=lambda p=port: acks.extend(send("127.0.0.1", p, batch)))
            for port in (one, two)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    assert len(acks) == 80 and {ack_code(a) for a in acks} == {"AA"}
    states, markers = _state(engine)
    assert states == ["applied"] * 40 and markers == 40
