"""``surveil hl7``: the MLLP listener for the hospital's feeds, a sender for sample messages,
and the unmatched queue a navigator works."""

import asyncio
import contextlib
from pathlib import Path

import click

from surveil.cli._common import console, get_app, json_option, print_json
from surveil.cli.daemon import configure_logging


@click.group("hl7")
def hl7_group() -> None:
    """HL7 v2 feeds from the hospital (ADT, ORU results, SIU bookings) over MLLP."""


@hl7_group.command("listen")
@click.option("--host", default=None, help="Address to listen on (default [hl7] host).")
@click.option("--port", type=int, default=None, help="TCP port (default [hl7] port, 2575).")
@click.pass_context
def listen(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Receive HL7 v2 messages over MLLP until stopped; one ACK per message.

    \b
    Each message is stored before its ACK, applied once (a resent MSH-10 changes nothing),
    and answered AA (applied), AE (queued for a navigator, the reason in MSA-3/ERR-8) or
    AR (rejected: not a message surveil can read). Several listeners may share a
    PostgreSQL database. Stop with Ctrl-C.
    \b
    Example:
      surveil hl7 listen --host 0.0.0.0 --port 2575
    """
    configure_logging()
    app = get_app(ctx)
    from surveil.hl7.listener import Listener, serve

    settings = app.settings
    where = (host or settings.hl7.host, port if port is not None else settings.hl7.port)
    listener = Listener(app.engine, settings)

    def ready(bound: int) -> None:
        click.echo(f"listening for HL7 (MLLP) on {where[0]}:{bound}", err=True)

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is the way to stop it
        asyncio.run(serve(listener, where[0], where[1], ready))


@hl7_group.command("send")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True, help="The listener's address.")
@click.option("--port", type=int, default=2575, show_default=True, help="The listener's port.")
def send(files: tuple[str, ...], host: str, port: int) -> None:
    """Send the HL7 messages in FILES to a listener and print each ACK code.

    \b
    A file may hold several messages (each starts with an MSH line).
    Example:
      surveil hl7 send tests/data/hl7/oru_cga.hl7 --port 2575
    """
    from surveil.hl7.sender import ack_code, ack_text, messages_in
    from surveil.hl7.sender import send as push

    for name in files:
        acks = push(host, port, messages_in(Path(name)))
        for ack in acks:
            click.echo(f"{name}: {ack_code(ack) or '??'} {ack_text(ack)}")


@hl7_group.command("queue")
@json_option
@click.pass_context
def queue(ctx: click.Context, as_json: bool) -> None:
    """The HL7 messages waiting for a navigator, with what they mean and why they wait.

    \b
    Example:
      surveil --as nina hl7 queue
    """
    from surveil.services.hl7.queue import list_queue

    app = get_app(ctx)
    entries = list_queue(
        app.engine, actor=app.actor(), authority=app.settings.hl7.identifier_authority
    )
    if as_json:
        print_json([entry.__dict__ for entry in entries])
        return
    for entry in entries:
        console.print(f"[bold]{entry.id}[/] {entry.state}: {entry.meaning}")
        console.print(f"    why: {entry.reason}", markup=False)
    if not entries:
        console.print("no HL7 message is waiting")


@hl7_group.command("apply")
@click.argument("message_id", type=int)
@click.option(
    "--patient",
    "patient_id",
    type=int,
    default=None,
    help="The patient (id) the message is about, when PID-3 did not match.",
)
@click.option(
    "--item",
    "item_id",
    type=int,
    default=None,
    help="The follow-up item (id) a booking is for, when several could be meant.",
)
@click.pass_context
def apply_(
    ctx: click.Context, message_id: int, patient_id: int | None, item_id: int | None
) -> None:
    """Apply a queued message, to the patient you name or as it now matches; for a result
    whose triggers and plan kept failing (refresh_failed), re-run them once the cause is fixed.

    \b
    Examples:
      surveil --as nina hl7 apply 12 --patient 3
      surveil --as nina hl7 apply 14 --item 57
    """
    from surveil.services.hl7.queue import apply_queued

    app = get_app(ctx)
    words = apply_queued(
        app.engine,
        actor=app.actor(),
        message_id=message_id,
        patient_id=patient_id,
        item_id=item_id,
        settings=app.settings,
        today=app.today(),
    )
    console.print(words)


@hl7_group.command("dismiss")
@click.argument("message_id", type=int)
@click.option("--reason", required=True, help="Why nothing is to be done with it.")
@click.pass_context
def dismiss(ctx: click.Context, message_id: int, reason: str) -> None:
    """Dismiss a queued message with a reason (it is kept, with who dismissed it and why).

    \b
    Example:
      surveil --as nina hl7 dismiss 12 --reason "test patient from the lab's validation run"
    """
    from surveil.services.hl7.queue import dismiss as dismiss_message

    app = get_app(ctx)
    console.print(
        dismiss_message(app.engine, actor=app.actor(), message_id=message_id, reason=reason)
    )


COMMANDS = [hl7_group]
