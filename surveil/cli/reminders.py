"""``surveil reminders ...``: look at the outbox, send what is due once, retry a failure."""

import dataclasses

import click
from rich.table import Table

from surveil.cli._common import console, get_app, json_option, print_json
from surveil.cli.daemon import configure_logging
from surveil.services.feeds.manage import find_patient
from surveil.services.reminders.history import message_history
from surveil.services.reminders.hours import set_send_window
from surveil.services.reminders.outbox import (
    STATES,
    ReminderView,
    list_outbox,
    preview_due,
    retry_reminder,
)


@click.group()
def reminders() -> None:
    """Reminder messages: what is queued, sent, suppressed or failed, and why.

    \b
      surveil reminders list --status failed     what did not get through, with the error
      surveil reminders send-due --once --dry-run what would go out now (subjects only)
      surveil reminders send-due --once          send it now (the daemon does this by itself)
      surveil reminders retry 42                 queue a failed reminder again
      surveil reminders hours 1234 --window 17:00-20:00   remind patient 1234 at those hours
      surveil reminders history 1234             every message to patient 1234, every attempt
    \b
    States: pending (waiting for its time or a retry), sending, sent, failed (needs a person;
    also on the worklist), suppressed (not sent on purpose: the reason is shown), unknown (a
    daemon died while sending; it is sent again and marked "resent").
    """


@reminders.command("list")
@click.option("--status", type=click.Choice(STATES), help="Only reminders in this state.")
@click.option("--limit", default=200, show_default=True, help="At most this many rows.")
@json_option
@click.pass_context
def list_(ctx: click.Context, status: str | None, limit: int, as_json: bool) -> None:
    """List reminders, oldest send time first. Addresses are never shown.

    \b
    Examples:
      surveil reminders list --status failed
      surveil reminders list --limit 20 --json
    """
    app = get_app(ctx)
    rows = list_outbox(app.engine, actor=app.actor(), status=status, limit=limit)
    if as_json:
        print_json([dataclasses.asdict(row) for row in rows])
        return
    if not rows:
        console.print(f"No reminders{f' in state {status}' if status else ''}.")
        return
    table = Table(title=f"Reminders{f' ({status})' if status else ''}")
    for column in ("id", "state", "channel", "stage", "to", "send after (UTC)", "tries", "note"):
        table.add_column(column, justify="right" if column in ("id", "tries") else "left")
    for row in rows:
        table.add_row(
            str(row.id),
            _state(row),
            row.channel,
            row.stage,
            row.to,
            f"{row.send_after:%Y-%m-%d %H:%M}",
            str(row.attempts),
            _note(row),
        )
    console.print(table)


# --once is accepted (and ignored) because one round is all this command does; scripts that say
# so explicitly keep working.
@reminders.command("send-due")
@click.option(
    "--once", is_flag=True, help="One round, then exit (the only mode; the daemon loops)."
)
@click.option("--dry-run", is_flag=True, help="Show what would be sent; send and change nothing.")
@click.pass_context
def send_due(ctx: click.Context, once: bool, dry_run: bool) -> None:  # noqa: ARG001
    """Send the reminders that are due now, once (recover, plan, send).

    With --dry-run nothing is sent and nothing in the database changes: each due reminder is
    checked and rendered, and its subject (never the address or the body) is printed.

    \b
    Examples:
      surveil reminders send-due --once --dry-run
      surveil reminders send-due --once
    """
    app = get_app(ctx)
    if dry_run:
        lines = preview_due(app.engine, app.settings, app.now())
        if not lines:
            console.print("Nothing is due.")
            return
        table = Table(title="Due now (dry run: nothing sent)")
        for column in ("id", "channel", "template", "would", "subject / reason"):
            table.add_column(column)
        for line in lines:
            table.add_row(str(line.id), line.channel, line.template, line.outcome, line.detail)
        console.print(table)
        return
    actor = app.actor()  # the round's changes are audited under the user who ran it
    configure_logging()
    from surveil.daemon import Daemon  # APScheduler is imported only when a round is run

    daemon = Daemon(app.settings, engine=app.engine, actor=actor)
    try:
        summary = daemon.run_once()
    finally:
        daemon.close()
    console.print(
        f"recovered {summary['recovered']}, planned {summary['planned']}, "
        f"handled {summary['handled']} reminder(s); see: surveil reminders list"
    )


@reminders.command("retry")
@click.argument("reminder_id", type=int)
@click.pass_context
def retry_(ctx: click.Context, reminder_id: int) -> None:
    """Queue a failed, unknown or suppressed reminder again (checked again before sending).

    \b
    Example:
      surveil reminders retry 42      (42: the id shown by surveil reminders list)
    """
    app = get_app(ctx)
    row = retry_reminder(app.engine, actor=app.actor(), reminder_id=reminder_id, now=app.now())
    console.print(
        f"Reminder {row.id} ({row.channel}, {row.stage}, {row.to}) is pending again; "
        "the daemon sends it at its next round, or run: surveil reminders send-due --once"
    )


@reminders.command("hours")
@click.argument("mrn")
@click.option(
    "--window",
    default=None,
    metavar="HH:MM-HH:MM",
    help="Preferred hours on the patient's clock, e.g. 17:00-20:00.",
)
@click.option("--clear", is_flag=True, help="Back to the clinic's send time.")
@click.pass_context
def hours_(ctx: click.Context, mrn: str, window: str | None, clear: bool) -> None:  # fmt: skip
    """Set when a patient is reminded: a window on their clock, outside the clinic's quiet hours.

    Reminders are then planned at the window's start (17:00 stays 17:00 across a clock change);
    waiting reminders move to it.

    \b
    Examples:
      surveil reminders hours 1234 --window 17:00-20:00
      surveil reminders hours 1234 --clear
    """
    if (window is None) == (not clear):
        raise click.UsageError("give --window HH:MM-HH:MM or --clear")
    start, _, end = (window or "").partition("-")
    app = get_app(ctx)
    actor = app.actor()
    patient_id = find_patient(app.engine, actor=actor, mrn=mrn, clinic=app.clinic)
    hours = set_send_window(
        app.engine, actor=actor, patient_id=patient_id, start=start, end=end,
        settings=app.settings, now=app.now(),
    )  # fmt: skip
    when = hours.window or f"the clinic's send time, {hours.send_time} their time"
    console.print(
        f"Patient {mrn}: reminders at {when} (quiet hours {hours.quiet}); cadence: "
        f"{hours.cadence}; {hours.moved} waiting reminder(s) moved"
    )


@reminders.command("history")
@click.argument("mrn")
@json_option
@click.pass_context
def history_(ctx: click.Context, mrn: str, as_json: bool) -> None:
    """Every message to a patient: channel, state, why not sent, and every attempt.

    \b
    Examples:
      surveil reminders history 1234
      surveil reminders history 1234 --json
    """
    app = get_app(ctx)
    actor = app.actor()
    patient_id = find_patient(app.engine, actor=actor, mrn=mrn, clinic=app.clinic)
    entries = message_history(app.engine, actor=actor, patient_id=patient_id)
    if as_json:
        print_json([dataclasses.asdict(entry) for entry in entries])
        return
    if not entries:
        console.print(f"No message to patient {mrn}.")
        return
    table = Table(title=f"Messages to patient {mrn}")
    for column in ("id", "due (UTC)", "channel", "about", "state", "attempts", "reason"):
        table.add_column(column)
    for entry in entries:
        attempts = ", ".join(a.status for a in entry.attempts) or "-"
        state = f"{entry.state} (possible duplicate)" if entry.possible_duplicate else entry.state
        table.add_row(
            str(entry.id), f"{entry.due_at:%Y-%m-%d %H:%M}", entry.channel,
            entry.about or "-", state, attempts, entry.reason,
        )  # fmt: skip
    console.print(table)


def _state(row: ReminderView) -> str:
    colour = {"failed": "red", "unknown": "yellow", "sent": "green", "suppressed": "dim"}
    style = colour.get(row.state)
    return f"[{style}]{row.state}[/]" if style else row.state


def _note(row: ReminderView) -> str:
    notes = []
    if row.suppressed_reason:
        notes.append(row.suppressed_reason)
    if row.last_error:
        notes.append(row.last_error[:80])
    if row.next_attempt_at and row.state == "pending":
        notes.append(f"retry at {row.next_attempt_at:%H:%M} UTC")
    if row.resent_after_unknown:
        notes.append("resent after a crash (may have arrived twice)")
    return "; ".join(notes)


COMMANDS = [reminders]
