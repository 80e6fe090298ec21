"""Keeping the record right from the terminal: strike out or correct a mistyped measurement or
marker (kept in history, audited, triggers evaluated again), record each dose of a therapy given,
and log a call, letter or message to the patient (``services.recordkeeping``)."""

import click

from surveil.cli._common import console, get_app
from surveil.services.outcome import Outcome
from surveil.services.recordkeeping import corrections, doses, outreach
from surveil.services.recordkeeping import panel as panel_of


def _show(outcome: Outcome) -> None:
    console.print(f"[green]{outcome.message}[/]")
    for line in outcome.plan_changes:
        console.print(f"  plan: {line}")
    for kind in outcome.new_triggers:
        console.print(f"  [red]new trigger[/]: {kind}")


def _one_of(measurement: int | None, marker: int | None) -> None:
    if (measurement is None) == (marker is None):
        raise click.UsageError("give exactly one of --measurement ID or --marker ID")


@click.group()
def result() -> None:
    """Put a mistyped measurement or marker result right (never edited in place)."""


@result.command("list")
@click.argument("mrn")
@click.pass_context
def result_list(ctx: click.Context, mrn: str) -> None:
    """List a patient's measurements, markers and therapies with their ids.

    \b
    Example:
      surveil result list 100234
    """
    app = get_app(ctx)
    panel = panel_of.show_results(app.engine, actor=app.actor(), mrn=mrn, clinic=app.clinic)
    for title, rows in (("measurement", panel.measurements), ("marker", panel.markers)):
        for r in rows:
            struck = f"  [dim]{r.struck}[/]" if r.struck else ""
            console.print(f"{title} {r.id}: {r.date} {r.what} {r.value}{struck}")
    for t in panel.therapies:
        console.print(f"therapy {t.id}: {t.label}, {t.course}")


@result.command("strike")
@click.argument("mrn")
@click.option("--measurement", type=int, help="Id of the measurement to strike out.")
@click.option("--marker", type=int, help="Id of the marker result to strike out.")
@click.option("--reason", required=True, help="Why: kept with the struck-out row.")
@click.pass_context
def result_strike(
    ctx: click.Context, mrn: str, measurement: int | None, marker: int | None, reason: str
) -> None:
    """Strike out a result entered in error; a trigger only it raised is withdrawn.

    \b
    Examples:
      surveil result strike 100234 --measurement 812 --reason "another patient's scan"
      surveil result strike 100234 --marker 95 --reason "haemolysed sample"
    """
    _one_of(measurement, marker)
    app = get_app(ctx)
    if measurement is not None:
        outcome = corrections.strike_measurement(
            app.engine,
            actor=app.actor(),
            measurement_id=measurement,
            reason=reason,
            mrn=mrn,
            clinic=app.clinic,
            settings=app.settings,
            today=app.today(),
        )
    else:
        assert marker is not None
        outcome = corrections.strike_marker(
            app.engine,
            actor=app.actor(),
            marker_id=marker,
            reason=reason,
            mrn=mrn,
            clinic=app.clinic,
            settings=app.settings,
            today=app.today(),
        )
    _show(outcome)


@result.command("correct")
@click.argument("mrn")
@click.option("--measurement", type=int, help="Id of the measurement to correct.")
@click.option("--marker", type=int, help="Id of the marker result to correct.")
@click.option("--mm", "diameter_mm", help="The right diameter in mm (a measurement).")
@click.option("--value", help="The right value (a marker result; unit, date and PPI kept).")
@click.option("--reason", required=True, help="Why: kept with the replaced row.")
@click.pass_context
def result_correct(
    ctx: click.Context,
    mrn: str,
    measurement: int | None,
    marker: int | None,
    diameter_mm: str | None,
    value: str | None,
    reason: str,
) -> None:
    """Replace a mistyped result with the right value: the old row is struck out and kept.

    \b
    Examples:
      surveil result correct 100234 --measurement 812 --mm 10.4 --reason "typed 40 for 10.4"
      surveil result correct 100234 --marker 95 --value 90 --reason "one zero too many"
    """
    _one_of(measurement, marker)
    app = get_app(ctx)
    if measurement is not None:
        outcome = corrections.correct_measurement(
            app.engine,
            actor=app.actor(),
            measurement_id=measurement,
            diameter_mm=diameter_mm,
            reason=reason,
            mrn=mrn,
            clinic=app.clinic,
            settings=app.settings,
            today=app.today(),
        )
    else:
        assert marker is not None
        outcome = corrections.correct_marker(
            app.engine,
            actor=app.actor(),
            marker_id=marker,
            value=value,
            reason=reason,
            mrn=mrn,
            clinic=app.clinic,
            settings=app.settings,
            today=app.today(),
        )
    _show(outcome)


@click.group()
def dose() -> None:
    """Each dose of a therapy as given (an SSA injection, a PRRT cycle)."""


@dose.command("add")
@click.argument("mrn")
@click.option("--therapy", "therapy_id", type=int, required=True, help="Id of the therapy.")
@click.option("--given-on", required=True, help="YYYY-MM-DD (not in the future).")
@click.option("--note", default="", help="e.g. injection site, batch.")
@click.pass_context
def dose_add(ctx: click.Context, mrn: str, therapy_id: int, given_on: str, note: str) -> None:
    """Record a dose given; the next one is planned from it.

    \b
    Example:
      surveil dose add 100234 --therapy 31 --given-on 2026-11-20 --note "left buttock"
    """
    app = get_app(ctx)
    _show(
        doses.record_dose(
            app.engine,
            actor=app.actor(),
            mrn=mrn,
            clinic=app.clinic,
            therapy_id=therapy_id,
            given_on=given_on,
            note=note,
            settings=app.settings,
            today=app.today(),
        )
    )


@click.group("outreach")
def outreach_group() -> None:
    """The navigator's log of calls, letters and messages to a patient."""


@outreach_group.command("add")
@click.argument("mrn")
@click.option("--channel", required=True, help="call, letter or message.")
@click.option(
    "--result",
    required=True,
    help="reached, voicemail, no_answer, wrong_number, will_book or declined.",
)
@click.option("--item", "item_id", type=int, help="Id of the follow-up item it was about.")
@click.option("--note", default="", help="What was said or agreed.")
@click.pass_context
def outreach_add(
    ctx: click.Context, mrn: str, channel: str, result: str, item_id: int | None, note: str
) -> None:
    """Log a contact with the patient; the latest shows on their worklist rows.

    \b
    Example:
      surveil outreach add 100234 --channel call --result voicemail --note "will ring back"
    """
    app = get_app(ctx)
    _show(
        outreach.record_outreach(
            app.engine,
            actor=app.actor(),
            mrn=mrn,
            clinic=app.clinic,
            channel=channel,
            result=result,
            item_id=item_id,
            note=note,
            now=app.now(),
        )
    )


COMMANDS = [result, dose, outreach_group]
