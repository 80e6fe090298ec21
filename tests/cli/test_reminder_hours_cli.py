"""`surveil reminders hours` and `surveil reminders history` (issue #18), run for real on both
backends, with the audit rows they leave."""

import datetime as dt
import getpass
import json

import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.db import models as m
from surveil.services.reminders.planning import plan_reminders
from tests.cli.acting import Invoke, add_account
from tests.daemon.seed import add_item, add_patient, settings_for

SHELL_COVERED = frozenset({"reminders hours", "reminders history"})
OS_USER = getpass.getuser()


def _audit(engine: sa.Engine) -> list[tuple[str, str, str, int | None]]:
    with Session(engine) as session:
        query = select(m.AuditEvent).order_by(col(m.AuditEvent.id))
        return [
            (e.action, e.actor, e.channel, e.patient_id)
            for e in session.exec(query)
            if e.action in ("patient.send_window", "messages.viewed")
        ]


def _patient(engine: sa.Engine) -> int:
    with Session(engine) as session:
        row = add_patient(session, "P1")
        add_item(session, row, dt.datetime.now(dt.UTC).date() + dt.timedelta(days=3))
        session.commit()
        return row.id or 0


def test_hours_sets_and_clears_the_window(
    nina_cli: Invoke, fresh_cli: Invoke, engine: sa.Engine
) -> None:
    pid = _patient(engine)
    done = nina_cli("reminders", "hours", "P1", "--window", "17:00-20:00")
    assert done.exit_code == 0, done.output
    assert "17:00-20:00 (Europe/London)" in done.output
    with Session(engine) as session:
        patient = session.get(m.Patient, pid)
        assert patient is not None and patient.send_window_start == dt.time(17, 0)
    bad = nina_cli("reminders", "hours", "P1", "--window", "19:00-22:00")
    assert bad.exit_code == 2 and "send_window_start" in bad.output and "quiet" in bad.output
    assert nina_cli("reminders", "hours", "P1").exit_code == 2  # neither option
    cleared = nina_cli("reminders", "hours", "P1", "--clear")
    assert cleared.exit_code == 0 and "clinic's send time, 09:00" in cleared.output
    add_account(engine, "sam", role="navigator", clinic="south")
    other = fresh_cli("--as", "sam", "reminders", "hours", "P1", "--window", "17:00-20:00")
    assert other.exit_code == 2  # another clinic's patient
    assert _audit(engine) == [("patient.send_window", "nina", "cli", pid)] * 2


def test_history_lists_every_message(nina_cli: Invoke, engine: sa.Engine, db_url: str) -> None:
    pid = _patient(engine)
    now = dt.datetime.now(dt.UTC)
    with Session(engine) as session:
        patient = session.get(m.Patient, pid)
        assert patient is not None
        add_item(session, patient, now.date() - dt.timedelta(days=1))  # its window is open
        session.commit()
        assert plan_reminders(session, settings_for(db_url), now) == 1
        session.commit()
    shown = nina_cli("reminders", "history", "P1")
    assert shown.exit_code == 0 and "pending" in shown.output and "mri" in shown.output
    listed = nina_cli("reminders", "history", "P1", "--json")
    assert listed.exit_code == 0
    (entry,) = json.loads(listed.output)
    assert (entry["channel"], entry["state"], entry["attempts"]) == ("email", "pending", [])
    assert "@" not in listed.output  # no address
    assert _audit(engine) == [("messages.viewed", "nina", "cli", pid)] * 2
