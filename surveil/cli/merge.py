"""``surveil patient merge``, ``unmerge`` and ``purge-merge``: two records of one patient made
one, undone, or made final. Administrators only (the service's rule); the commands join the
``patient`` group."""

import click

from surveil.cli._common import console, get_app
from surveil.cli.patients import patient
from surveil.services.records import merge as merging


@patient.command("merge")
@click.argument("keep")
@click.argument("gone")
@click.option("--reason", default="", help="Why the two records are one patient.")
@click.pass_context
def merge(ctx: click.Context, keep: str, gone: str, reason: str) -> None:
    """Merge the record GONE into KEEP (both MRNs of this clinic): GONE's results, therapies,
    triggers, items' history and sent reminders move to KEEP, GONE's open items are cancelled
    and its feeds revoked, and KEEP is replanned. Undo with ``surveil patient unmerge GONE``.

    \b
    Example:
      surveil --as admin patient merge 100234 100999 --reason "duplicate made at referral"
    """
    app = get_app(ctx)
    result = merging.merge_patients(
        app.engine,
        actor=app.actor(),
        keep_mrn=keep,
        gone_mrn=gone,
        clinic=app.clinic,
        reason=reason,
        settings=app.settings,
        today=app.today(),
        now=app.now(),
    )
    console.print(result.message)


@patient.command("unmerge")
@click.argument("gone")
@click.option("--reason", default="", help="Why the merge is undone.")
@click.pass_context
def unmerge(ctx: click.Context, gone: str, reason: str) -> None:
    """Undo the merge of GONE: every row the merge moved goes back, GONE's state before the
    merge is current again, the calendar feeds the merge revoked work again (unless GONE has
    died or been discharged since) and both records are replanned. Refused once the merge has
    been made final with ``surveil patient purge-merge GONE``.

    \b
    Example:
      surveil --as admin patient unmerge 100999 --reason "two different people after all"
    """
    app = get_app(ctx)
    result = merging.unmerge_patient(
        app.engine,
        actor=app.actor(),
        gone_mrn=gone,
        clinic=app.clinic,
        reason=reason,
        settings=app.settings,
        today=app.today(),
        now=app.now(),
    )
    console.print(result.message)


@patient.command("purge-merge")
@click.argument("gone")
@click.option("--reason", default="", help="Why the merge is final (who checked it).")
@click.pass_context
def purge_merge(ctx: click.Context, gone: str, reason: str) -> None:
    """Make the merge of GONE final: ``surveil patient unmerge GONE`` is refused after it.
    Administrators only; audited. GONE stays as an empty, discharged record.

    \b
    Example:
      surveil --as admin patient purge-merge 100999 --reason "checked with medical records"
    """
    app = get_app(ctx)
    result = merging.purge_merge(
        app.engine,
        actor=app.actor(),
        gone_mrn=gone,
        clinic=app.clinic,
        reason=reason,
        now=app.now(),
    )
    console.print(result.message)


COMMANDS: list[click.Command] = []  # the commands join ``patient`` (registered by patients)
