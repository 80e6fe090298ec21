"""``surveil replies ...``: patients' answers to reminders that need a person, from a terminal.

Replies from known patients are listed with the worklist (``surveil worklist --section replies``);
these commands close them, and deal with texts from numbers no patient has.
"""

import click
from rich.table import Table

from surveil.cli._common import console, get_app, json_option, print_json
from surveil.services.reminders.replies import mark_reply_handled
from surveil.services.reminders.unmatched_replies import (
    UnmatchedReply,
    dismiss_reply,
    match_reply,
    show_unmatched,
)


@click.group()
def replies() -> None:
    """Patients' replies to reminders: mark them handled, and say whose a text from an unknown
    number is.

    \b
      surveil worklist --section replies                 patients' replies waiting
      surveil replies handled 7 --note "called back, rebooked for Tuesday"
      surveil replies unknown                            texts from numbers no patient has
      surveil replies match 9 --mrn 100234               it was this patient, on a new phone
      surveil replies dismiss 10 --note "wrong number"
    """


@replies.command("unknown")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@json_option
@click.pass_context
def unknown(ctx: click.Context, limit: int, as_json: bool) -> None:
    """List texts from numbers no patient has, oldest first.

    \b
    Example:
      surveil replies unknown --json
    """
    found = show_unmatched(get_app(ctx).engine, rows=limit)
    if as_json:
        print_json([_as_json(r) for r in found.rows])
        return
    table = Table("id", "received (UTC)", "from", "reply", "what they wrote")
    for r in found.rows:
        received = r.received_at.strftime("%Y-%m-%d %H:%M")
        table.add_row(str(r.reply_id), received, r.sender, r.kind.value, r.text)
    console.print(table)
    more = f" (the oldest {len(found.rows)} shown)" if found.truncated else ""
    console.print(f"{found.count} waiting{more}")


def _as_json(reply: UnmatchedReply) -> dict[str, str | int]:
    return {
        "id": reply.reply_id,
        "kind": reply.kind.value,
        "channel": reply.channel,
        "from": reply.sender,
        "text": reply.text,
        "received_at": reply.received_at.isoformat(),
    }


@replies.command("handled")
@click.argument("reply_id", type=int)
@click.option("--note", required=True, help="What was done: called back, rebooked, noted the STOP.")
@click.pass_context
def handled(ctx: click.Context, reply_id: int, note: str) -> None:
    """Mark a patient's reply handled (it leaves the worklist).

    \b
    Example:
      surveil replies handled 7 --note "called back, rebooked for Tuesday"
    """
    app = get_app(ctx)
    mark_reply_handled(app.engine, actor=app.actor(), reply_id=reply_id, note=note)
    console.print(f"reply #{reply_id} handled")


@replies.command("match")
@click.argument("reply_id", type=int)
@click.option("--mrn", required=True, help="The MRN of the patient who sent it.")
@click.pass_context
def match(ctx: click.Context, reply_id: int, mrn: str) -> None:
    """Say whose a text from an unknown number is: it then acts for that patient (a STOP stops
    their texts, a "call me" joins their replies).

    \b
    Example:
      surveil replies match 9 --mrn 100234
    """
    app = get_app(ctx)
    match_reply(
        app.engine, actor=app.actor(), reply_id=reply_id, mrn=mrn, clinic=app.clinic, now=app.now()
    )
    console.print(f"reply #{reply_id} matched to MRN {mrn}")


@replies.command("dismiss")
@click.argument("reply_id", type=int)
@click.option("--note", required=True, help="Why nobody needs to act on it, e.g. wrong number.")
@click.pass_context
def dismiss(ctx: click.Context, reply_id: int, note: str) -> None:
    """Dismiss a text from an unknown number, saying why.

    \b
    Example:
      surveil replies dismiss 10 --note "wrong number, told them"
    """
    app = get_app(ctx)
    dismiss_reply(app.engine, actor=app.actor(), reply_id=reply_id, note=note, now=app.now())
    console.print(f"reply #{reply_id} dismissed")


COMMANDS = (replies,)
