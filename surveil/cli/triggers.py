"""``surveil triggers ...`` and ``surveil replan``: findings that need a clinician, and plans."""

import time

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from surveil.cli._common import console, get_app, json_option, print_json
from surveil.db.session import session_scope
from surveil.services.labels import trigger_label
from surveil.services.planning import plans
from surveil.services.registry import patients as registry
from surveil.services.triggers import escalation as service


@click.group()
def triggers() -> None:
    """Growth, size, progression, marker, grade, symptom and missed-injection triggers.

    \b
    A trigger is open until someone acknowledges it, and stays visible until it is resolved
    with an outcome:
      surveil triggers list --open
      surveil triggers ack 12 --by nurse.jones
      surveil triggers resolve 12 --by dr.okafor --outcome "tumour board: continue surveillance"
    """


@triggers.command("list")
@click.option("--open", "open_only", is_flag=True, help="Only open and acknowledged triggers.")
@click.option("--patient", "mrn", help="Only this patient's triggers.")
@json_option
@click.pass_context
def list_(ctx: click.Context, open_only: bool, mrn: str | None, as_json: bool) -> None:
    """List triggers, the most urgent and oldest first."""
    app = get_app(ctx)
    with session_scope(app.engine) as session:
        patient_id = registry.get_patient(session, mrn=mrn, clinic=app.clinic).id if mrn else None
        rows = service.list_triggers(
            session, clinic=app.clinic, open_only=open_only, patient_id=patient_id
        )
        data = [_as_dict(t, p.mrn) for t, p in rows]
    if as_json:
        print_json(data)
        return
    table = Table("id", "MRN", "kind", "state", "detected", "explanation", "action")
    for t in data:
        style = "bold red" if t["urgent"] else None
        table.add_row(
            str(t["id"]),
            str(t["mrn"]),
            trigger_label(str(t["kind"])),
            str(t["state"]),
            str(t["detected_on"]),
            str(t["explanation"]),
            str(t["action"]),
            style=style,
        )
    console.print(table)


def _as_dict(t: object, mrn: str) -> dict[str, object]:
    fields = (
        "id",
        "kind",
        "lesion",
        "value",
        "threshold",
        "unit",
        "confounded",
        "urgent",
        "action",
        "detected_on",
        "explanation",
        "state",
        "acknowledged_by",
        "acknowledged_at",
        "resolved_by",
        "resolved_at",
        "outcome",
        "item_id",
    )
    return {"mrn": mrn, **{f: getattr(t, f) for f in fields}}


@triggers.command("ack")
@click.argument("trigger_id", type=int)
@click.option("--by", required=True, help="Who acknowledges (username).")
@click.pass_context
def ack(ctx: click.Context, trigger_id: int, by: str) -> None:
    """Acknowledge a trigger: someone has seen it (it stays listed until resolved)."""
    app = get_app(ctx)
    with session_scope(app.engine) as session:
        service.acknowledge(session, trigger_id=trigger_id, by=by, clinic=app.clinic)
    console.print(f"trigger #{trigger_id} acknowledged by {by}")


@triggers.command("resolve")
@click.argument("trigger_id", type=int)
@click.option("--by", required=True, help="Who resolves (username).")
@click.option(
    "--outcome",
    required=True,
    help='What was decided, e.g. "referred to surgery" or "false alarm: measurement error".',
)
@click.pass_context
def resolve(ctx: click.Context, trigger_id: int, by: str, outcome: str) -> None:
    """Resolve a trigger with its outcome."""
    app = get_app(ctx)
    with session_scope(app.engine) as session:
        service.resolve(session, trigger_id=trigger_id, by=by, outcome=outcome, clinic=app.clinic)
    console.print(f"trigger #{trigger_id} resolved: {outcome}")


@click.command()
@click.option("--patient", "mrn", help="Replan one patient.")
@click.option("--all", "all_", is_flag=True, help="Replan every patient (with a progress bar).")
@click.option("--chunk", default=500, show_default=True, help="Patients per transaction.")
@json_option
@click.pass_context
def replan(ctx: click.Context, mrn: str | None, all_: bool, chunk: int, as_json: bool) -> None:
    """Re-derive stored plans from the facts and the clinic's protocol profile.

    Unchanged items keep their id; changed ones are superseded (kept, with the reason);
    ordered, booked and done items are never touched. Triggers are evaluated first.
    """
    if bool(mrn) == all_:
        raise click.UsageError("give either --patient MRN or --all")
    app = get_app(ctx)
    started = time.perf_counter()
    if mrn:
        from surveil.services.planning.care import refresh_patient

        with session_scope(app.engine) as session:
            patient = registry.get_patient(session, mrn=mrn, clinic=app.clinic)
            result = refresh_patient(
                session, patient=patient, settings=app.settings, today=app.today()
            ).plan
    else:
        columns = (
            TextColumn("replanning"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]} patients/s"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console, disable=as_json) as progress:
            task = progress.add_task("replan", total=None, rate="…")

            def report(done: int, total: int) -> None:
                rate = done / max(time.perf_counter() - started, 1e-9)
                progress.update(task, completed=done, total=total, rate=f"{rate:,.0f}")

            result = plans.replan_all(
                app.engine, settings=app.settings, today=app.today(), chunk=chunk, progress=report
            )
    seconds = time.perf_counter() - started
    summary = {
        "patients": result.patients,
        "created": result.created,
        "kept": result.kept,
        "superseded": result.superseded,
        "seconds": round(seconds, 2),
    }
    if as_json:
        print_json(summary)
    else:
        console.print(
            f"{result.patients} patient(s): {result.created} item(s) created, "
            f"{result.kept} kept, {result.superseded} superseded in {seconds:.1f} s"
        )


COMMANDS = [triggers, replan]
