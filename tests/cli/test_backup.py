"""``surveil db backup`` and ``surveil db restore`` on SQLite and PostgreSQL: a backup taken
while another thread keeps writing restores into a database that ``surveil db check`` accepts
and that a replan does not change (the copy is one consistent moment, not a blend)."""

import datetime as dt
import stat
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from sqlalchemy.engine import make_url
from sqlmodel import Session, select

from surveil.cli import _register, cli
from surveil.config import DatabaseSettings, Settings
from surveil.core.vocab import Channel
from surveil.db import models as m
from surveil.db.backup import libpq_environment
from surveil.db.engine import make_engine
from surveil.db.session import session_scope
from surveil.services.actor import Actor
from surveil.services.planning.care import refresh_patient
from surveil.services.planning.replan import replan_every_patient
from surveil.services.registry import patients as registry
from tests.conftest import PG_ADMIN_URL
from tests.web.seed import TODAY, make_patient

PATIENTS = 12


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator["Runner"]:
    _register()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SURVEIL_CONFIG", raising=False)
    yield Runner()


class Runner:
    """`surveil ...` in process against the database at ``url``."""

    def __call__(self, url: str, *args: str) -> Result:
        return CliRunner().invoke(cli, list(args), env={"SURVEIL_DATABASE_URL": url})


@pytest.fixture
def empty_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    """A second, empty database on the same backend (no tables: not even migrated)."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored' / 'surveil.db'}"
        return
    name = f"surveil_restore_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def settings_for(url: str) -> Settings:
    return Settings(database=DatabaseSettings(url=url))


def seed(engine: sa.Engine) -> list[int]:
    with Session(engine, expire_on_commit=False) as session:
        ids = [make_patient(session, f"B{n:03d}", clinic="north").id for n in range(PATIENTS)]
        session.commit()
    replan_every_patient(
        engine,
        actor=Actor.system(channel=Channel.CLI),
        settings=settings_for(str(engine.url)),
        today=TODAY,
    )
    return [i for i in ids if i is not None]


class Writer(threading.Thread):
    """Records scan results, each with its re-evaluation and re-plan in one transaction (what a
    navigator's "done" form does), until stopped."""

    def __init__(self, url: str, patient_ids: list[int]) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.patient_ids = patient_ids
        self.done = 0
        self.failure: BaseException | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        engine = make_engine(self.url)
        settings = settings_for(self.url)
        try:
            while not self.stop.is_set():
                self._write(engine, settings)
                self.done += 1
        except BaseException as error:  # noqa: BLE001 - reported by the test, not lost
            self.failure = error
        finally:
            engine.dispose()

    def _write(self, engine: sa.Engine, settings: Settings) -> None:
        n = self.done
        with session_scope(engine) as session:
            patient = session.get(m.Patient, self.patient_ids[n % len(self.patient_ids)])
            assert patient is not None
            registry.add_measurement(
                session,
                patient=patient,
                lesion="L1",
                date=(TODAY - dt.timedelta(days=400 - n // len(self.patient_ids))).isoformat(),
                diameter_mm=str(10 + n // len(self.patient_ids)),
                modality="mri",
                today=TODAY,
            )
            refresh_patient(
                session, patient=patient, settings=settings, today=TODAY, channel=Channel.CLI
            )

    def wait_for(self, writes: int) -> None:
        target = self.done + writes
        while self.done < target:
            assert self.failure is None and self.is_alive(), self.failure
            threading.Event().wait(0.02)


def counts(engine: sa.Engine) -> tuple[int, int]:
    with Session(engine) as session:
        measured = session.exec(select(sa.func.count()).select_from(m.Measurement)).one()
        audits = session.exec(select(sa.func.count()).select_from(m.AuditEvent)).one()
    return measured, audits


def test_a_backup_taken_during_writes_restores_to_a_consistent_database(
    run: Runner, db_url: str, empty_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    ids = seed(engine)
    writer = Writer(db_url, ids)
    writer.start()
    try:
        writer.wait_for(5)
        before = counts(engine)[0]
        out = tmp_path / "backups" / "surveil.backup"
        made = run(db_url, "db", "backup", "--out", str(out))
        after = counts(engine)[0]
        writer.wait_for(5)
    finally:
        writer.stop.set()
        writer.join(30)
    assert writer.failure is None, writer.failure
    assert made.exit_code == 0, made.output
    assert "backup written" in made.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert not list(out.parent.glob("*.partial"))

    # The live database after all the writes: nothing for a replan to do (the baseline).
    live = replan_every_patient(
        engine, actor=Actor.system(channel=Channel.CLI), settings=settings_for(db_url), today=TODAY
    )
    assert (live.created, live.superseded) == (0, 0)

    restored = run(empty_url, "db", "restore", str(out))
    assert restored.exit_code == 0, restored.output
    assert "surveil db check passes" in restored.output
    assert run(empty_url, "db", "check").exit_code == 0
    copy = make_engine(empty_url)
    try:
        measured, _ = counts(copy)
        assert before <= measured <= after  # one moment between the two counts
        again = replan_every_patient(
            copy,
            actor=Actor.system(channel=Channel.CLI),
            settings=settings_for(empty_url),
            today=TODAY,
        )
        assert (again.created, again.superseded) == (0, 0)
        assert again.patients == PATIENTS
        with Session(copy) as session:
            actions = session.exec(select(m.AuditEvent.action)).all()
        assert "database.restored" in actions
    finally:
        copy.dispose()
    with Session(engine) as session:
        event = session.exec(
            select(m.AuditEvent).where(m.AuditEvent.action == "database.backed_up")
        ).one()
    assert event.channel == "cli" and event.os_user


def test_restore_refuses_a_database_that_is_not_empty(
    run: Runner, db_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    seed(engine)
    out = tmp_path / "b.backup"
    assert run(db_url, "db", "backup", "--out", str(out)).exit_code == 0
    before = counts(engine)
    refused = run(db_url, "db", "restore", str(out))
    assert refused.exit_code == 2 and "not empty" in refused.output
    assert counts(engine) == before


def test_backup_never_replaces_a_file(run: Runner, db_url: str, tmp_path: Path) -> None:
    out = tmp_path / "b.backup"
    out.write_text("yesterday's backup")
    refused = run(db_url, "db", "backup", "--out", str(out))
    assert refused.exit_code == 2 and "exists" in refused.output
    assert out.read_text() == "yesterday's backup"


def test_restore_refuses_a_file_that_is_not_a_backup(
    run: Runner, empty_url: str, tmp_path: Path
) -> None:
    junk = tmp_path / "junk.backup"
    junk.write_bytes(b"not a database\n" * 100)
    refused = run(empty_url, "db", "restore", str(junk))
    assert refused.exit_code != 0 and "error" in refused.output.lower()


@pytest.mark.postgres
def test_without_pg_dump_the_command_says_what_to_run(
    run: Runner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url: str = request.getfixturevalue("pg_database")
    monkeypatch.setenv("PATH", str(tmp_path))  # no PostgreSQL client tools here
    refused = run(url, "db", "backup", "--out", str(tmp_path / "b.dump"))
    assert refused.exit_code == 2
    assert "pg_dump --format=custom --no-owner --file=FILE DATABASE" in refused.output
    assert not (tmp_path / "b.dump").exists()


def test_the_password_goes_to_the_tools_in_the_environment() -> None:
    url = make_url("postgresql+psycopg://surveil:s%40cret@db.example:5433/reg?sslmode=require")
    assert libpq_environment(url) == {
        "PGDATABASE": "reg",
        "PGHOST": "db.example",
        "PGPORT": "5433",
        "PGUSER": "surveil",
        "PGPASSWORD": "s@cret",
        "PGSSLMODE": "require",
    }


def test_help_shows_the_examples(run: Runner, db_url: str) -> None:
    assert "surveil db backup --out /var/backups/" in run(db_url, "db", "backup", "--help").output
    shown = run(db_url, "db", "restore", "--help").output
    assert "surveil db restore surveil-2026-06-15.db" in shown
    assert "backup" in run(db_url, "db", "--help").output


# The one-way-in register (tests/test_one_way_in.py): both commands' audit rows
# (database.backed_up, database.restored) are asserted above.
SHELL_COVERED = frozenset({"db backup", "db restore"})
