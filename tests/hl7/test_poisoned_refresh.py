"""A patient whose refresh fails does not hold back the burst, nor is retried forever.

The poison is real: an active plan override whose modality the planner does not know (the
column has no CHECK; a row written by hand or by an older version), so every replan of that
patient raises. The results are sent over a real socket to the real listener; the other
patients of the burst are refreshed, the poisoned one's messages are retried with a growing
wait, then wait in the navigators' queue, the result kept, until a navigator re-runs them."""

import datetime as dt
import time

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.config import DatabaseSettings, Settings
from surveil.core.vocab import Channel
from surveil.db import models as m
from surveil.db.hl7 import Hl7Message
from surveil.demo.generate import generate_demo
from surveil.errors import InvalidInput
from surveil.hl7.listener import Listener
from surveil.hl7.sender import ack_code
from surveil.services.actor import Actor
from surveil.services.hl7 import queue, refresh
from surveil.services.planning import care
from tests.hl7.conftest import serving


def _oru(control: str, mrn: str, value: float, day: dt.date) -> bytes:
    stamp = day.strftime("%Y%m%d")
    return (
        "\r".join(
            [
                f"MSH|^~\\&|LAB|HOSP|SURVEIL|NET|{stamp}0900||ORU^R01^ORU_R01|{control}|P|2.5.1",
                f"PID|1||{mrn}^^^HOSP^MR||Demo^Patient||19600101|F",
                f"OBR|1|ORD{control}||9811-1^Chromogranin A^LN|||{stamp}0800",
                f"OBX|1|NM|9811-1^Chromogranin A^LN||{value:g}|ug/L|0-100|H|||F|||{stamp}0800",
            ]
        ).encode()
        + b"\r"
    )


class Registry:
    """Demo patients (real tumours, plans, items); ten of the clinic get results, the fourth
    of them poisoned."""

    def __init__(self, engine: sa.Engine, db_url: str) -> None:
        self.engine = engine
        self.settings = Settings(database=DatabaseSettings(url=db_url))
        self.now = dt.datetime.now(dt.UTC)
        clinic = self.settings.clinic
        generate_demo(
            engine,
            patients=16,
            seed=5,
            clinic=clinic.name,
            timezone=clinic.timezone,
            today=self.now.date(),
            now=self.now,
        )
        with Session(engine) as session:
            mine = select(m.Patient).where(m.Patient.clinic == clinic.name)
            patients = list(session.exec(mine.order_by(col(m.Patient.id))))[:10]
            self.mrns = [p.mrn for p in patients]
            self.poisoned = patients[3].id or 0
            override = m.PlanOverride(
                patient_id=self.poisoned, kind="ct", modality="xray", reason="old", author="x"
            )
            session.add(override)
            session.commit()
            self.override = override.id
        self.navigator = Actor(
            username="nina", role="navigator", clinic=clinic.name, channel=Channel.CLI, os_user="o"
        )

    def burst(self) -> list[bytes]:
        """A result for each patient, the poisoned one twice."""
        day = self.now.date()
        mrns = [*self.mrns, self.mrns[3]]
        return [_oru(f"P{i:04d}", mrn, 60 + 90 * i, day) for i, mrn in enumerate(mrns)]

    def messages(self) -> list[Hl7Message]:
        with Session(self.engine) as session:
            return list(session.exec(select(Hl7Message).order_by(col(Hl7Message.id))))

    def audit(self, action: str) -> list[m.AuditEvent]:
        with Session(self.engine) as session:
            query = select(m.AuditEvent).where(m.AuditEvent.action == action)
            return list(session.exec(query.order_by(col(m.AuditEvent.id))))

    def refresh_at(self, now: dt.datetime) -> int:
        return refresh.refresh_due(
            self.engine,
            actor=Actor.system(Channel.HL7, clinic=self.settings.clinic.name),
            settings=self.settings,
            today=self.now.date(),
            now=now,
        )


def test_a_poisoned_patient_is_isolated_retried_with_backoff_then_queued_and_retried_by_hand(
    engine: sa.Engine, db_url: str
) -> None:
    world = Registry(engine, db_url)
    listener = Listener(engine, world.settings)
    listener.coalesce_seconds = 30  # only the explicit settle below refreshes
    with serving(listener) as running:
        acks = running.send_raw(*world.burst())
        assert {ack_code(a) for a in acks} == {"AA"}  # stored and applied: the results are kept
        assert listener.settle() == 9  # everyone's but the poisoned patient's two
    poisoned = [r for r in world.messages() if r.patient_id == world.poisoned]
    others = [r for r in world.messages() if r.patient_id != world.poisoned]
    assert len(poisoned) == 2 and len(others) == 9
    assert not any(r.refresh_due for r in others)
    assert all(r.refresh_due and r.refresh_attempts == 1 for r in poisoned)
    assert all(r.refresh_retry_at and r.refresh_retry_at > world.now for r in poisoned)
    [refreshed] = world.audit("hl7.refreshed")
    assert (
        "for 9 patient(s) after 9" in refreshed.detail and "1 patient(s) failed" in refreshed.detail
    )

    # Before its retry time nothing runs; at each retry it fails again, the wait doubling.
    assert world.refresh_at(dt.datetime.now(dt.UTC)) == 0
    # (Stopping, the first listener refreshes once more: a retry already due runs then too.)
    before = max(r.refresh_attempts for r in world.messages() if r.patient_id == world.poisoned)
    assert before in (1, 2)
    for attempt in range(2, refresh.MAX_ATTEMPTS + 1):
        retry_at = refresh.next_retry(engine)
        assert retry_at is not None
        at = retry_at + dt.timedelta(seconds=1)
        assert world.refresh_at(at) == 0
        rows = [r for r in world.messages() if r.patient_id == world.poisoned]
        assert [r.refresh_attempts for r in rows] == [attempt, attempt]
        if attempt < refresh.MAX_ATTEMPTS:
            wait = refresh.BACKOFF * 2 ** (attempt - 1)
            assert [r.refresh_retry_at for r in rows] == [at + wait, at + wait]
    assert refresh.next_retry(engine) is None  # nothing waits to be retried: it is queued

    rows = [r for r in world.messages() if r.patient_id == world.poisoned]
    assert {r.state for r in rows} == {"refresh_failed"} and not any(r.refresh_due for r in rows)
    assert len(world.audit("hl7.refresh_failed")) == 2
    entries = queue.list_queue(engine, actor=world.navigator)
    assert [e.id for e in entries] == [r.id for r in rows]
    assert "'xray' is not a valid ItemKind" in entries[0].reason
    assert "the result is stored" in entries[0].reason
    with Session(engine) as session:  # nothing dropped: both results are stored
        markers = session.exec(
            select(m.MarkerResult).where(m.MarkerResult.patient_id == world.poisoned)
        ).all()
        assert {330.0, 960.0} <= {r.value for r in markers}

    # A navigator's retry is refused while the cause is there, and writes nothing.
    first = rows[0].id or 0
    with pytest.raises(InvalidInput, match="still cannot be re-run"):
        queue.apply_queued(
            engine,
            actor=world.navigator,
            message_id=first,
            patient_id=None,
            settings=world.settings,
            today=world.now.date(),
        )
    assert _state(world, first) == "refresh_failed"
    with Session(engine) as session:  # the cause fixed: the override names a known scan
        session.execute(
            sa.update(m.PlanOverride)
            .where(col(m.PlanOverride.id) == world.override)
            .values(modality="mri")
        )
        session.commit()
    words = queue.apply_queued(
        engine,
        actor=world.navigator,
        message_id=first,
        patient_id=None,
        settings=world.settings,
        today=world.now.date(),
    )
    assert words == f"message {first}: triggers and plan re-run"
    assert _state(world, first) == "applied"
    assert [r.id for r in queue.list_queue(engine, actor=world.navigator)] == [rows[1].id]
    by_hand = world.audit("hl7.refreshed")[-1]
    assert (by_hand.actor, by_hand.subject) == ("nina", f"hl7:{first}")
    with Session(engine) as session:  # the re-run did all of it: nothing is left to do
        patient = session.get(m.Patient, world.poisoned)
        assert patient is not None
        again = care.refresh_patient(
            session,
            patient=patient,
            settings=world.settings,
            today=world.now.date(),
            channel=Channel.HL7,
        )
        assert again.new_triggers == []


def _state(world: Registry, message_id: int) -> str:
    return next(r.state for r in world.messages() if r.id == message_id)


def test_the_listeners_refresher_retries_on_its_own_then_queues_the_poisoned_results(
    engine: sa.Engine, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A short wait, so the refresher's own retries (woken by the time, no new result) fit a test.
    monkeypatch.setattr(refresh, "BACKOFF", dt.timedelta(seconds=0.1))
    world = Registry(engine, db_url)
    listener = Listener(engine, world.settings)
    listener.coalesce_seconds = 0.05
    with serving(listener) as running:
        acks = running.send_raw(*world.burst())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            states = {r.state for r in world.messages() if r.patient_id == world.poisoned}
            if states == {"refresh_failed"}:
                break
            time.sleep(0.2)
    assert {ack_code(a) for a in acks} == {"AA"}
    rows = world.messages()
    assert {r.state for r in rows if r.patient_id == world.poisoned} == {"refresh_failed"}
    assert {r.state for r in rows if r.patient_id != world.poisoned} == {"applied"}
    assert not any(r.refresh_due for r in rows)
    assert all(r.refresh_attempts == refresh.MAX_ATTEMPTS for r in rows if r.state != "applied")


def test_a_listener_started_while_a_retry_waits_runs_it_when_its_time_comes(
    engine: sa.Engine, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(refresh, "BACKOFF", dt.timedelta(seconds=2))
    world = Registry(engine, db_url)
    first = Listener(engine, world.settings)
    first.coalesce_seconds = 30  # this one refreshes only when told
    with serving(first) as running:
        running.send_raw(*world.burst())
        assert first.settle() == 9
    # (Stopping, the first listener refreshes once more: a retry already due runs then too.)
    before = max(r.refresh_attempts for r in world.messages() if r.patient_id == world.poisoned)
    assert before in (1, 2)
    # The next listener gets no new result: its refresher retries when the wait is over.
    with serving(Listener(engine, world.settings)):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            rows = [r for r in world.messages() if r.patient_id == world.poisoned]
            if all(r.refresh_attempts > before for r in rows):
                break
            time.sleep(0.2)
    assert all(r.refresh_attempts > before for r in rows)
