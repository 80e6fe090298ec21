"""``surveil report ...``: counts over the registry (no patient named)."""

import dataclasses
import datetime as dt

import click
from rich.table import Table

from surveil.cli._common import console, get_app, json_option, print_json
from surveil.services.reports.reasons import count_reasons


@click.group()
def report() -> None:
    """Counts over the registry.

    \b
    Example:
      surveil --as dr.okafor report reasons --since 2026-01-01
    """


@report.command("reasons")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="Only decisions from this day on.")
@json_option
@click.pass_context
def reasons(ctx: click.Context, since: dt.datetime | None, as_json: bool) -> None:
    """How often each rule is declined, not needed, snoozed, booked outside its window,
    overridden or reopened, and why; and the outcomes of resolved triggers.

    \b
    Example:
      surveil --as dr.okafor report reasons --since 2026-01-01 --json
    """
    app = get_app(ctx)
    rows = count_reasons(app.engine, actor=app.actor(), since=since.date() if since else None)
    if as_json:
        print_json([dataclasses.asdict(r) for r in rows])
        return
    table = Table("decision", "rule", "reason", "count")
    for r in rows:
        table.add_row(r.decision, r.rule, r.reason, str(r.count))
    console.print(table if rows else "No coded reasons recorded yet.")


COMMANDS = [report]
