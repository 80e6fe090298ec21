"""The daemon process: its APScheduler wiring (time moved with time-machine), the SQLite
one-daemon rule, a clean stop on SIGTERM, and the ``surveil daemon``/``reminders`` commands."""

import datetime as dt
import functools
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa
import time_machine
from apscheduler.events import EVENT_JOB_EXECUTED
from apscheduler.schedulers.background import BackgroundScheduler
from click.testing import CliRunner, Result
from sqlmodel import Session, select

from surveil.cli import _register, cli
from surveil.daemon import Daemon, build_scheduler, run, single_daemon_lock
from surveil.db import claims
from surveil.db import models as m
from surveil.db.engine import make_engine
from surveil.errors import ConfigError, Conflict
from surveil.transports import LogTransport
from tests.daemon.seed import add_item, add_patient, many_due, settings_for
from tests.daemon.sink import Sink
from tests.web.seed import make_user

NOW = dt.datetime(2026, 6, 10, 12, 0, tzinfo=dt.UTC)
REPO = Path(__file__).resolve().parents[2]


def wait_for(check: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {seconds} s: {check.__doc__ or check}")
        time.sleep(0.05)


def states(engine: sa.Engine) -> list[str]:
    with Session(engine) as session:
        return list(session.exec(select(m.Reminder.state).order_by(m.Reminder.id)))


def dry_run_notes(engine: sa.Engine) -> int:
    with Session(engine) as session:
        noted = select(m.DeliveryAttempt).where(m.DeliveryAttempt.status == "dry_run")
        return len(session.exec(noted).all())


def test_scheduler_jobs_run_at_start_and_again_when_time_moves(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    settings = settings_for(sqlite_url, email_channel="log", plan_minutes=15)
    assert many_due(engine, settings, 3, NOW) == 3
    with Session(engine) as session:  # a window that opens tomorrow
        add_item(session, add_patient(session, "LATER"), NOW.date() + dt.timedelta(days=1))
        session.commit()
    log = LogTransport()
    daemon = Daemon(settings, engine=engine, transports={"email": log}, worker="sched")
    ran: Counter[str] = Counter()
    with time_machine.travel(NOW, tick=False) as traveller:
        scheduler = build_scheduler(settings, daemon, scheduler_class=BackgroundScheduler)
        scheduler.add_listener(lambda event: ran.update([event.job_id]), EVENT_JOB_EXECUTED)
        scheduler.start()
        try:
            jobs = {job.id: job for job in scheduler.get_jobs()}
            assert set(jobs) == {
                "sweep",
                "plan",
                "digest",
                "feeds",
                "protocol",
                "dispatch",
                "heartbeat",
            }
            assert all(j.coalesce and j.max_instances == 1 for j in jobs.values())
            assert all(j.misfire_grace_time == 300 for j in jobs.values())
            wait_for(lambda: set(ran) == set(jobs))  # every job ran at once on start
            assert len(log.sent) == 3
            traveller.shift(dt.timedelta(days=1))  # a day later: the new window is open
            scheduler.wakeup()  # the scheduler sleeps on a real-clock timer
            # Planned, and sent at once (the plan job wakes dispatch).
            wait_for(lambda: len(log.sent) == 4)
            assert ran["plan"] == 2  # 96 missed runs coalesced into one
        finally:
            daemon.stop.set()
            scheduler.shutdown(wait=True)
            daemon.close()
    assert states(engine) == ["sent"] * 4
    with Session(engine) as session:
        beat = session.get(m.Heartbeat, "sched")
    assert beat is not None and beat.last_job == "stopped"
    lease = claims.leader(engine)
    assert lease is not None and lease.holder == "sched"
    stopped_at = NOW + dt.timedelta(days=1)
    assert lease.expires_at.replace(tzinfo=dt.UTC) == stopped_at  # resigned on the way out
    engine.dispose()


def test_single_daemon_lock_on_sqlite_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    with single_daemon_lock(url) as lock:
        assert lock is not None and lock.read_text().strip() == str(os.getpid())
        with pytest.raises(Conflict, match="already running"), single_daemon_lock(url):
            pass
    with single_daemon_lock(url):  # released
        pass
    with single_daemon_lock("postgresql://u@localhost/x") as none:
        assert none is None


def test_the_daemon_refuses_to_start_with_an_unknown_pack_or_profile(sqlite_url: str) -> None:
    settings = settings_for(sqlite_url, email_channel="log")
    for key, value in (("pack", "nccn-2024"), ("profile", "enets")):
        wrong = replace(settings, clinic=replace(settings.clinic, **{key: value}))
        with pytest.raises(ConfigError, match=f"clinic.{key}: '{value}' is not"):
            Daemon(wrong)
        with pytest.raises(ConfigError, match=f"clinic.{key}"):
            run(wrong, once=True)
    with single_daemon_lock(sqlite_url):  # the refused start let go of the SQLite lock
        pass
    engine = make_engine(sqlite_url)
    with Session(engine) as session:
        assert session.exec(select(m.DaemonLease)).all() == []  # and never took the lead
    engine.dispose()


def _daemon_env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURVEIL_")}
    return env | {
        "SURVEIL_DATABASE_URL": url,
        "SURVEIL_DAEMON_EMAIL_CHANNEL": "log",  # what `make run` uses: nobody is emailed
        "SURVEIL_DAEMON_SMS_CHANNEL": "log",
        "SURVEIL_DAEMON_DISPATCH_SECONDS": "1",
    }


def test_surveil_daemon_on_sqlite_refuses_a_second_and_stops_cleanly_on_sigterm(
    sqlite_url: str, tmp_path: Path
) -> None:
    engine = make_engine(sqlite_url)
    now = dt.datetime.now(dt.UTC)
    assert many_due(engine, settings_for(sqlite_url, email_channel="log"), 3, now) == 3
    command = [sys.executable, "-m", "surveil", "daemon"]
    first = subprocess.Popen(
        command, env=_daemon_env(sqlite_url), cwd=tmp_path, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for(lambda: dry_run_notes(engine) == 3, 60)  # the log channel is a dry run
        assert states(engine) == ["pending"] * 3  # ... that consumes nothing
        second = subprocess.run(
            [*command, "--once"], env=_daemon_env(sqlite_url), cwd=tmp_path,
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert second.returncode == 2
        assert "another surveil daemon" in second.stderr and f"pid {first.pid}" in second.stderr
        first.send_signal(signal.SIGTERM)
        _, log = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, log
    assert "SIGTERM: finishing the message in flight" in log and log.rstrip().endswith("stopped")
    assert "@example.org" not in log  # the dry-run log names keys, never addresses
    again = subprocess.run(  # the lock went with the process
        [*command, "--once"], env=_daemon_env(sqlite_url), cwd=tmp_path,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    engine.dispose()


Invoke = Callable[..., Result]


@pytest.fixture
def surveil(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Invoke:
    _register()
    monkeypatch.chdir(tmp_path)
    for name, value in _daemon_env(db_url).items():
        if name.startswith("SURVEIL_"):
            monkeypatch.setenv(name, value)
    monkeypatch.delenv("SURVEIL_CONFIG", raising=False)
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return invoke


def test_reminders_commands(
    surveil: Invoke, engine: sa.Engine, db_url: str, sink: Sink, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A real channel: the "log" channel is a dry run that consumes nothing (test_dry_run.py).
    monkeypatch.setenv("SURVEIL_DAEMON_EMAIL_CHANNEL", "smtp")
    monkeypatch.setenv("SURVEIL_SMTP_PORT", str(sink.port))
    monkeypatch.setenv("SURVEIL_SMTP_SECURITY", "none")
    now = dt.datetime.now(dt.UTC)
    assert many_due(engine, settings_for(db_url), 2, now) == 2
    with Session(engine) as session:  # the commands that touch the outbox act as a user
        make_user(session, "ops", role="admin")
        session.commit()
    dry = surveil("reminders", "send-due", "--once", "--dry-run")
    assert dry.exit_code == 0 and "Time to book" in dry.output and "@" not in dry.output
    assert states(engine) == ["pending", "pending"]

    assert surveil("reminders", "send-due", "--once").exit_code == 2  # nobody named
    sent = surveil("--as", "ops", "reminders", "send-due", "--once")
    assert sent.exit_code == 0 and "handled 2" in sent.output
    surveil = functools.partial(surveil, "--as", "ops")
    listed = json.loads(surveil("reminders", "list", "--status", "sent", "--json").output)
    assert [r["state"] for r in listed] == ["sent", "sent"]
    assert listed[0]["to"].startswith("MRN K") and "@" not in json.dumps(listed)

    with engine.begin() as connection:
        connection.execute(sa.update(claims.R).where(claims.R.c.id == 1).values(
            state="failed", last_error="550 mailbox unavailable"))  # fmt: skip
    table = surveil("reminders", "list", "--status", "failed")
    assert "failed" in table.output and "550" in table.output
    (failed,) = json.loads(surveil("reminders", "list", "--status", "failed", "--json").output)
    assert failed["last_error"] == "550 mailbox unavailable"
    assert "pending again" in surveil("reminders", "retry", "1").output
    refused = surveil("reminders", "retry", "2")
    assert refused.exit_code == 2 and "already sent" in refused.output
    assert surveil("reminders", "retry", "999").exit_code == 2
    assert surveil("reminders", "list", "--status", "lost").exit_code == 2


def test_surveil_daemon_once_against_a_real_smtp_server(
    surveil: Invoke, engine: sa.Engine, db_url: str, sink: Sink, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in {"EMAIL_CHANNEL": "smtp"}.items():
        monkeypatch.setenv(f"SURVEIL_DAEMON_{key}", value)
    monkeypatch.setenv("SURVEIL_SMTP_PORT", str(sink.port))
    monkeypatch.setenv("SURVEIL_SMTP_SECURITY", "none")
    assert many_due(engine, settings_for(db_url), 4, dt.datetime.now(dt.UTC)) == 4
    result = surveil("daemon", "--once")
    assert result.exit_code == 0 and "handled 4" in result.output
    assert sink.received == 4 and not sink.duplicates()
