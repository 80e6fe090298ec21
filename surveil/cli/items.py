"""``surveil item ...``: corrections and late work on one follow-up item (issue 14)."""

import click

from surveil.cli._common import console, get_app
from surveil.services.reasons import KINDS, choices
from surveil.services.records import actions, bookings, late, reopen
from surveil.services.records.actions import DoneInput


@click.group()
def item() -> None:
    """Reopen a closed item, record late work, or undo a booking that did not happen.

    \b
    Examples:
      surveil --as dr.okafor item reopen 42 --reason-code recorded_in_error --reason "wrong patient"
      surveil --as nina item done-late 42 --on 2026-11-05 --where "St Mary's Hospital"
      surveil --as nina item no-show 42 --note "did not come, phoned twice"
    Item ids are on the patient page (#item-ID) and in `surveil worklist --json` (item_id).
    """


@item.command("reopen")
@click.argument("item_id", type=int)
@click.option("--reason-code", required=True, help="Why, from [reasons] reopened in the config.")
@click.option("--reason", required=True, help="Why, in words (kept with the audit).")
@click.pass_context
def reopen_command(ctx: click.Context, item_id: int, reason_code: str, reason: str) -> None:
    """Reopen a done, declined or not-needed item, or end a snooze early (clinicians only).

    The correction is a new audited event; the item is planned again and the patient's plan is
    re-derived (a reopened "done" no longer anchors the next window).

    \b
    Example:
      surveil --as dr.okafor item reopen 42 --reason-code recorded_in_error --reason "wrong patient"
    """
    app = get_app(ctx)
    result = reopen.reopen_item(
        app.engine,
        item_id=item_id,
        actor=app.actor(),
        reason_code=reason_code,
        reason=reason,
        settings=app.settings,
        today=app.today(),
    )
    console.print(result.message)


@item.command("done-late")
@click.argument("item_id", type=int)
@click.option("--on", "completed_on", required=True, help="The day it was done (YYYY-MM-DD).")
@click.option("--where", help="Done elsewhere: the hospital or practice.")
@click.option("--on-paper", is_flag=True, help="Done here, recorded only on paper.")
@click.option("--marker-value", help="The marker's value, for a marker item.")
@click.option("--note", default="", help="Anything else worth keeping.")
@click.pass_context
def done_late(
    ctx: click.Context,
    item_id: int,
    completed_on: str,
    where: str | None,
    on_paper: bool,
    marker_value: str | None,
    note: str,
) -> None:
    """Record an item done on a past date, elsewhere or on paper (also a declined item).

    The next window anchors on that date.

    \b
    Example:
      surveil --as nina item done-late 42 --on 2026-11-05 --where "St Mary's Hospital"
    """
    app = get_app(ctx)
    result = late.record_late_result(
        app.engine,
        item_id=item_id,
        actor=app.actor(),
        data=DoneInput(completed_on=completed_on, marker_value=marker_value, note=note),
        where=where,
        on_paper=on_paper,
        settings=app.settings,
        today=app.today(),
    )
    console.print(result.message)


def _unbook_command(name: str, words: str) -> click.Command:
    function = bookings.cancel_booking if name == "cancel-booking" else bookings.record_no_show

    @click.command(name, help=words)
    @click.argument("item_id", type=int)
    @click.option("--note", default="", help="What happened.")
    @click.pass_context
    def command(ctx: click.Context, item_id: int, note: str) -> None:
        app = get_app(ctx)
        result = function(
            app.engine,
            item_id=item_id,
            actor=app.actor(),
            note=note,
            settings=app.settings,
            today=app.today(),
        )
        console.print(result.message)

    return command


item.add_command(
    _unbook_command(
        "cancel-booking",
        "The appointment was cancelled: the item is due again and the attempt is kept.\n\n"
        '\b\nExample:\n  surveil --as nina item cancel-booking 42 --note "scanner down"',
    )
)
item.add_command(
    _unbook_command(
        "no-show",
        "The patient did not come: the item is due again and the missed attempt is kept.\n\n"
        '\b\nExample:\n  surveil --as nina item no-show 42 --note "did not come"',
    )
)


def _closing_command(name: str, kind: str, words: str, example: str) -> click.Command:
    """``item decline`` / ``item not-needed``: close an item with a code from this clinic's
    ``[reasons]`` list (the same list the web offers) and the words."""

    @click.command(name, help=f"{words}\n\n\b\nExample:\n  {example}")
    @click.argument("item_id", type=int)
    @click.option(
        "--reason-code",
        help=f"Why, from [reasons] {kind} in the config (`surveil item reasons`; default other).",
    )
    @click.option("--reason", required=True, help="Why, in words (kept with the item).")
    @click.pass_context
    def command(ctx: click.Context, item_id: int, reason_code: str | None, reason: str) -> None:
        app = get_app(ctx)
        close = actions.mark_declined if kind == "declined" else actions.mark_not_needed
        result = close(
            app.engine,
            item_id=item_id,
            actor=app.actor(),
            reason=reason,
            reason_code=reason_code,
            reasons=app.settings.reasons,
        )
        console.print(result.message)

    return command


item.add_command(
    _closing_command(
        "decline",
        "declined",
        "Close an item the patient declined, with a coded reason and the words.",
        'surveil item decline 42 --reason-code cannot_travel --reason "moving abroad in May"',
    )
)
item.add_command(
    _closing_command(
        "not-needed",
        "not_needed",
        "Close an item that is not needed, with a coded reason and the words.",
        'surveil item not-needed 42 --reason-code done_elsewhere --reason "MRI at Leeds, 2 Nov"',
    )
)


@item.command("reasons")
@click.pass_context
def reasons_command(ctx: click.Context) -> None:
    """List the coded reasons this clinic offers ([reasons] in the config).

    \b
    Example:
      surveil item reasons
    """
    app = get_app(ctx)
    for kind in KINDS:
        console.print(f"{kind}: {', '.join(choices(app.settings.reasons, kind))}")


COMMANDS = [item]
