"""``surveil import csv|rollback``: load a clinic's spreadsheet as one batch, or undo a batch."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from surveil.cli._common import console, get_app
from surveil.services.imports import batch
from surveil.services.imports.csvfile import KINDS


@click.group("import")
def import_group() -> None:
    """Load patients, pathology, measurements, markers or therapies from CSV (docs/import/)."""


@import_group.command("csv")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", required=True, type=click.Choice(KINDS), help="What the file holds.")
@click.option("--dry-run", is_flag=True, help="Check every row and show what would change.")
@click.option(
    "--date-format",
    help="Dates in a local format besides ISO, as strftime codes (e.g. %d/%m/%Y). "
    "Default: interop.import_date_format.",
)
@click.pass_context
def import_csv(
    ctx: click.Context, file: Path, kind: str, dry_run: bool, date_format: str | None
) -> None:
    """Import FILE (UTF-8, with or without BOM; ',' or ';'). Every problem of every row is
    listed at once and nothing is written; otherwise all rows are committed as one batch.
    Rows already stored with the same values are skipped: importing twice changes nothing.

    \b
    Examples:
      surveil --as nina import csv markers.csv --kind markers --dry-run
      surveil --as nina import csv scans.csv --kind measurements --date-format %d/%m/%Y
    """
    app = get_app(ctx)
    with _progress() as progress:
        report = batch.import_csv(
            app.engine,
            actor=app.actor(),
            kind=kind,
            content=file.read_bytes(),
            filename=file.name,
            clinic=app.clinic,
            dry_run=dry_run,
            settings=app.settings,
            today=app.today(),
            date_format=date_format or app.settings.interop.import_date_format or None,
            progress=progress,
        )
    verb = "would add" if dry_run else "added"
    console.print(
        f"{report.rows} rows: {verb} {report.created} ({report.new_patients} new patients), "
        f"{report.skipped} already there; {report.touched_patients} patients re-planned"
    )
    if report.new_triggers:
        opened = "would open" if dry_run else "opened"
        shown = ", ".join(f"{k} ×{n}" if n > 1 else k for k, n in report.trigger_counts)
        console.print(f"triggers {opened}: {shown}")
    if report.batch_id is not None:
        console.print(f"[green]batch {report.batch_id}[/] (sha256 {report.file_sha256[:12]})")
    elif not dry_run:
        console.print("nothing new: no batch recorded")


@contextmanager
def _progress() -> Iterator[Callable[[str, int, int], None]]:
    """A bar per stage of the import (rows checked, patients re-planned); on a terminal only,
    so that scripts and logs get the summary lines alone."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console, transient=True) as bar:
        tasks: dict[str, TaskID] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update


@import_group.command("rollback")
@click.argument("batch_id", type=click.IntRange(1, 2**31 - 1))
@click.pass_context
def import_rollback(ctx: click.Context, batch_id: int) -> None:
    """Delete every row a batch added, while nothing newer depends on it.

    \b
    Example:
      surveil --as nina import rollback 12
    """
    app = get_app(ctx)
    deleted = batch.rollback_import(
        app.engine,
        actor=app.actor(),
        batch_id=batch_id,
        now=app.now(),
        settings=app.settings,
        today=app.today(),
    )
    console.print(f"[yellow]rolled back[/] batch {batch_id}: {deleted} rows deleted")


COMMANDS = [import_group]
