"""``surveil worklist``: the navigator's worklist in the terminal, the web page's twin."""

import datetime as dt
from typing import Any

import click
from rich.table import Table

from surveil.cli._common import console, get_app, json_option, print_json
from surveil.errors import InvalidInput, Problem
from surveil.services.reports.as_of import parse_moment, worklist_as_of
from surveil.services.worklist.export import worklist_json as to_json
from surveil.services.worklist.sections import SECTION_KEYS, Section, WorklistQuery
from surveil.services.worklist.views import export_worklist, show_worklist

STYLE = {
    "triggers": "magenta",
    "overdue": "red",
    "due": "yellow",
    "booked_outside": "yellow",
    "booked_no_result": "red",
    "soon": "blue",
    "booked": "blue",
    "reminders": "red",
    "no_plan": "white",
    "no_owner": "white",
    "lost": "red",
    "snoozed": "white",
    "replies": "magenta",
}


@click.command("worklist")
@click.option("--date", help="The day to show, YYYY-MM-DD (default: today in the clinic's zone).")
@click.option("--navigator", help="Only patients assigned to this navigator (username).")
@click.option("--clinic", help="The clinic (default: clinic.name from the configuration).")
@click.option("--site", help="Only tumours at this site, e.g. pancreas.")
@click.option("--kind", help="Only items of this kind, e.g. mri or cga.")
@click.option("--search", help="An MRN, or the start of a family or given name.")
@click.option(
    "--section", type=click.Choice(SECTION_KEYS), help="Show one section in full, page by page."
)
@click.option("--page", default=1, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--as-of",
    "as_of",
    help="Show the worklist as it was at a past moment, YYYY-MM-DDTHH:MM in the clinic's zone "
    "(reconstructed from history; audited).",
)
@json_option
@click.pass_context
def worklist_command(
    ctx: click.Context,
    date: str | None,
    navigator: str | None,
    clinic: str | None,
    site: str | None,
    kind: str | None,
    search: str | None,
    section: str | None,
    page: int,
    as_of: str | None,
    as_json: bool,
) -> None:
    """What needs a human today: open triggers, overdue and due items, windows opening soon,
    failed reminders, patients with nothing planned, and patients lost to follow-up.

    \b
    Examples:
      surveil worklist
      surveil worklist --navigator nina --date 2026-06-15
      surveil worklist --section overdue --page 2 --json
      surveil worklist --section snoozed    (snoozed items, why and until when)
      surveil worklist --as-of 2026-11-02T09:00
    """
    app = get_app(ctx)
    query = WorklistQuery(
        today=_day(date) if date else app.today(),
        clinic=clinic or app.clinic,
        navigator=navigator,
        site=site,
        kind=kind,
        search=search,
        section=section,
        page=page,
    )
    actor = app.actor()
    if as_of:
        _show_as_of(app, query, as_of, as_json=as_json)
        return
    if as_json:  # an export: audited
        exported = export_worklist(app.engine, actor=actor, query=query, settings=app.settings)
        print_json(to_json(exported))
        return
    result = show_worklist(app.engine, actor=actor, query=query, settings=app.settings)
    shown = result.query  # as checked: a navigator sees their own clinic whatever --clinic says
    console.print(f"[bold]Worklist for {shown.today:%A %-d %B %Y}[/] ({shown.clinic})")
    console.print(
        "  ".join(
            f"[{STYLE.get(s.key, 'white')}]{s.count}[/] {s.title.lower()}" for s in result.sections
        )
    )
    for s in result.sections:
        console.print(_table(s))


def _show_as_of(app: Any, query: WorklistQuery, text: str, *, as_json: bool) -> None:
    """The worklist as it was at a past moment (an audited read, for incident review)."""
    moment = parse_moment(text, app.settings.clinic.timezone, now=app.now())
    then = worklist_as_of(
        app.engine, actor=app.actor(), query=query, moment=moment, settings=app.settings
    )
    if as_json:
        print_json({"as_of": then.local, **to_json(then.worklist)})
        return
    console.print(f"[bold]Worklist as it was at {then.local}[/] ({then.worklist.query.clinic})")
    console.print("[dim]Reconstructed from history (audit trail, delivery ledger).[/]")
    for s in then.worklist.sections:
        console.print(_table(s))


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(Problem("--date", f"{text!r} is not a date as YYYY-MM-DD")) from None


def _table(section: Section) -> Table:
    colour = STYLE.get(section.key, "white")  # a new section prints before it has a colour
    where = f", page {section.page} of {section.pages}" if section.pages > 1 else ""
    table = Table(
        title=f"[{colour}]{section.title}[/] ({section.count}{where})",
        title_justify="left",
        expand=True,
        show_lines=False,
    )
    table.add_column("Patient", no_wrap=True)
    table.add_column("MRN", no_wrap=True)
    table.add_column("What")
    table.add_column("Window", no_wrap=True)
    table.add_column("When")
    table.add_column("Details", ratio=2)
    if not section.rows:
        table.add_row("[dim]nothing here[/]", "", "", "", "", "")
    for r in section.rows:
        window = f"{r.earliest} – {r.latest}" if r.earliest and r.latest else ""
        what = r.what + (" [bold red]URGENT[/]" if r.urgent else "")
        if r.state not in ("", "planned", "open"):
            what += f" [dim]({r.state})[/]"
        table.add_row(r.patient, r.mrn, what, window, r.timing, r.detail)
    if section.truncated and section.pages == 1:
        table.caption = f"{section.count - len(section.rows)} more: --section {section.key}"
    elif section.truncated:
        table.caption = f"more: --section {section.key} --page {section.page + 1}"
    return table


COMMANDS = [worklist_command]
