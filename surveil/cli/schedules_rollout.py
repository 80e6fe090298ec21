"""``surveil schedules diff | activate | rollback | history``: see whom a protocol change affects,
then put it in force on a clinician's approval, or take it back (issue 15)."""

import csv
import datetime as dt
import time
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from surveil.cli._common import App, console, get_app, json_option, print_json
from surveil.errors import InvalidInput, Problem
from surveil.services.rollout import activation, diff


def _date(raw: str | None, name: str, default: dt.date) -> dt.date:
    if raw is None:
        return default
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(Problem(name, f"{raw!r} is not a date as YYYY-MM-DD")) from None


class _Bar:
    """A progress bar over patients, quiet for --json."""

    def __init__(self, label: str, *, quiet: bool) -> None:
        columns = (
            TextColumn(f"[bold]{label}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]} patients/s"),
            TimeElapsedColumn(),
        )
        self.progress = Progress(*columns, console=console, disable=quiet)
        self.task = self.progress.add_task(label, total=None, rate="…")
        self.started = time.perf_counter()

    def __call__(self, done: int, total: int) -> None:
        rate = done / max(time.perf_counter() - self.started, 1e-9)
        self.progress.update(self.task, completed=done, total=total, rate=f"{rate:,.0f}")


@click.command("diff")
@click.option("--from", "from_version", required=True, help="The version in force, e.g. 2026.1.")
@click.option("--to", "to_version", required=True, help="The version proposed, e.g. 2027.1.")
@click.option("--profile", help="The proposed side's profile (default: the clinic's).")
@click.option("--from-profile", help="The current side's profile (default: as --profile).")
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every changed item (one row per patient and item) to this CSV file.",
)
@click.option("--today", help="Compare as of this date, YYYY-MM-DD (default: today).")
@click.option("--chunk", default=1000, show_default=True, help="Patients per read.")
@json_option
@click.pass_context
def diff_command(
    ctx: click.Context,
    from_version: str,
    to_version: str,
    profile: str | None,
    from_profile: str | None,
    csv_path: Path | None,
    today: str | None,
    chunk: int,
    as_json: bool,
) -> None:
    """Run two protocol versions over the whole registry: per rule, whose next items would come
    earlier or later, and which are new or gone. Nothing is changed (one audit event).

    \b
    Example:
      surveil --as dr.ada schedules diff --from 2026.1 --to 2027.1 --csv diff.csv
      surveil --as dr.ada schedules diff --from 2027.1 --to 2027.1 --profile nccn-2025
    """
    app = get_app(ctx)
    bar = _Bar("comparing", quiet=as_json)
    with bar.progress:
        report = diff.diff_protocols(
            app.engine,
            actor=app.actor(),
            settings=app.settings,
            from_version=from_version,
            to_version=to_version,
            profile=profile,
            from_profile=from_profile,
            today=_date(today, "--today", app.today()),
            chunk=chunk,
            progress=bar,
        )
    if csv_path is not None:
        _write_csv(csv_path, report)
    if as_json:
        print_json(_json(report))
        return
    _show(report, csv_path)


def _json(report: diff.ProtocolDiff) -> dict[str, object]:
    patients = report.patients_by_rule()
    return {
        "from": report.before,
        "to": report.after,
        "today": report.today.isoformat(),
        "patients": report.patients,
        "changed_patients": report.changed_patients,
        "rules": {
            rule: {"changes": {c.value: n for c, n in counts.items()}, "patients": patients[rule]}
            for rule, counts in report.by_rule().items()
        },
    }


def _show(report: diff.ProtocolDiff, csv_path: Path | None) -> None:
    console.print(
        f"{report.before} → {report.after}, as of {report.today}: "
        f"{report.changed_patients} of {report.patients} patient(s) would change.",
        highlight=False,
    )
    table = Table()
    # The counts never shrink to "3…" on a narrow or redirected terminal: long rule ids fold.
    table.add_column("Rule", overflow="fold")
    for change in diff.Change:
        table.add_column(change.value, justify="right", no_wrap=True)
    table.add_column("Patients", justify="right", no_wrap=True)
    patients = report.patients_by_rule()
    for rule, counts in report.by_rule().items():
        changes = (str(counts.get(c, 0)) for c in diff.Change)
        table.add_row(rule, *changes, str(len(patients[rule])))
    console.print(table)
    if csv_path is not None:
        console.print(f"{len(report.rows)} changed item(s) written to {csv_path}", highlight=False)
    else:
        console.print("Who exactly: --csv FILE (one row per patient and item) or --json.")


_CSV_HEADER: tuple[str, ...] = ("mrn", "rule", "item", "change", "days", "from_rule")
_CSV_HEADER += ("from_target", "to_rule", "to_target")


def _csv_row(r: diff.DiffRow) -> tuple[object, ...]:
    days = "" if r.days is None else r.days
    before = (r.before_rule or "", r.before_target or "")
    return (
        r.mrn,
        r.rule,
        r.kind,
        r.change.value,
        days,
        *before,
        r.after_rule or "",
        r.after_target or "",
    )


def _write_csv(path: Path, report: diff.ProtocolDiff) -> None:
    try:
        with path.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(_CSV_HEADER)
            writer.writerows(_csv_row(r) for r in report.rows)
    except OSError as error:
        raise InvalidInput(Problem("--csv", f"cannot write {path}: {error.strerror}")) from None


@click.command("activate")
@click.argument("version")
@click.option("--profile", help="The profile to use (default: the clinic's, else the pack's).")
@click.option("--approved-by", required=True, help="The approving clinician's username.")
@click.option("--on", "on", help="Date it takes effect, YYYY-MM-DD (default: today).")
@json_option
@click.pass_context
def activate_command(
    ctx: click.Context,
    version: str,
    profile: str | None,
    approved_by: str,
    on: str | None,
    as_json: bool,
) -> None:
    """Put a pack version (and profile) in force for the clinic from a date, approved by a named
    clinician; audited. In force today: every patient is replanned ("protocol 2027.1 activated").

    \b
    Example:
      surveil --as admin schedules activate 2027.1 --approved-by dr.ada --on 2027-01-04
    """
    app = get_app(ctx)
    today = app.today()
    bar = _Bar("replanning", quiet=as_json)
    with bar.progress:
        done = activation.activate_protocol(
            app.engine,
            actor=app.actor(),
            settings=app.settings,
            version=version,
            profile=profile,
            approved_by=approved_by,
            effective_on=_date(on, "--on", today),
            today=today,
            progress=bar,
        )
    _report(done, as_json)


@click.command("rollback")
@click.option("--approved-by", required=True, help="The approving clinician's username.")
@click.option("--on", "on", help="Date it takes effect, YYYY-MM-DD (default: today).")
@json_option
@click.pass_context
def rollback_command(ctx: click.Context, approved_by: str, on: str | None, as_json: bool) -> None:
    """Restore the pack version and profile in force before the latest activation; approved by a
    named clinician, audited, and every patient replanned when it is in force today.

    \b
    Example:
      surveil --as admin schedules rollback --approved-by dr.ada
    """
    app = get_app(ctx)
    today = app.today()
    bar = _Bar("replanning", quiet=as_json)
    with bar.progress:
        done = activation.rollback_protocol(
            app.engine,
            actor=app.actor(),
            settings=app.settings,
            approved_by=approved_by,
            effective_on=None if on is None else _date(on, "--on", today),
            today=today,
            progress=bar,
        )
    _report(done, as_json)


def _report(done: activation.Activation, as_json: bool) -> None:
    replanned = done.replanned
    if as_json:
        print_json(
            {
                "action": done.action,
                "pack": done.pack_id,
                "version": done.version,
                "profile": done.profile,
                "effective_on": done.effective_on.isoformat(),
                "approved_by": done.approved_by,
                "previous": {"version": done.previous_version, "profile": done.previous_profile},
                "replanned": None
                if replanned is None
                else {"patients": replanned.patients, "changed": len(replanned.changed)},
            }
        )
        return
    verb = "activated" if done.action == "activate" else "restored"
    console.print(
        f"{done.pack_id} {done.version} {done.profile} {verb} from {done.effective_on} "
        f"(approved by {done.approved_by}; before: {done.previous_version} "
        f"{done.previous_profile}).",
        highlight=False,
    )
    if replanned is None:
        console.print(
            "Takes effect later: pending until that date, when the daemon replans the clinic "
            "(`surveil schedules history` shows it applied).",
            highlight=False,
        )
    else:
        console.print(
            f"Replanned {replanned.patients} patient(s): {len(replanned.changed)} changed.",
            highlight=False,
        )


@click.command("history")
@json_option
@click.pass_context
def history_command(ctx: click.Context, as_json: bool) -> None:
    """The clinic's protocol activations and rollbacks, oldest first: pending (dated later, the
    daemon applies it on that day) or when and by whom applied.

    \b
    Example:
      surveil schedules history
    """
    app: App = get_app(ctx)
    rows = activation.activation_log(app.engine, settings=app.settings)
    if as_json:
        print_json(rows)
        return
    table = Table()
    columns = ("action", "version", "profile", "effective_on", "approved_by", "previous", "status")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(row[c]) for c in columns))
    console.print(table if rows else "No activation: the baseline version is in force.")


ROLLOUT_COMMANDS = [diff_command, activate_command, rollback_command, history_command]
