"""A registry with two patients and a real MLLP listener on a loopback port, in a thread."""

import asyncio
import contextlib
import datetime as dt
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from surveil.config import DatabaseSettings, Hl7Settings, Settings
from surveil.hl7.listener import Listener, serve
from surveil.hl7.sender import messages_in, send
from tests.daemon.seed import add_item, add_patient

SAMPLES = Path(__file__).parent.parent / "data" / "hl7"


def hl7_settings(db_url: str) -> Settings:
    return Settings(
        database=DatabaseSettings(url=db_url),
        hl7=Hl7Settings(
            identifier_authority="HOSP",
            local_codes="LCGA=cga",
            appointment_types="MRI=mri, CGA=cga",
        ),
    )


@dataclass(frozen=True)
class World:
    ann: int  # MRN 100001, an open CgA item and an open MRI item
    bob: int  # MRN 100002, an open MRI item
    cga_item: int
    mri_item: int


def seed(engine: sa.Engine) -> World:
    today = dt.datetime.now(dt.UTC).date()
    with Session(engine) as session:
        ann = add_patient(session, "100001")
        bob = add_patient(session, "100002", given_name="Bob", family_name="Brown")
        cga = add_item(session, ann, today - dt.timedelta(days=20), kind="cga")
        mri = add_item(session, ann, today - dt.timedelta(days=10), kind="mri")
        add_item(session, bob, today - dt.timedelta(days=10), kind="mri")
        session.commit()
        assert ann.id and bob.id and cga.id and mri.id
        return World(ann.id, bob.id, cga.id, mri.id)


@pytest.fixture
def world(engine: sa.Engine) -> World:
    return seed(engine)


@dataclass
class Running:
    port: int
    listener: Listener

    def send_file(self, name: str) -> list[str]:
        return send("127.0.0.1", self.port, messages_in(SAMPLES / name))

    def send_raw(self, *messages: bytes) -> list[str]:
        return send("127.0.0.1", self.port, list(messages))


@pytest.fixture
def running(engine: sa.Engine, db_url: str) -> Iterator[Running]:
    """A listener serving on an ephemeral loopback port until the test ends."""
    with serving(Listener(engine, hl7_settings(db_url))) as started:
        yield started


@contextlib.contextmanager
def serving(listener: Listener) -> Iterator[Running]:
    """``listener`` serving on an ephemeral loopback port, in a thread, until the block ends."""
    loop = asyncio.new_event_loop()
    bound: list[int] = []
    ready = threading.Event()

    def on_ready(port: int) -> None:
        bound.append(port)
        ready.set()

    task = loop.create_task(serve(listener, "127.0.0.1", 0, on_ready))

    def run() -> None:
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(task)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10), "the listener did not start"
    try:
        yield Running(bound[0], listener)
    finally:
        loop.call_soon_threadsafe(task.cancel)
        thread.join(10)
        loop.close()
