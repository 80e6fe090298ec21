"""Copies of the whole database, taken while it is in use, and their restoration.

- SQLite: the online backup API (``sqlite3.Connection.backup``) copies every page in one step
  inside one read transaction: a consistent snapshot, while the web app and the daemon go on
  writing to the WAL. The copy is checked (``PRAGMA integrity_check``) and switched to a
  rollback journal, so the backup is one self-contained file.
- PostgreSQL: ``pg_dump --format=custom`` (one repeatable-read snapshot, so also consistent
  under writes) and ``pg_restore --single-transaction``. The connection details go to the tools
  in libpq's environment variables, never on a command line that ``ps`` would show.

Both write the backup to a temporary name beside the target and rename it only when complete,
readable by its owner only (it holds every patient's record). A restore goes into an empty
database only: merging into live data is not a restore.
"""

import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL

from surveil.db import migrate
from surveil.errors import Conflict, InvalidInput, Problem, SurveilError

# libpq's environment variables for the query parameters a URL may carry.
_LIBPQ_QUERY = {
    "host": "PGHOST",
    "port": "PGPORT",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
}
PG_DUMP_COMMAND = "pg_dump --format=custom --no-owner --file=FILE DATABASE"
PG_RESTORE_COMMAND = (
    "pg_restore --no-owner --no-privileges --single-transaction --exit-on-error "
    "--dbname=DATABASE FILE"
)


class ToolMissing(SurveilError):
    """pg_dump or pg_restore is not installed here; the message gives the command to run."""


@dataclass(frozen=True)
class Snapshot:
    """What a backup or a restore produced: the file or database, its schema revision, and how
    many patients it holds (a quick sign that it holds what was meant; unknown for a PostgreSQL
    dump, which only pg_restore reads)."""

    where: str
    revision: str | None
    patients: int | None
    size_bytes: int


# --------------------------------------------------------------------------- backup


def back_up(engine: sa.Engine, out: Path) -> Snapshot:
    """Write a consistent copy of the database at ``engine`` to the new file ``out``."""
    if out.exists():
        raise Conflict(f"{out} exists; a backup never replaces a file")
    out.parent.mkdir(parents=True, exist_ok=True)
    patients = None
    with _staged(out) as partial:
        if engine.dialect.name == "sqlite":
            patients = _sqlite_backup(engine, partial)
        else:
            _run_tool("pg_dump", ["--format=custom", "--no-owner", f"--file={partial}"], engine)
    return Snapshot(str(out), _revision(engine), patients, out.stat().st_size)


@contextmanager
def _staged(out: Path) -> Iterator[Path]:
    """A temporary file beside ``out`` (same file system, so the rename is atomic), owner-only,
    renamed to ``out`` when the body succeeds and removed when it fails."""
    descriptor, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent)
    os.close(descriptor)  # mkstemp made it 0600; the tools write it by name
    partial = Path(name)
    try:
        yield partial
        os.chmod(partial, 0o600)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)


def _sqlite_backup(engine: sa.Engine, partial: Path) -> int:
    """Copy the database into ``partial``; how many patients the copy holds."""
    source = engine.raw_connection()  # our pragmas, including the busy timeout
    try:
        target = sqlite3.connect(partial)
        try:
            # pages=-1: every page in one step, inside one read transaction: a snapshot. In
            # steps, a write between two steps would make SQLite start the copy again.
            source.driver_connection.backup(target, pages=-1)  # type: ignore[union-attr]
            target.execute("PRAGMA journal_mode=DELETE")
            _check_integrity(target, str(partial))
            return int(target.execute("SELECT count(*) FROM patient").fetchone()[0])
        finally:
            target.close()
    finally:
        source.close()


def _check_integrity(connection: sqlite3.Connection, where: str) -> None:
    result = connection.execute("PRAGMA integrity_check").fetchall()
    if result != [("ok",)]:
        raise InvalidInput(Problem(where, f"integrity check failed: {result[:3]}"), what="backup")


# --------------------------------------------------------------------------- restore


def restore(engine: sa.Engine, source: Path) -> Snapshot:
    """Load the backup ``source`` into the empty database at ``engine``."""
    if not source.is_file():
        raise InvalidInput(Problem("FILE", f"{source} is not a file"), what="backup")
    _refuse_unless_empty(engine)
    engine.dispose()  # no pooled connection may outlive the swap
    if engine.dialect.name == "sqlite":
        _sqlite_restore(engine, source)
    else:
        _run_tool(
            "pg_restore",
            ["--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error",
             f"--dbname={engine.url.database}", str(source)],
            engine,
        )  # fmt: skip
    engine.dispose()
    return Snapshot(
        engine.url.render_as_string(hide_password=True),
        _revision(engine),
        _patients(engine),
        source.stat().st_size,
    )


def _refuse_unless_empty(engine: sa.Engine) -> None:
    tables = sa.inspect(engine).get_table_names()
    if tables:
        raise Conflict(
            f"the database is not empty ({len(tables)} tables): restore into a new, empty one "
            "(docs/operations.md)"
        )


def _sqlite_restore(engine: sa.Engine, source: Path) -> None:
    backup = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        _check_integrity(backup, str(source))
        target = sqlite3.connect(str(engine.url.database))
        try:
            backup.backup(target, pages=-1)
            target.execute("PRAGMA journal_mode=WAL")  # as make_engine would set it
        finally:
            target.close()
    except sqlite3.DatabaseError as error:
        raise InvalidInput(
            Problem("FILE", f"{source} is not a surveil SQLite backup ({error})"), what="backup"
        ) from None
    finally:
        backup.close()


# --------------------------------------------------------------------------- shared


def _run_tool(tool: str, arguments: list[str], engine: sa.Engine) -> None:
    program = shutil.which(tool)
    if program is None:
        documented = PG_DUMP_COMMAND if tool == "pg_dump" else PG_RESTORE_COMMAND
        raise ToolMissing(
            f"{tool} is not installed on this machine. Install the PostgreSQL client tools "
            f"(the server's major version or newer), or run on the database host: {documented}"
        )
    done = subprocess.run(
        [program, *arguments],  # the database and its login come in the environment
        env={**os.environ, **libpq_environment(engine.url)},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SurveilError(f"{tool} failed (exit {done.returncode}): {done.stderr.strip()[:2000]}")


def libpq_environment(url: URL) -> dict[str, str]:
    """The connection of ``url`` as libpq variables (the password among them, so it never
    appears in a process list)."""
    env = {"PGDATABASE": str(url.database or "")}
    if url.host:
        env["PGHOST"] = url.host
    if url.port:
        env["PGPORT"] = str(url.port)
    if url.username:
        env["PGUSER"] = url.username
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    for key, name in _LIBPQ_QUERY.items():
        value = url.query.get(key)
        if isinstance(value, str):
            env[name] = value
    return env


def _revision(engine: sa.Engine) -> str | None:
    return migrate.current_revision(engine)


def _patients(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.text("SELECT count(*) FROM patient")).scalar_one())
