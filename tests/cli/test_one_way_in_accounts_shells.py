"""The command line's side of one way in, for accounts and everything around the record: every
command of ``user``, ``feed``, ``reminders``, ``worklist``, ``daemon``, ``demo``, ``init`` and
``db``, run for real, and the audit rows it leaves (channel cli and the OS account, or the
daemon's), or none where the command touches no patient data (``NOT_AUDITED`` says why).
"""

import datetime as dt
import getpass
import json
import re

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from surveil.db import models as m
from tests.cli.acting import CLINIC, Invoke, add_account
from tests.daemon.seed import add_item, add_patient
from tests.web.seed import make_reminder

SHELL_COVERED: frozenset[str] = frozenset(
    {
        "user add",
        "user deactivate",
        "feed issue",
        "feed list",
        "feed rotate",
        "feed revoke",
        "reminders list",
        "reminders send-due",
        "reminders retry",
        "worklist",  # --json is an audited export; the table, like the web page, is not
        "daemon",
        "demo",
    }
)
NOT_AUDITED: dict[str, str] = {
    "user list": "lists staff accounts, no patient data; it is how an operator finds a name "
    "for --as, so it needs none",
    "init": "creates or migrates the schema: tables, not records; runs before any account "
    "exists; Alembic's version table is its record",
    "db upgrade": "migrates the schema (as init)",
    "db check": "compares the schema with the models; reads no records",
    "serve": "starts the web app; each route it serves is audited on its own",
    "run-demo": "starts serve and daemon, which audit what they do; writes nothing itself",
    "schedules check": "validates protocol files; does not open the database",
}

OS_USER = getpass.getuser()
FEED_ID = re.compile(r"feed ([0-9a-f]{16})")


def audit_rows(
    engine: sa.Engine, after: int = 0
) -> list[tuple[str, str, str, int | None, str | None]]:
    """(action, actor, channel, patient, os_user) of the audit rows after id ``after``."""
    with Session(engine) as session:
        query = select(m.AuditEvent).where(m.AuditEvent.id > after).order_by(m.AuditEvent.id)
        return [
            (e.action, e.actor, e.channel, e.patient_id, e.os_user) for e in session.exec(query)
        ]


def last_audit(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(sa.select(sa.func.max(m.AuditEvent.id))).scalar() or 0


def test_user_commands(fresh_cli: Invoke, engine: sa.Engine, tmp_path: object) -> None:
    secret = f"{tmp_path}/pw"
    with open(secret, "w", encoding="utf-8") as out:
        out.write("a long enough passphrase\n")
    password = ("--password-file", secret)
    assert fresh_cli("init").exit_code == 0  # already migrated: a no-op, and not audited
    assert fresh_cli("db", "upgrade").exit_code == 0 and fresh_cli("db", "check").exit_code == 0
    assert audit_rows(engine) == []
    first = fresh_cli("user", "add", "ada", "--role", "admin", *password)
    assert first.exit_code == 0, first.output
    assert audit_rows(engine) == [("user.added", "system", "cli", None, OS_USER)]
    start = last_audit(engine)
    added = fresh_cli("--as", "ada", "user", "add", "nina", "--role", "navigator", *password)
    assert added.exit_code == 0, added.output
    assert fresh_cli("--as", "ada", "user", "deactivate", "nina").exit_code == 0
    assert fresh_cli("user", "list", "--json").exit_code == 0
    assert audit_rows(engine, start) == [
        ("user.added", "ada", "cli", None, OS_USER),
        ("user.deactivated", "ada", "cli", None, OS_USER),
    ]
    start = last_audit(engine)
    refused = fresh_cli("--as", "nina", "user", "add", "tom", "--role", "admin", *password)
    assert refused.exit_code == 2 and "no active surveil user" in refused.output
    assert fresh_cli("--as", "ada", "user", "deactivate", "ada").exit_code == 2
    assert audit_rows(engine, start) == []


@pytest.fixture
def patient(engine: sa.Engine) -> int:
    """Patient MRN P1 of the configured clinic, with an MRI whose window opened yesterday."""
    with Session(engine) as session:
        row = add_patient(session, "P1")
        add_item(session, row, dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1))
        session.commit()
        assert row.id is not None
        return row.id


def test_feed_commands(
    nina_cli: Invoke, fresh_cli: Invoke, engine: sa.Engine, patient: int
) -> None:
    start = last_audit(engine)  # after the fixtures' accounts
    issued = nina_cli("feed", "issue", "P1", "--no-qr")
    assert issued.exit_code == 0, issued.output
    first = FEED_ID.findall(issued.output)[0]
    assert nina_cli("feed", "list", "P1").exit_code == 0
    rotated = nina_cli("feed", "rotate", first, "--no-qr")
    assert rotated.exit_code == 0, rotated.output
    second = FEED_ID.findall(rotated.output.split("→")[1])[0]
    assert nina_cli("feed", "revoke", second).exit_code == 0
    nina = ("nina", "cli", patient, OS_USER)
    assert audit_rows(engine, start) == [
        ("feed.issued", *nina),
        ("feed.listed", *nina),
        ("feed.issued", *nina),
        ("feed.rotated", *nina),
        ("feed.revoked", *nina),
    ]
    add_account(engine, "sam", role="navigator", clinic="south")
    start = last_audit(engine)
    as_sam = ("--as", "sam", "feed")
    assert fresh_cli(*as_sam, "issue", "P1", "--no-qr").exit_code == 2  # another clinic
    assert fresh_cli(*as_sam, "revoke", first).exit_code == 2
    assert fresh_cli("feed", "list", "P1").exit_code == 2  # nobody named
    assert audit_rows(engine, start) == []


def test_reminders_and_worklist_commands(
    fresh_cli: Invoke, engine: sa.Engine, patient: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_account(engine, "nina", role="navigator", clinic=CLINIC)
    monkeypatch.setenv("SURVEIL_DAEMON_EMAIL_CHANNEL", "log")
    monkeypatch.setenv("SURVEIL_DAEMON_SMS_CHANNEL", "log")
    with Session(engine) as session:
        row = session.get(m.Patient, patient)
        assert row is not None
        failed = make_reminder(session, row, None).id
        session.commit()
    nina = ("--as", "nina")
    start = last_audit(engine)
    assert fresh_cli(*nina, "reminders", "list").exit_code == 0
    assert fresh_cli(*nina, "reminders", "retry", str(failed)).exit_code == 0
    assert fresh_cli("reminders", "send-due", "--once", "--dry-run").exit_code == 0  # no change
    sent = fresh_cli(*nina, "reminders", "send-due", "--once")
    assert sent.exit_code == 0, sent.output
    assert fresh_cli(*nina, "worklist").exit_code == 0  # the table: like the page, not audited
    exported = fresh_cli(*nina, "worklist", "--json")
    assert json.loads(exported.output)["sections"]
    assert audit_rows(engine, start) == [
        ("reminders.listed", "nina", "cli", None, OS_USER),
        ("reminder.retry", "nina", "cli", patient, OS_USER),
        ("reminders.planned", "nina", "cli", None, OS_USER),
        ("worklist.exported", "nina", "cli", None, OS_USER),
    ]
    start = last_audit(engine)
    for refused in (("reminders", "list"), ("reminders", "retry", str(failed)),
                    ("reminders", "send-due", "--once"), ("worklist", "--json")):  # fmt: skip
        assert fresh_cli(*refused).exit_code == 2, refused  # nobody named
    assert fresh_cli(*nina, "reminders", "list", "--status", "lost").exit_code == 2
    assert fresh_cli(*nina, "reminders", "retry", "999").exit_code == 2
    assert audit_rows(engine, start) == []


@pytest.mark.usefixtures("patient")  # whose MRI window opened yesterday: a reminder is due
def test_the_daemon_acts_as_surveil_itself(
    fresh_cli: Invoke, engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SURVEIL_DAEMON_EMAIL_CHANNEL", "log")
    monkeypatch.setenv("SURVEIL_DAEMON_SMS_CHANNEL", "log")
    result = fresh_cli("daemon", "--once")
    assert result.exit_code == 0, result.output
    assert audit_rows(engine) == [("reminders.planned", "system", "daemon", None, None)]


def test_demo_is_audited_as_a_bulk_load(fresh_cli: Invoke, engine: sa.Engine) -> None:
    loaded = fresh_cli("demo", "--patients", "3", "--no-replan", "--today", "2026-06-01")
    assert loaded.exit_code == 0, loaded.output
    rows = audit_rows(engine)
    system = ("system", "cli", None, OS_USER)
    assert rows == [("user.added", *system)] * 5 + [("demo.loaded", *system)]
    with Session(engine) as session:
        detail = session.exec(select(m.AuditEvent.detail).order_by(m.AuditEvent.id.desc())).first()
    assert detail == "3 synthetic demo patients (D000001–D000003)"
