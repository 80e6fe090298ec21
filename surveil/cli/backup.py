"""``surveil db backup`` and ``surveil db restore``: the contingency plan's two commands
(HIPAA 164.308(a)(7); docs/operations.md). They join the ``db`` group of ``cli/setup.py``."""

import getpass
from pathlib import Path

import click

from surveil.cli._common import console, get_app
from surveil.cli.setup import db
from surveil.db.backup import Snapshot
from surveil.services import backups


@db.command("backup")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The new backup file (never overwritten; readable by you only).",
)
@click.pass_context
def backup_command(ctx: click.Context, out: Path) -> None:
    """Copy the whole database to a new file, while surveil keeps running.

    \b
    Run it nightly (cron or a systemd timer) with the date in the file's name.

    \b
    Example:
      surveil db backup --out /var/backups/surveil/surveil-2026-06-15.db

    SQLite: the online backup API, a consistent copy even while the web app and the daemon
    write. PostgreSQL: pg_dump --format=custom (install the PostgreSQL client tools; without
    them the command says what to run on the database host). The file holds every patient's
    record: keep it encrypted and off this machine (docs/operations.md).
    """
    app = get_app(ctx)
    snapshot = backups.back_up_database(
        app.engine, out=out, actor=backups.operator(getpass.getuser())
    )
    console.print(f"[green]backup written[/] to {out} ({_describe(snapshot)})")


@db.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def restore_command(ctx: click.Context, file: Path) -> None:
    """Load a backup made by `surveil db backup` into a new, empty database, then check it.

    Into a new SQLite file, or a new PostgreSQL database made with createdb, named by
    SURVEIL_DATABASE_URL (e.g. sqlite:///var/restored.db).

    \b
    Example:
      surveil db restore surveil-2026-06-15.db

    Refused when the database already has tables. Fails (exit 1) when the restored schema is
    not the one this version expects: then run `surveil db upgrade` and `surveil db check`.
    """
    app = get_app(ctx)
    restored = backups.restore_database(
        app.engine, source=file, actor=backups.operator(getpass.getuser())
    )
    console.print(f"[green]restored[/] {file} ({_describe(restored.snapshot)})")
    if restored.schema_problem is not None:
        raise click.ClickException(restored.schema_problem)
    console.print("[green]schema up to date[/]: surveil db check passes")


def _describe(snapshot: Snapshot) -> str:
    patients = "" if snapshot.patients is None else f", {snapshot.patients} patients"
    return f"{snapshot.size_bytes:,} bytes, schema {snapshot.revision}{patients}"


# Nothing of its own at the top level: the two commands above are part of `surveil db`.
COMMANDS: list[click.Command] = []
