"""One way in, for accounts and everything around the record: every entry point of the users,
feeds, reminders and worklist services, on SQLite and PostgreSQL.

Each is called once with valid input, and the audit rows it leaves are compared whole (action,
actor, channel, patient, record); then with invalid input, or as someone who may not, and every
table is compared before and after: a refused change leaves neither data nor audit.
"""

import datetime as dt
import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from sqlmodel import Session, SQLModel, select

from surveil.config import Settings, WebSettings
from surveil.core.vocab import Channel
from surveil.db import models as m
from surveil.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from surveil.services import leases
from surveil.services.actor import Actor
from surveil.services.entry import ENTRY_POINTS
from surveil.services.feeds import manage as feeds
from surveil.services.leases import Fence
from surveil.services.reminders import jobs, outbox
from surveil.services.users import accounts, admin, sessions
from surveil.services.worklist.sections import WorklistQuery
from surveil.services.worklist.views import export_worklist
from tests.daemon.seed import add_item, add_patient, settings_for
from tests.web.seed import PASSWORD, make_item, make_patient, make_reminder, make_user

COVERED: frozenset[str] = frozenset(
    f"surveil.services.{name}"
    for name in (
        "users.admin.add_account",
        "users.admin.add_first_admin",
        "users.admin.set_account_active",
        "users.sessions.log_in",
        "users.sessions.complete_login",
        "users.sessions.log_out",
        "users.sessions.record_refusal",
        "feeds.manage.issue_patient_feed",
        "feeds.manage.rotate_patient_feed",
        "feeds.manage.revoke_patient_feed",
        "feeds.manage.list_patient_feeds",
        "feeds.manage.retire_unneeded_feeds",
        "reminders.outbox.list_outbox",
        "reminders.outbox.retry_reminder",
        "reminders.jobs.plan_due_reminders",
        "reminders.jobs.queue_digests",
        "worklist.views.export_worklist",
    )
)
MODULES = ("users.admin", "users.sessions", "feeds.manage", "reminders.outbox",
           "reminders.jobs", "worklist.views")  # fmt: skip

NOW = dt.datetime(2026, 6, 10, 12, 0, tzinfo=dt.UTC)  # 13:00 in London, after the digest time
TODAY = NOW.date()
ADA = Actor(username="ada", role="admin", clinic="north", channel=Channel.CLI, os_user="ops")
NINA = Actor(username="nina", role="navigator", clinic="north", ip="10.0.0.7")
SAM = Actor(username="sam", role="navigator", clinic="south", ip="10.0.0.9")
BASE = "https://follow-up.example.org"
Row = tuple[str, str, str, int | None, str | None]  # action, actor, channel, patient, subject


@dataclass(frozen=True)
class World:
    north: int  # a patient of nina's clinic
    south: int  # a patient of sam's clinic
    nina: int  # her account id


@pytest.fixture
def world(engine: sa.Engine) -> World:
    with Session(engine) as session:
        for name, role, clinic in (("ada", "admin", "north"), ("nina", "navigator", "north"),
                                   ("sam", "navigator", "south")):  # fmt: skip
            make_user(session, name, role=role, clinic=clinic)
        north = make_patient(session, "N-1", clinic="north")
        south = make_patient(session, "S-1", clinic="south", family="Lindqvist")
        nina = session.exec(select(m.User).where(m.User.username == "nina")).one()
        session.commit()
        assert north.id and south.id and nina.id
        return World(north.id, south.id, nina.id)


def dump(engine: sa.Engine) -> dict[str, list[str]]:
    """Every row of every table, as text: the whole database, to compare before and after."""
    with engine.connect() as connection:
        return {
            table.name: sorted(repr(tuple(row)) for row in connection.execute(sa.select(table)))
            for table in SQLModel.metadata.sorted_tables
        }


@contextmanager
def nothing_written(engine: sa.Engine) -> Iterator[None]:
    before = dump(engine)
    yield
    assert dump(engine) == before


def audit_since(engine: sa.Engine, after: int) -> list[m.AuditEvent]:
    with Session(engine) as session:
        query = select(m.AuditEvent).where(m.AuditEvent.id > after).order_by(m.AuditEvent.id)
        return list(session.exec(query))


def last_audit(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(sa.select(sa.func.max(m.AuditEvent.id))).scalar() or 0


def rows_of(events: list[m.AuditEvent]) -> list[Row]:
    return [(e.action, e.actor, e.channel, e.patient_id, e.subject) for e in events]


@contextmanager
def audited(engine: sa.Engine, expected: list[Row]) -> Iterator[list[m.AuditEvent]]:
    """Exactly the ``expected`` audit rows appear during the block; the yielded list holds
    them once the block has run, for a closer look."""
    start = last_audit(engine)
    found: list[m.AuditEvent] = []
    yield found
    found += audit_since(engine, start)
    assert rows_of(found) == expected


def test_every_entry_point_of_these_services_is_covered_here() -> None:
    for module in MODULES:
        importlib.import_module(f"surveil.services.{module}")
    mine = {n for n in ENTRY_POINTS if n.rsplit(".", 1)[0].removeprefix("surveil.services.")
            in MODULES}  # fmt: skip
    assert mine == COVERED


# --------------------------------------------------------------------------- accounts


@pytest.mark.usefixtures("world")
def test_add_account(engine: sa.Engine) -> None:
    with audited(engine, [("user.added", "ada", "cli", None, "user:4")]) as rows:
        added = admin.add_account(engine, actor=ADA, username="Tom", display_name="Tom T",
                                  role="clinician", clinic="north", password=PASSWORD)  # fmt: skip
    assert (added.id, added.username, added.role, added.active) == (4, "tom", "clinician", True)
    assert rows[0].os_user == "ops" and '"role": "clinician"' in (rows[0].after or "")
    with nothing_written(engine), pytest.raises(InvalidInput) as error:
        admin.add_account(engine, actor=ADA, username="T!", display_name=None, role="boss",
                          clinic="", password="short")  # fmt: skip
    assert {p.field for p in error.value.problems} == {"username", "role", "clinic", "password"}
    with nothing_written(engine), pytest.raises(PermissionDenied):
        admin.add_account(engine, actor=NINA, username="una", display_name=None,
                          role="navigator", clinic="north", password=PASSWORD)  # fmt: skip
    with nothing_written(engine), pytest.raises(Conflict):
        admin.add_account(engine, actor=ADA, username="tom", display_name=None,
                          role="navigator", clinic="north", password=PASSWORD)  # fmt: skip


def test_add_first_admin_only_on_an_empty_registry(engine: sa.Engine) -> None:
    first = {"display_name": None, "clinic": "north", "password": PASSWORD}
    with nothing_written(engine), pytest.raises(PermissionDenied, match="administrator"):
        admin.add_first_admin(engine, os_user="ops", channel=Channel.CLI, username="nina",
                              role="navigator", **first)  # fmt: skip
    with audited(engine, [("user.added", "system", "cli", None, "user:1")]) as rows:
        admin.add_first_admin(engine, os_user="ops", channel=Channel.CLI, username="ada",
                              role="admin", **first)  # fmt: skip
    assert rows[0].os_user == "ops"
    with nothing_written(engine), pytest.raises(PermissionDenied, match="--as USER"):
        admin.add_first_admin(engine, os_user="ops", channel=Channel.CLI, username="bob",
                              role="admin", **first)  # fmt: skip


def test_set_account_active(engine: sa.Engine, world: World) -> None:
    web_ada = Actor(username="ada", role="admin", clinic="north", ip="10.0.0.1")
    off = [("user.deactivated", "ada", "cli", None, f"user:{world.nina}")]
    with audited(engine, off) as rows:
        account = admin.set_account_active(engine, actor=ADA, username="nina", active=False)
    assert not account.active and (rows[0].before, rows[0].after) == (
        '{"active": true}',
        '{"active": false}',
    )
    on = [("user.activated", "ada", "web", None, f"user:{world.nina}")]
    with audited(engine, on) as rows:
        admin.set_account_active(engine, actor=web_ada, user_id=world.nina, active=True)
    assert rows[0].ip == "10.0.0.1"
    with nothing_written(engine), pytest.raises(PermissionDenied):
        admin.set_account_active(engine, actor=NINA, username="sam", active=False)
    with nothing_written(engine), pytest.raises(InvalidInput, match="your own account"):
        admin.set_account_active(engine, actor=ADA, username="ada", active=False)
    with nothing_written(engine), pytest.raises(NotFound):
        admin.set_account_active(engine, actor=ADA, user_id=999, active=False)


# --------------------------------------------------------------------------- signing in


def test_log_in_and_a_refusal_that_is_recorded_on_purpose(engine: sa.Engine, world: World) -> None:
    web = WebSettings(secret_key="x" * 40)
    with audited(engine, [("login.succeeded", "nina", "web", None, None)]) as rows:
        account = sessions.log_in(engine, username="Nina", password=PASSWORD, ip="10.0.0.7",
                                  now=NOW, settings=web)  # fmt: skip
    assert account.id == world.nina and rows[0].ip == "10.0.0.7"
    # A refused login writes by design: the attempt must count towards the throttle.
    failed = [("login.failed", "nina", "web", None, None)]
    with audited(engine, failed), pytest.raises(accounts.LoginRefused):
        sessions.log_in(engine, username="nina", password="wrong password", ip="10.0.0.7",
                            now=NOW, settings=web)  # fmt: skip
    with Session(engine) as session:
        attempts = session.exec(select(m.LoginAttempt.success).order_by(m.LoginAttempt.id))
        assert list(attempts) == [True, False]


@pytest.mark.usefixtures("world")
def test_log_out(engine: sa.Engine) -> None:
    with audited(engine, [("logout", "nina", "web", None, None)]) as rows:
        sessions.log_out(engine, actor=NINA)
    assert rows[0].ip == "10.0.0.7"
    # Nothing to refuse: the shell calls it only for the account its session cookie names.


def test_record_refusal(engine: sa.Engine, world: World) -> None:
    denied = [("access.denied", "nina", "web", world.south, None),
              ("csrf.rejected", "-", "web", None, None)]  # fmt: skip
    with audited(engine, denied) as rows:
        sessions.record_refusal(engine, action="access.denied", user_id=world.nina,
                                ip="10.0.0.7", patient_id=world.south, detail="/x")  # fmt: skip
        sessions.record_refusal(engine, action="csrf.rejected", user_id=None, ip="10.9.9.9")
    assert [r.ip for r in rows] == ["10.0.0.7", "10.9.9.9"]
    with nothing_written(engine), pytest.raises(InvalidInput):
        sessions.record_refusal(engine, action="patient.deleted", user_id=None, ip="10.9.9.9")


# --------------------------------------------------------------------------- calendar feeds


def issue(engine: sa.Engine, patient_id: int, label: str = "phone") -> feeds.FeedIssued:
    return feeds.issue_patient_feed(engine, actor=NINA, patient_id=patient_id, label=label,
                                     base_url=BASE)  # fmt: skip


def test_issue_patient_feed(engine: sa.Engine, world: World) -> None:
    start = last_audit(engine)
    issued = issue(engine, world.north)
    assert rows_of(audit_since(engine, start)) == [
        ("feed.issued", "nina", "web", world.north, f"feed:{issued.feed.public_id}")
    ]
    assert issued.patient.mrn == "N-1" and issued.feed.created_by == "nina"
    with nothing_written(engine), pytest.raises(InvalidInput, match="label"):
        issue(engine, world.north, "x" * 65)
    with nothing_written(engine), pytest.raises(NotFound):
        feeds.issue_patient_feed(engine, actor=SAM, patient_id=world.north, label="",
                                 base_url=BASE)  # fmt: skip


def test_rotate_patient_feed(engine: sa.Engine, world: World) -> None:
    old = issue(engine, world.north).feed.public_id
    start = last_audit(engine)
    new = feeds.rotate_patient_feed(engine, actor=NINA, public_id=old, base_url=BASE, now=NOW,
                                    patient_id=world.north)  # fmt: skip
    assert rows_of(audit_since(engine, start)) == [
        ("feed.issued", "nina", "web", world.north, f"feed:{new.feed.public_id}"),
        ("feed.rotated", "nina", "web", world.north, f"feed:{old}"),
    ]  # fmt: skip
    with nothing_written(engine), pytest.raises(NotFound):  # another clinic's feed
        feeds.rotate_patient_feed(engine, actor=SAM, public_id=new.feed.public_id,
                                  base_url=BASE, now=NOW)  # fmt: skip
    with nothing_written(engine), pytest.raises(Conflict, match="already revoked"):
        feeds.rotate_patient_feed(engine, actor=NINA, public_id=old, base_url=BASE, now=NOW)


def test_revoke_patient_feed(engine: sa.Engine, world: World) -> None:
    public_id = issue(engine, world.north).feed.public_id
    with audited(engine, [("feed.revoked", "ada", "cli", world.north, f"feed:{public_id}")]):
        revoked = feeds.revoke_patient_feed(engine, actor=ADA, public_id=public_id, now=NOW)
    assert not revoked.feed.active and revoked.patient.mrn == "N-1"
    with nothing_written(engine):  # revoked already: the first revocation stands
        feeds.revoke_patient_feed(engine, actor=ADA, public_id=public_id, now=NOW)
    other = issue(engine, world.north).feed.public_id
    with nothing_written(engine), pytest.raises(NotFound):
        feeds.revoke_patient_feed(engine, actor=SAM, public_id=other, now=NOW)
    with nothing_written(engine), pytest.raises(NotFound):
        feeds.revoke_patient_feed(engine, actor=NINA, public_id=other, now=NOW,
                                  patient_id=world.south)  # fmt: skip


def test_list_patient_feeds(engine: sa.Engine, world: World) -> None:
    issue(engine, world.north)
    listed = [("feed.listed", "nina", "web", world.north, f"patient:{world.north}")]
    with audited(engine, listed):
        patient, rows = feeds.list_patient_feeds(engine, actor=NINA, patient_id=world.north)
    assert patient.mrn == "N-1" and [r.label for r in rows] == ["phone"]
    with nothing_written(engine), pytest.raises(NotFound):
        feeds.list_patient_feeds(engine, actor=SAM, patient_id=world.north)


def leading(engine: sa.Engine) -> Fence:
    epoch = leases.take_lead(engine, worker="w1", now=NOW, ttl_seconds=120)
    assert epoch is not None
    return Fence("w1", epoch)


def test_retire_unneeded_feeds(engine: sa.Engine, world: World, settings: Settings) -> None:
    public_id = issue(engine, world.north).feed.public_id
    with Session(engine) as session:
        patient = session.get(m.Patient, world.north)
        assert patient is not None
        patient.deceased_on = TODAY - dt.timedelta(days=60)
        session.add(patient)
        session.commit()
    fence = leading(engine)
    with nothing_written(engine):  # a daemon that lost the lease writes nothing
        stale = Fence("w1", fence.epoch + 1)
        assert feeds.retire_unneeded_feeds(engine, actor=Actor.system(), fence=stale,
                                           settings=settings, now=NOW) == 0  # fmt: skip
    retired = [("feed.retired", "system", "daemon", world.north, f"feed:{public_id}")]
    with audited(engine, retired):
        assert feeds.retire_unneeded_feeds(engine, actor=Actor.system(), fence=fence,
                                           settings=settings, now=NOW) == 1  # fmt: skip


# --------------------------------------------------------------------------- reminders


def test_list_outbox(engine: sa.Engine, world: World) -> None:
    with Session(engine) as session:
        for pid in (world.north, world.south):
            patient = session.get(m.Patient, pid)
            assert patient is not None
            make_reminder(session, patient, None)
        session.commit()
    with audited(engine, [("reminders.listed", "nina", "web", None, None)]) as rows:
        shown = outbox.list_outbox(engine, actor=NINA, status="failed")
    assert [r.to for r in shown] == ["MRN N-1"] and rows[0].detail == "1 rows in state failed"
    assert len(outbox.list_outbox(engine, actor=ADA)) == 2  # an admin sees every clinic
    with nothing_written(engine), pytest.raises(InvalidInput, match="--status"):
        outbox.list_outbox(engine, actor=NINA, status="lost")


def test_retry_reminder(engine: sa.Engine, world: World) -> None:
    with Session(engine) as session:
        north = session.get(m.Patient, world.north)
        assert north is not None
        failed = make_reminder(session, north, None).id
        done = make_reminder(session, north, None, state="sent")
        done.sent_at = NOW
        sent = done.id
        session.commit()
    assert failed and sent
    retried = [("reminder.retry", "nina", "web", world.north, f"reminder:{failed}")]
    with audited(engine, retried) as rows:
        view = outbox.retry_reminder(engine, actor=NINA, reminder_id=failed, now=NOW)
    assert (view.state, view.attempts) == ("pending", 0)
    assert (rows[0].before, rows[0].after) == ('{"state": "failed"}', '{"state": "pending"}')
    with nothing_written(engine), pytest.raises(Conflict, match="already sent"):
        outbox.retry_reminder(engine, actor=NINA, reminder_id=sent, now=NOW)
    with nothing_written(engine), pytest.raises(NotFound):  # not sam's clinic
        outbox.retry_reminder(engine, actor=SAM, reminder_id=failed, now=NOW)


def test_plan_due_reminders(engine: sa.Engine, db_url: str) -> None:
    settings = settings_for(db_url)
    with Session(engine) as session:
        add_item(session, add_patient(session, "P1"), TODAY - dt.timedelta(days=1))
        session.commit()
    fence = leading(engine)
    with nothing_written(engine):
        assert jobs.plan_due_reminders(engine, actor=Actor.system(), fence=Fence("w2", 1),
                                       settings=settings, now=NOW) == 0  # fmt: skip
    with audited(engine, [("reminders.planned", "system", "daemon", None, None)]) as rows:
        added = jobs.plan_due_reminders(engine, actor=Actor.system(), fence=fence,
                                        settings=settings, now=NOW)  # fmt: skip
    assert added >= 1 and rows[0].detail == f"{added} reminder(s) queued"
    with nothing_written(engine):  # planned already: nothing new, nothing to record
        jobs.plan_due_reminders(engine, actor=Actor.system(), fence=fence, settings=settings,
                                now=NOW)  # fmt: skip


def test_queue_digests(engine: sa.Engine, db_url: str) -> None:
    settings = settings_for(db_url)
    with Session(engine) as session:
        nell = make_user(session, "nell", role="navigator", clinic="north")
        nell.email = "nell@example.org"
        session.add(nell)
        session.commit()
    fence = leading(engine)
    with nothing_written(engine):
        assert jobs.queue_digests(engine, actor=Actor.system(), fence=Fence("w2", 1),
                                  settings=settings, now=NOW) == 0  # fmt: skip
    with audited(engine, [("digest.queued", "system", "daemon", None, None)]):
        assert jobs.queue_digests(engine, actor=Actor.system(), fence=fence,
                                  settings=settings, now=NOW) == 1  # fmt: skip


# --------------------------------------------------------------------------- worklist


def test_export_worklist(engine: sa.Engine, world: World, settings: Settings) -> None:
    with Session(engine) as session:
        north = session.get(m.Patient, world.north)
        assert north is not None
        make_item(session, north, earliest=TODAY - dt.timedelta(days=40),
                  latest=TODAY - dt.timedelta(days=3))  # fmt: skip
        session.commit()
    query = WorklistQuery(today=TODAY, clinic="south")  # a navigator keeps to her own clinic
    with audited(engine, [("worklist.exported", "nina", "web", None, "clinic:north")]) as rows:
        exported = export_worklist(engine, actor=NINA, query=query, settings=settings)
    overdue = next(s for s in exported.sections if s.key == "overdue")
    assert [r.mrn for r in overdue.rows] == ["N-1"]
    assert rows[0].detail == f"{sum(len(s.rows) for s in exported.sections)} rows"
    with nothing_written(engine), pytest.raises(InvalidInput, match="site"):
        export_worklist(engine, actor=NINA, query=WorklistQuery(today=TODAY, site="moon"),
                        settings=settings)  # fmt: skip
