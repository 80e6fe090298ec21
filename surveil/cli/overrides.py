"""``surveil override ...``: per-patient exceptions to the protocol."""

import click
from rich.table import Table

from surveil.cli._common import console, get_app, json_option, print_json
from surveil.services.planning import overrides as service


@click.group()
def override() -> None:
    """A clinician's exception to the protocol for one patient and one kind of item.

    \b
    Examples:
      surveil override add D000123 --kind mri --every 3-4 --reason "anxious, wants closer look" \\
        --author dr.okafor
      surveil override add D000123 --kind mri --modality ct --reason "pacemaker" --author dr.okafor
      surveil override add D000123 --kind cga --paused-until 2027-01-31 --reason "on PPI trial" \\
        --author dr.okafor
    The override wins over the pack; every item it shapes names it. The plan is redone at once.
    """


@override.command("add")
@click.argument("mrn")
@click.option("--kind", required=True, help="The item kind, e.g. mri, ct_or_mri, cga.")
@click.option("--every", help="New interval: a number or a range, e.g. 3 or 3-6.")
@click.option("--unit", help="days, weeks or months (default months).")
@click.option("--modality", help="Another scan instead, e.g. ct for mri.")
@click.option("--paused-until", help="Hold this kind until the day after this date.")
@click.option("--reason", required=True, help="Why (shown with every item it changes).")
@click.option("--reason-code", help="Why, coded ([reasons] override; default other).")
@click.option("--author", required=True, help="Who decided (username).")
@click.pass_context
def add(
    ctx: click.Context,
    mrn: str,
    kind: str,
    every: str | None,
    unit: str | None,
    modality: str | None,
    paused_until: str | None,
    reason: str,
    reason_code: str | None,
    author: str,
) -> None:
    """Add an override and re-plan the patient.

    \b
    Example:
      surveil override add 100234 --kind mri --every 3-4 --reason "anxious, wants closer look" \\
        --author dr.okafor
    """
    app = get_app(ctx)
    override_id = service.add_override(
        app.engine,
        actor=app.actor(),
        mrn=mrn,
        clinic=app.clinic,
        kind=kind,
        every=every,
        unit=unit,
        modality=modality,
        paused_until=paused_until,
        reason=reason,
        author=author,
        settings=app.settings,
        today=app.today(),
        reason_code=reason_code,
    )
    console.print(f"override #{override_id} added for {mrn}; the plan was redone")


@override.command("list")
@click.argument("mrn")
@click.option("--all", "include_inactive", is_flag=True, help="Include ended overrides.")
@json_option
@click.pass_context
def list_(ctx: click.Context, mrn: str, include_inactive: bool, as_json: bool) -> None:
    """List a patient's overrides.

    \b
    Examples:
      surveil override list 100234
      surveil override list 100234 --all --json
    """
    app = get_app(ctx)
    rows = service.show_overrides(
        app.engine,
        actor=app.actor(),
        mrn=mrn,
        clinic=app.clinic,
        include_inactive=include_inactive,
    )
    if as_json:
        print_json(rows)
        return
    table = Table("id", "kind", "every", "modality", "paused until", "reason", "author", "active")
    for r in rows:
        every = (
            f"{r['interval_min']}–{r['interval_max']} {r['interval_unit']}"
            if r["interval_min"]
            else ""
        )
        table.add_row(
            str(r["id"]),
            r["kind"],
            every,
            r["modality"] or "",
            str(r["paused_until"] or ""),
            r["reason"],
            r["author"],
            str(r["active"]),
        )
    console.print(table)


@override.command("end")
@click.argument("mrn")
@click.argument("override_id", type=int)
@click.pass_context
def end(ctx: click.Context, mrn: str, override_id: int) -> None:
    """End an override: the pack's schedule applies again.

    \b
    Example:
      surveil override end 100234 7      (7: the id shown by surveil override list)
    """
    app = get_app(ctx)
    service.end_override(
        app.engine,
        actor=app.actor(),
        mrn=mrn,
        clinic=app.clinic,
        override_id=override_id,
        settings=app.settings,
        today=app.today(),
    )
    console.print(f"override #{override_id} ended; the plan was redone")


COMMANDS = [override]
