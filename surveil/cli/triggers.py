"""``surveil triggers ...`` and ``surveil replan``: findings that need a clinician, and plans."""

import time

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from surveil.cli._common import console, get_app, json_option, print_json
from surveil.errors import InvalidInput, Problem
from surveil.services.actor import Actor
from surveil.services.labels import trigger_label
from surveil.services.planning import replan as replanning
from surveil.services.records import trigger_review
from surveil.services.triggers import review


@click.group()
def triggers() -> None:
    """Growth, size, progression, marker, grade, symptom and missed-injection triggers.

    \b
    A trigger is open until someone acknowledges it, and stays visible until it is resolved
    with an outcome:
      surveil triggers list --open
      surveil triggers ack 12
      surveil --as dr.okafor triggers confirm 12
      surveil --as dr.okafor triggers resolve 12 --outcome "tumour board: continue surveillance"
      surveil --as dr.okafor triggers reopen 12 --reason "second opinion: growth is real"
    """


@triggers.command("list")
@click.option("--open", "open_only", is_flag=True, help="Only open and acknowledged triggers.")
@click.option("--patient", "mrn", help="Only this patient's triggers.")
@json_option
@click.pass_context
def list_(ctx: click.Context, open_only: bool, mrn: str | None, as_json: bool) -> None:
    """List triggers, the most urgent and oldest first.

    \b
    Examples:
      surveil triggers list --open
      surveil triggers list --patient 100234 --json
    """
    app = get_app(ctx)
    data = review.show_triggers(
        app.engine, actor=app.actor(), clinic=app.clinic, open_only=open_only, mrn=mrn
    )
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


def _acting(app_actor: Actor, by: str | None) -> Actor:
    """``--by`` is kept for old scripts, but it may only name the acting user (``--as``): who
    acknowledged or resolved a trigger is recorded from the account, never typed in."""
    if by is not None and by.strip().lower() != app_actor.username:
        raise InvalidInput(
            Problem("--by", f"you act as {app_actor.username!r} (--as); {by!r} cannot act here"),
            what="trigger review",
        )
    return app_actor


@triggers.command("ack")
@click.argument("trigger_id", type=int)
@click.option("--by", help="Who acknowledges: must be the acting user (--as), who is recorded.")
@click.pass_context
def ack(ctx: click.Context, trigger_id: int, by: str | None) -> None:
    """Acknowledge a trigger: someone has seen it (it stays listed until resolved).

    \b
    Example:
      surveil triggers ack 12 --by nurse.jones     (12: the id shown by surveil triggers list)
    """
    app = get_app(ctx)
    actor = _acting(app.actor(), by)
    review.acknowledge_trigger(app.engine, trigger_id=trigger_id, actor=actor, now=app.now())
    console.print(f"trigger #{trigger_id} acknowledged by {actor.username}")


@triggers.command("resolve")
@click.argument("trigger_id", type=int)
@click.option("--by", help="Who resolves: must be the acting user (--as), who is recorded.")
@click.option(
    "--outcome-code",
    help="The coded outcome, from [reasons] trigger_outcome (see `surveil item reasons`), e.g. "
    "confirmed_progression, false_alarm, measurement_error, clinically_insignificant, other "
    "(the default; then --outcome is needed). false_alarm and measurement_error undo what the "
    "trigger changed.",
)
@click.option(
    "--outcome",
    default="",
    help='What was decided, in words, e.g. "referred to surgery" or "tumour board: continue '
    'surveillance".',
)
@click.option(
    "--false-alarm",
    is_flag=True,
    help="A false alarm (the code false_alarm unless --outcome-code says measurement_error): "
    "undo everything the trigger changed (state, imaging interval, pause, unbooked orders). "
    "The tumour-board item stays.",
)
@click.pass_context
def resolve(
    ctx: click.Context,
    trigger_id: int,
    by: str | None,
    outcome_code: str | None,
    outcome: str,
    false_alarm: bool,
) -> None:
    """Resolve a trigger with a coded outcome and its words. Clinical findings (growth, size,
    RECIST, marker rise, grade change, symptoms) need a clinician; a missed SSA dose a
    navigator may close.

    \b
    Examples:
      surveil --as dr.okafor triggers resolve 12 --outcome-code confirmed_progression \\
        --outcome "tumour board: start treatment"
      surveil --as dr.okafor triggers resolve 12 --outcome-code measurement_error \\
        --outcome "re-measured on the same plane: 12 mm"
      surveil --as dr.okafor triggers resolve 12 --outcome "tumour board: continue surveillance"
    """
    app = get_app(ctx)
    actor = _acting(app.actor(), by)
    result = trigger_review.resolve_trigger(
        app.engine,
        trigger_id=trigger_id,
        actor=actor,
        outcome=outcome,
        outcome_code=outcome_code,
        false_alarm=false_alarm,
        settings=app.settings,
        today=app.today(),
        now=app.now(),
    )
    console.print(result.message)


@triggers.command("note")
@click.argument("trigger_id", type=int)
@click.option("--text", required=True, help="The note (up to 500 characters).")
@click.pass_context
def note(ctx: click.Context, trigger_id: int, text: str) -> None:
    """Add a note to a trigger (anyone who may see the patient); it is kept in the patient's
    timeline.

    \b
    Example:
      surveil triggers note 12 --text "patient called: MRI booked for Friday"
    """
    app = get_app(ctx)
    result = review.note_trigger(
        app.engine, trigger_id=trigger_id, actor=app.actor(), note=text, now=app.now()
    )
    console.print(result.message)


@triggers.command("confirm")
@click.argument("trigger_id", type=int)
@click.pass_context
def confirm(ctx: click.Context, trigger_id: int) -> None:
    """Confirm what a trigger proposes (leave surveillance, shorter imaging, a paused plan):
    a clinician's decision; the plan is re-derived at once.

    \b
    Example:
      surveil --as dr.okafor triggers confirm 12
    """
    app = get_app(ctx)
    result = trigger_review.confirm_consequences(
        app.engine,
        trigger_id=trigger_id,
        actor=app.actor(),
        settings=app.settings,
        today=app.today(),
        now=app.now(),
    )
    console.print(result.message)


@triggers.command("reopen")
@click.argument("trigger_id", type=int)
@click.option("--reason", required=True, help="Why the resolution is re-opened.")
@click.pass_context
def reopen(ctx: click.Context, trigger_id: int, reason: str) -> None:
    """Re-open a resolved trigger (a clinician, with the reason): its consequences are proposed
    again and the plan re-derived; the earlier resolution stays in the audit.

    \b
    Example:
      surveil --as dr.okafor triggers reopen 12 --reason "new scan shows growth after all"
    """
    app = get_app(ctx)
    result = trigger_review.reopen_trigger(
        app.engine,
        trigger_id=trigger_id,
        actor=app.actor(),
        reason=reason,
        settings=app.settings,
        today=app.today(),
        now=app.now(),
    )
    console.print(result.message)


@click.command()
@click.option("--patient", "mrn", help="Replan one patient.")
@click.option(
    "--all",
    "all_",
    is_flag=True,
    help="Replan every patient you may see (an administrator: every clinic), with a progress bar.",
)
@click.option("--chunk", default=500, show_default=True, help="Patients per transaction.")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    help="With --all on PostgreSQL: split the run between this many processes (one per core).",
)
@click.option(
    "--full",
    is_flag=True,
    help="With --all: derive every plan again, also for the patients whose facts, items, "
    "overrides and triggers have not changed since a run found their plan stable (skipped "
    "by default).",
)
@json_option
@click.pass_context
def replan(
    ctx: click.Context,
    mrn: str | None,
    all_: bool,
    chunk: int,
    workers: int,
    full: bool,
    as_json: bool,
) -> None:
    """Re-derive stored plans from the facts and the clinic's protocol profile.

    Unchanged items keep their id; changed ones are superseded (kept, with the reason);
    ordered, booked and done items are never touched. Triggers are evaluated first. With
    --all, a patient is skipped when nothing it is planned from has changed since a run found
    its plan stable, and no date it depends on (a birthday, an injection falling due) has come.

    \b
    Examples:
      surveil replan --patient 100234
      surveil replan --all        (after changing the clinic's protocol profile)
      surveil replan --all --workers 2   (PostgreSQL: two processes)
      surveil replan --all --full        (derive every plan again, skipping none)
    """
    if bool(mrn) == all_:
        raise click.UsageError("give either --patient MRN or --all")
    if mrn and (workers != 1 or full):
        raise click.UsageError("--workers and --full go with --all")
    app = get_app(ctx)
    actor = app.actor()
    started = time.perf_counter()
    if mrn:
        result = replanning.replan_patient(
            app.engine,
            actor=actor,
            mrn=mrn,
            clinic=app.clinic,
            settings=app.settings,
            today=app.today(),
        )
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

            result = replanning.replan_every_patient(
                app.engine,
                actor=actor,
                settings=app.settings,
                today=app.today(),
                chunk=chunk,
                progress=report,
                workers=workers,
                full=full,
            )
    seconds = time.perf_counter() - started
    summary = {
        "patients": result.patients,
        "created": result.created,
        "kept": result.kept,
        "superseded": result.superseded,
        "skipped": result.skipped,
        "seconds": round(seconds, 2),
    }
    if as_json:
        print_json(summary)
    else:
        console.print(
            f"{result.patients} patient(s): {result.created} item(s) created, "
            f"{result.kept} kept, {result.superseded} superseded in {seconds:.1f} s"
            + (
                f" ({result.skipped} unchanged since the last run, not planned again)"
                if result.skipped
                else ""
            )
        )


COMMANDS = [triggers, replan]
