"""``surveil forecast``: the clinic as a whole from the terminal (issue 20)."""

import os
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from surveil.cli._common import console, get_app, json_option, print_json
from surveil.services.reports.capacity import Capacity, CapacityQuery, capacity_forecast
from surveil.services.reports.capacity_export import capacity_json
from surveil.services.reports.letters import Letter, letters_pdf, patient_letters


@click.command("forecast")
@click.option("--months", default=12, show_default=True, type=int, help="Months ahead, 1 to 36.")
@click.option(
    "--by",
    default="resource,month",
    show_default=True,
    help="Group by any of resource, kind, site, month (comma-separated).",
)
@click.option("--clinic", help="The clinic (administrators; default: clinic.name).")
@click.option(
    "--profile",
    help="What if: plan every patient with this profile (pack:profile), not the committed plans.",
)
@json_option
@click.pass_context
def forecast_command(
    ctx: click.Context,
    months: int,
    by: str,
    clinic: str | None,
    profile: str | None,
    as_json: bool,
) -> None:
    """How many MRI, CT, SSTR PET, endoscopies, blood tests, SSA injections and tumour boards the
    committed plans need per month: by target date, and the spread the windows allow (everyone
    as early as allowed, as late as allowed, and every month a window touches).

    \b
    Examples:
      surveil forecast
      surveil forecast --months 12 --by kind,site,month --json
      surveil forecast --profile net-default:default --by resource
    """
    app = get_app(ctx)
    query = CapacityQuery(months=months, by=by, clinic=clinic or app.clinic, profile=profile)
    result = capacity_forecast(
        app.engine, actor=app.actor(), query=query, settings=app.settings, today=app.today()
    )
    if as_json:
        print_json(capacity_json(result))
        return
    console.print(_table(result))


def _table(result: Capacity) -> Table:
    f = result.forecast
    first, last = f.months[0].strftime("%b %Y"), f.months[-1].strftime("%b %Y")
    kind = "what if" if result.what_if else "committed plans"
    table = Table(
        title=f"Capacity {first} – {last} ({kind}: {result.profile}; {result.clinic or 'all'})",
        title_justify="left",
    )
    for dim in f.by:
        table.add_column(dim.title())
    for measure in ("Target", "Earliest", "Latest", "Possible"):
        table.add_column(measure, justify="right")
    for key, c in f.rows:
        table.add_row(*key, str(c.target), str(c.earliest), str(c.latest), str(c.possible))
    return table


@click.command("letter")
@click.argument("mrns", nargs=-1, required=True)
@click.option("--months", default=12, show_default=True, type=click.Choice(["12", "24"]))
@click.option(
    "--handover",
    is_flag=True,
    help="Printed to hand to the patient: names the tests and the patient (else as the feed).",
)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The folder to write one PDF per patient into (letter-<MRN>.pdf).",
)
@click.option("--html", "as_html", is_flag=True, help="Write HTML files instead of PDF.")
@click.option(
    "--jobs",
    type=click.IntRange(1, 16),
    help="Processes laying out PDFs at once (default: one per CPU).",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def letter_command(
    ctx: click.Context,
    mrns: tuple[str, ...],
    months: str,
    handover: bool,
    out: Path,
    as_html: bool,
    jobs: int | None,
    quiet: bool,
) -> None:
    """Each patient's plan for the next 12 or 24 months in plain words, as a printable letter
    (PDF, or HTML), one file per patient, with a progress bar for many. Each printing is
    audited.

    \b
    Examples:
      surveil letter 100 101 --out letters/
      surveil letter 100 --months 24 --handover --out letters/
      surveil letter $(cat mrns.txt) --jobs 2 --out letters/
    """
    app = get_app(ctx)
    letters = patient_letters(
        app.engine,
        actor=app.actor(),
        mrns=list(mrns),
        months=int(months),
        handover=handover,
        settings=app.settings,
        today=app.today(),
    )
    out.mkdir(parents=True, exist_ok=True)
    pdfs = [] if as_html else _pdfs_with_progress(letters, jobs or _cpus(), quiet)
    for n, mrn in enumerate(mrns):
        name = "".join(c if c.isalnum() or c in "-_" else "_" for c in mrn)
        if as_html:
            (out / f"letter-{name}.html").write_text(letters[n].html, encoding="utf-8")
        else:
            (out / f"letter-{name}.pdf").write_bytes(pdfs[n])
    console.print(f"{len(letters)} letter(s) written to {out}")


def _pdfs_with_progress(letters: list[Letter], jobs: int, quiet: bool) -> list[bytes]:
    columns = (
        TextColumn("letters"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    # Refreshed by hand, not by rich's refresh thread: the PDFs may be laid out in forked
    # processes, and a fork should not copy a thread that holds the console's lock.
    with Progress(*columns, console=console, disable=quiet, auto_refresh=False) as bar:
        task = bar.add_task("letters", total=len(letters))

        def done(n: int) -> None:
            bar.advance(task, n)
            bar.refresh()

        return letters_pdf(letters, jobs=jobs, on_done=done)


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


COMMANDS = [forecast_command, letter_command]
