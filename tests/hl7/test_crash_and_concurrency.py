"""Real ``surveil hl7 listen`` processes: a SIGKILL right after the message is stored (before
it is applied and ACKed) and right after it is applied (before its ACK) loses nothing and
applies nothing twice; two listeners on one PostgreSQL database apply each message once."""

import socket
import threading
import time

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from surveil.db import models as m
from surveil.db.hl7 import Hl7Message
from surveil.hl7.mllp import frame
from surveil.hl7.sender import ack_code, messages_in, send
from tests.hl7.conftest import SAMPLES
from tests.hl7.processes import kill_9, listener_process

CGA = messages_in(SAMPLES / "oru_cga.hl7")[0]


def _state(engine: sa.Engine) -> tuple[list[str], int]:
    with Session(engine) as session:
        states = [r.state for r in session.exec(select(Hl7Message).order_by(Hl7Message.id))]
        markers = len(session.exec(select(m.MarkerResult)).all())
        return states, markers


def _wait_for(engine: sa.Engine, state: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if _state(engine)[0] == [state]:
            return
        time.sleep(0.05)
    raise AssertionError(f"the message never reached {state}: {_state(engine)}")


@pytest.mark.usefixtures("world")
@pytest.mark.parametrize(
    ("pause_at", "stored_as"), [("after_persist", "received"), ("after_apply", "applied")]
)
def test_sigkill_loses_nothing_and_applies_nothing_twice(
    engine: sa.Engine, db_url: str, pause_at: str, stored_as: str
) -> None:
    with (
        listener_process(db_url, pause_at) as (process, port),
        socket.create_connection(("127.0.0.1", port), timeout=30) as connection,
    ):
        connection.sendall(frame(CGA))
        _wait_for(engine, stored_as)
        kill_9(process)
        assert connection.recv(65536) == b""  # killed before any ACK was sent
    assert _state(engine) == ([stored_as], 1 if stored_as == "applied" else 0)
    with listener_process(db_url) as (_, port):  # a new listener applies what was stored
        assert _state(engine) == (["applied"], 1)
        [ack] = send("127.0.0.1", port, [CGA])  # the interface engine resends: no ACK came
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
