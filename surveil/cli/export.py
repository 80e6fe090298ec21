"""``surveil export fhir``: patients' records and plans as FHIR R4 ndjson files (Bulk Data)."""

from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from surveil.cli._common import App, console, get_app, json_option, print_json
from surveil.services.actor import Actor
from surveil.services.export.fhir.bulk import BulkExport, export_ndjson


@click.group("export")
def export() -> None:
    """Export records in standard formats for other systems."""


@export.command("fhir")
@click.option("--patient", "mrn", metavar="MRN", help="Export this one patient (by MRN).")
@click.option("--all", "everyone", is_flag=True, help="Export every patient you may see.")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the files (created if missing; earlier exports in it are replaced).",
)
@json_option
@click.pass_context
def fhir(ctx: click.Context, mrn: str | None, everyone: bool, out_dir: Path, as_json: bool) -> None:
    """Write FHIR R4 resources as ndjson, one file per type (Patient.ndjson, Condition.ndjson,
    CarePlan.ndjson, ServiceRequest.ndjson, Task.ndjson, Observation.ndjson). The export is
    audited once under your --as user, with the number of patients; see docs/fhir.md.

    \b
    Examples:
      surveil --as nina export fhir --patient 100234 --out export/
      surveil --as nina export fhir --all --out /secure/fhir-2026-06-15
    """
    if (mrn is None) == (not everyone):
        raise click.UsageError("give either --patient MRN or --all")
    app = get_app(ctx)
    actor = app.actor()
    try:
        if mrn is not None:
            result = export_ndjson(
                app.engine,
                actor=actor,
                out_dir=out_dir,
                mrn=mrn,
                settings=app.settings,
                today=app.today(),
            )
        else:
            result = _export_all(app, actor=actor, out_dir=out_dir, quiet=as_json)
    except OSError as error:  # a folder that cannot be made or written: say so, no traceback
        raise click.ClickException(f"cannot write to {out_dir}: {error.strerror}") from None
    _show(result, as_json=as_json)


def _export_all(app: App, *, actor: Actor, out_dir: Path, quiet: bool) -> BulkExport:
    """Every patient the actor may see, with a progress bar (hidden for --json)."""
    columns = (TextColumn("exporting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, disable=quiet) as bar:
        task = bar.add_task("export", total=None)

        def report(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return export_ndjson(
            app.engine,
            actor=actor,
            out_dir=out_dir,
            mrn=None,
            settings=app.settings,
            progress=report,
            today=app.today(),
        )


def _show(result: BulkExport, *, as_json: bool) -> None:
    if as_json:
        print_json(
            {
                "directory": str(result.directory),
                "patients": result.patients,
                "resources": result.counts,
                "files": [str(path) for path in result.files],
            }
        )
        return
    counts = ", ".join(f"{count} {kind}" for kind, count in result.counts.items())
    console.print(
        f"[green]exported[/] {result.patients} patient(s) to {result.directory}: {counts}"
    )


COMMANDS = [export]
