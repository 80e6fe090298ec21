"""A protocol activation dated later is applied by the daemon's leader on that day, by itself:
the clinic is replanned with the reason "protocol 2027.1 activated", audited on the daemon
channel, exactly once (a second round, a second daemon, or two claims racing on PostgreSQL
apply nothing more), and ``schedules history`` shows it pending, then applied."""

import dataclasses
import datetime as dt
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.config import PathSettings, Settings
from surveil.core.zones import today_in
from surveil.daemon import Daemon
from surveil.db import models as m
from surveil.db.engine import make_engine
from surveil.db.protocol_models import ProtocolActivation
from surveil.errors import ConfigError
from surveil.resources import resource_dir
from surveil.services.actor import Actor
from surveil.services.planning.replan import replan_every_patient
from surveil.services.registry import patients as registry
from surveil.services.registry.patients import PatientInput, TumourInput
from surveil.services.rollout import activation, scheduled
from surveil.services.users import accounts
from surveil.transports.log import LogTransport
from tests.daemon.seed import settings_for

CLINIC = "St Elsewhere Hospital"  # settings_for's clinic
NOW = dt.datetime(2027, 1, 4, 9, 0, tzinfo=dt.UTC)
TODAY = today_in("Europe/London", NOW)
ON = TODAY + dt.timedelta(days=10)

COVERED = frozenset({"surveil.services.rollout.scheduled.apply_due_activations"})


@pytest.fixture
def world(db_url: str) -> Iterator[tuple[sa.Engine, Settings]]:
    """A rectal NET 1-2 cm (moves under 2027.1) in this clinic, one in another clinic, planned
    under the baseline 2026.1; and a clinician who approves."""
    engine = make_engine(db_url)
    settings = settings_for(db_url, email_channel="log")
    with Session(engine, expire_on_commit=False) as session:
        accounts.add_user(
            session, username="dr.ada", display_name=None, role="clinician", clinic=CLINIC,
            password="a long enough passphrase 15",
        )  # fmt: skip
        for mrn, clinic in (("R15", CLINIC), ("X15", "Elsewhere")):
            registry.enrol_patient(
                session,
                clinic=clinic,
                data=PatientInput(
                    mrn=mrn, given_name="Ada", family_name="Lovelace", birth_date="1962-03-14"
                ),
                tumour=TumourInput(
                    site="rectum", ki67="1", size_mm="15", diagnosed_on="2026-08-01"
                ),
                state_kind="resected",
                since="2026-08-01",
                resection="R0",
                today=TODAY,
            )
        session.commit()
    replan_every_patient(engine, actor=Actor.system(), settings=settings, today=TODAY)
    yield engine, settings
    engine.dispose()


def versions(engine: sa.Engine) -> dict[str, set[str]]:
    with Session(engine) as session:
        rows = session.exec(
            select(m.Patient.mrn, m.FollowUpItem.pack_version)
            .join(m.FollowUpItem, col(m.FollowUpItem.patient_id) == m.Patient.id)
            .where(m.FollowUpItem.state == "planned")
        ).all()
    out: dict[str, set[str]] = {}
    for mrn, version in rows:
        out.setdefault(mrn, set()).add(version)
    return out


def events(engine: sa.Engine, action: str) -> list[m.AuditEvent]:
    with Session(engine) as session:
        query = select(m.AuditEvent).where(m.AuditEvent.action == action)
        return list(session.exec(query.order_by(col(m.AuditEvent.id))).all())


def daemon_at(
    engine: sa.Engine, settings: Settings, when: dt.datetime, worker: str = "d1"
) -> Daemon:
    return Daemon(
        settings, engine=engine, transports={"email": LogTransport(), "sms": LogTransport()},
        worker=worker, clock=lambda: when,
    )  # fmt: skip


def activate_later(engine: sa.Engine, settings: Settings) -> None:
    done = activation.activate_protocol(
        engine, actor=Actor.system(clinic=CLINIC), settings=settings, version="2027.1",
        approved_by="dr.ada", effective_on=ON, today=TODAY,
    )  # fmt: skip
    assert done.replanned is None


def test_the_daemon_applies_a_dated_activation_on_its_day_once(
    world: tuple[sa.Engine, Settings],
) -> None:
    engine, settings = world
    activate_later(engine, settings)
    assert activation.activation_log(engine, settings=settings)[0]["status"] == "pending"

    eve = dt.datetime.combine(ON, dt.time(12), dt.UTC) - dt.timedelta(days=1)
    daemon = daemon_at(engine, settings, eve)
    assert daemon.run_once()["protocol"] == 0  # the day before: nothing yet
    daemon.close()
    assert versions(engine) == {"R15": {"2026.1"}, "X15": {"2026.1"}}
    assert events(engine, "protocol.applied") == []

    day = dt.datetime.combine(ON, dt.time(0, 30), dt.UTC)  # 00:30 London in winter: the day
    daemon = daemon_at(engine, settings, day)
    assert daemon.run_once()["protocol"] == 1
    assert daemon.run_once()["protocol"] == 0  # applied once: the next round does nothing
    daemon.close()
    # Only this clinic's patients move; the other clinic plans with its own protocol.
    assert versions(engine) == {"R15": {"2027.1"}, "X15": {"2026.1"}}
    [applied] = events(engine, "protocol.applied")
    assert (applied.actor, applied.channel) == ("system", "daemon")
    assert "protocol 2027.1 activated" in applied.detail
    [patient] = [e for e in events(engine, "plan.replanned") if "2027.1 activated" in e.detail]
    assert patient.channel == "daemon" and patient.patient_id is not None
    [run] = [e for e in events(engine, "plan.replanned_all") if "2027.1" in e.detail]
    assert run.detail.startswith("protocol 2027.1 activated: 1 patient(s), 1 changed")
    status = activation.activation_log(engine, settings=settings)[0]["status"]
    assert status == f"applied {day:%Y-%m-%d %H:%M} UTC by d1"

    # Another daemon, taking over later (the first's lease ran out), applies nothing again.
    later = day + dt.timedelta(hours=2)
    other = daemon_at(engine, settings, later, worker="d2")
    assert other.run_once()["protocol"] == 0
    other.close()
    assert len(events(engine, "protocol.applied")) == 1


def test_a_rollback_dated_later_is_applied_with_its_reason(
    world: tuple[sa.Engine, Settings],
) -> None:
    engine, settings = world
    activation.activate_protocol(
        engine, actor=Actor.system(clinic=CLINIC), settings=settings, version="2027.1",
        approved_by="dr.ada", effective_on=TODAY, today=TODAY,
    )  # fmt: skip
    assert versions(engine)["R15"] == {"2027.1"}
    # In force today: applied by the command itself, not pending.
    assert activation.activation_log(engine, settings=settings)[0]["status"].startswith("applied")
    activation.rollback_protocol(
        engine, actor=Actor.system(clinic=CLINIC), settings=settings, approved_by="dr.ada",
        today=TODAY, effective_on=ON,
    )  # fmt: skip
    daemon = daemon_at(engine, settings, dt.datetime.combine(ON, dt.time(10), dt.UTC))
    assert daemon.run_once()["protocol"] == 1
    daemon.close()
    assert versions(engine)["R15"] == {"2026.1"}
    [applied] = events(engine, "protocol.applied")
    assert "protocol 2026.1 restored (rollback of 2027.1)" in applied.detail


def test_a_daemon_that_does_not_lead_applies_nothing(world: tuple[sa.Engine, Settings]) -> None:
    engine, settings = world
    activate_later(engine, settings)
    day = dt.datetime.combine(ON, dt.time(10), dt.UTC)
    leader = daemon_at(engine, settings, day, worker="lead")
    assert leader.lead(day)
    follower = daemon_at(engine, settings, day, worker="follow")
    assert follower.protocol_job() == 0  # the lease is held by "lead"
    assert versions(engine)["R15"] == {"2026.1"}
    assert leader.protocol_job() == 1
    leader.close()
    follower.close()


@pytest.mark.postgres
def test_two_claims_racing_on_postgres_apply_once(world: tuple[sa.Engine, Settings]) -> None:
    """Two transactions claiming the same pending row (two daemons that both believed they
    led, a paused one and its successor): the second waits for the first, then claims nothing."""
    engine, settings = world
    if engine.dialect.name != "postgresql":
        pytest.skip("the row-lock race exists only with several daemons: PostgreSQL")
    activate_later(engine, settings)
    day = dt.datetime.combine(ON, dt.time(10), dt.UTC)
    first = Session(engine)
    claimed_first = scheduled._claim_due(first, settings, ON, day, worker="a")
    assert len(claimed_first) == 1  # holds the row lock, not yet committed
    second_claims: list[int] = []

    def second() -> None:
        with Session(engine) as session:
            second_claims.append(len(scheduled._claim_due(session, settings, ON, day, worker="b")))
            session.commit()

    racer = threading.Thread(target=second)
    racer.start()
    racer.join(timeout=1.0)
    assert racer.is_alive()  # blocked on the first claim's row lock
    first.commit()
    first.close()
    racer.join(timeout=10)
    assert second_claims == [0]
    with Session(engine) as session:
        row = session.exec(select(ProtocolActivation)).one()
    assert row.applied_by == "a"


def test_a_replan_that_fails_hands_the_claim_back(
    world: tuple[sa.Engine, Settings], tmp_path: Path
) -> None:
    """The day comes but the version is no longer shipped by this daemon's packs (a downgrade
    between the approval and the day): the replan fails, the claim is handed back (pending
    again), and a daemon with the packs applies it at its next round."""
    engine, settings = world
    activate_later(engine, settings)
    folder = tmp_path / "schedules"
    shutil.copytree(resource_dir("schedules"), folder)
    (folder / "net-default-2027.1.toml").unlink()
    old_packs = dataclasses.replace(settings, paths=PathSettings(schedules=folder))
    day = dt.datetime.combine(ON, dt.time(10), dt.UTC)
    broken = daemon_at(engine, old_packs, day, worker="old")
    with pytest.raises(ConfigError, match=r"2027\.1"):
        broken.protocol_job()
    broken.close()
    assert activation.activation_log(engine, settings=settings)[0]["status"] == "pending"
    assert versions(engine)["R15"] == {"2026.1"}
    fixed = daemon_at(engine, settings, day + dt.timedelta(minutes=15), worker="new")
    assert fixed.run_once()["protocol"] == 1
    fixed.close()
    assert versions(engine)["R15"] == {"2027.1"}
    assert activation.activation_log(engine, settings=settings)[0]["status"].endswith("by new")
