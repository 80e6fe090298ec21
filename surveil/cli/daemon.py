"""``surveil daemon``: the background process that plans, sends and retries reminders."""

import logging

import click

from surveil import logs
from surveil.cli._common import console, get_app


def configure_logging() -> None:
    """Timestamped, scrubbed lines on stderr (``surveil.logs``)."""
    logs.configure_logging()
    # APScheduler logs every job run at INFO: one line per tick per job is noise, not news.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


@click.command("daemon")
@click.option(
    "--once", is_flag=True, help="One round (recover, plan, digest, send what is due), then exit."
)
@click.pass_context
def daemon(ctx: click.Context, once: bool) -> None:
    """Send reminders by email and SMS, in the background, until stopped.

    \b
    Every few seconds it sends what is due (daemon.dispatch_seconds), plans new reminders
    from the follow-up items (daemon.plan_minutes), recovers what a crashed daemon left half
    sent, and once a day emails each navigator a digest (daemon.digest_time, clinic time).
    A crash may repeat one message; it never drops one (docs/reminders.md).
    \b
    Stop it with Ctrl-C or SIGTERM: the message being sent is finished first.
    On PostgreSQL several daemons may run on different machines; on SQLite only one.
    For a dry run, set daemon.email_channel = "log": nothing is sent and nothing is used
    up (the ledger notes what would go); switch back and what is still due is sent.

    \b
    Examples:
      surveil daemon
      surveil daemon --once      (one round, then exit: for cron or a quick check)
    """
    configure_logging()
    app = get_app(ctx)
    from surveil.daemon import run  # APScheduler is imported only by this command

    summary = run(app.settings, once=once)
    if summary is not None:
        console.print(
            f"recovered {summary['recovered']}, planned {summary['planned']}, "
            f"digests {summary['digests']}, handled {summary['handled']} reminder(s)"
        )


COMMANDS = [daemon]
