"""``surveil demo``: synthetic patients and demo logins, with a progress bar."""

import datetime as dt
import getpass
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from surveil.cli._common import console, get_app, json_option, print_json
from surveil.core.vocab import Channel
from surveil.db import migrate
from surveil.demo import generate as demo
from surveil.demo.people import NORTHERN_CLINIC
from surveil.demo.settle import settle_past_triggers
from surveil.services import protocols
from surveil.services.actor import Actor
from surveil.services.planning.replan import replan_every_patient


class RateColumn(ProgressColumn):
    """Patients per second (rich's own speed column counts bytes)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        shown = f"{speed:,.0f} patients/s" if speed else "… patients/s"
        return Text(shown, style="progress.data.speed")


@click.command("demo")
@click.option(
    "--patients",
    type=click.IntRange(min=0),
    default=200,
    show_default=True,
    help="How many synthetic patients to add.",
)
@click.option(
    "--seed",
    type=int,
    default=7,
    show_default=True,
    help="Same seed (and --today) → the same patients, row for row.",
)
@click.option(
    "--if-empty",
    is_flag=True,
    help="Do nothing if the registry already has patients (used by `make run`).",
)
@click.option(
    "--replan/--no-replan",
    default=True,
    show_default=True,
    help="Compute every patient's follow-up plan and triggers afterwards, and settle the "
    "triggers of the synthetic past as the clinic would have.",
)
@click.option("--clinic", help="Clinic the patients belong to (default: the configured clinic).")
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Date the histories run up to, YYYY-MM-DD (default: today in the clinic's time zone).",
)
@json_option
@click.pass_context
def demo_command(
    ctx: click.Context,
    patients: int,
    seed: int,
    if_empty: bool,
    replan: bool,
    clinic: str | None,
    today: dt.datetime | None,
    as_json: bool,
) -> None:
    """Fill the registry with synthetic NET patients and create demo logins.

    The patients are made up (names like "Hazel Fernbrook", MRNs D000001…, emails at
    example.org, phones in the +44 7700 900xxx drama range) but clinically plausible: small-bowel
    and pancreatic NETs most common, then rectum, lung, appendix and stomach; mostly G1/G2 with
    some G3 and NEC; small pNETs on active surveillance (a few growing fast), resections with
    R0/R1 margins, metastatic disease on somatostatin analogues, PRRT or everolimus, carcinomas
    on chemotherapy, MEN1 families (children too), and a few discharged or deceased patients.
    Every 20th patient belongs to a second clinic, "Northern NET Centre".

    \b
    Demo logins (public passwords: demo data only):
      admin / admin-demo      administrator
      doctor / doctor-demo    clinician
      nurse / nurse-demo      navigator
      nurse2 / nurse2-demo    navigator
      north / north-demo      navigator at Northern NET Centre

    \b
    Examples:
      surveil demo --patients 200 --seed 7 --if-empty
      surveil demo --patients 100000 --no-replan   (then: surveil replan --all)
    """
    app = get_app(ctx)
    if migrate.current_revision(app.engine) is None:
        raise click.ClickException("the database has no tables yet: run `surveil init` first")
    if if_empty and demo.count_patients(app.engine) > 0:
        if as_json:
            print_json({"created": 0, "skipped": True})
        else:
            console.print("the registry already has patients: no demo patients added (--if-empty)")
        return
    day = today.date() if today else app.today()
    started = time.perf_counter()
    with _progress("demo patients", patients, quiet=as_json) as advance:
        result = demo.generate_demo(
            app.engine,
            patients=patients,
            seed=seed,
            # A bulk loader, not an entry point (surveil/demo/generate.py says why): it needs no
            # --as, as it makes the demo logins, and is audited with the OS account.
            actor=demo.command_line_loader(getpass.getuser()),
            clinic=clinic or app.clinic,
            timezone=app.settings.clinic.timezone,
            today=day,
            now=app.now(),
            on_progress=lambda count: advance(count, None),
            protocol=protocols.active_profile(app.settings),
        )
    seconds = time.perf_counter() - started
    if as_json:
        print_json(_summary(result, seconds))
    else:
        _report(result, seconds, clinic or app.clinic)
    if replan and result.created:
        with _progress("planning follow-up", None, quiet=as_json) as advance:
            # The demo's logins do not exist until the generator has made them: its first
            # plans are surveil's own job, audited as the system on the command line's channel.
            replan_every_patient(
                app.engine,
                actor=Actor.system(channel=Channel.CLI),
                settings=app.settings,
                today=day,
                progress=advance,
            )
        settled = settle_past_triggers(
            app.engine, settings=app.settings, today=day, now=app.now(), seed=seed
        )
        if not as_json:
            console.print(
                f"past findings settled as the clinic would have: {settled.resolved} resolved, "
                f"{settled.still_open} still open (recent, or a dose still missed)"
            )
    if result.created:
        migrate.analyze(app.engine)  # a bulk load: the planner needs fresh statistics


@contextmanager
def _progress(
    label: str, total: int | None, *, quiet: bool
) -> Iterator[Callable[[int, int | None], None]]:
    """A progress bar. The yielded ``update(count, total)`` adds ``count`` patients when
    ``total`` is None, else sets the bar to ``count`` of ``total``."""
    columns = (
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, disable=quiet) as bar:
        task = bar.add_task(label, total=total)

        def update(count: int, of: int | None) -> None:
            if of is None:
                bar.advance(task, count)
            else:
                bar.update(task, completed=count, total=of)

        yield update


def _summary(result: demo.DemoResult, seconds: float) -> dict[str, Any]:
    return {
        "created": result.created,
        "skipped": result.skipped,
        "first_patient_id": result.patient_ids[0] if result.patient_ids else None,
        "last_patient_id": result.patient_ids[-1] if result.patient_ids else None,
        "seconds": round(seconds, 2),
        "logins": [
            {"username": u.username, "password": u.password, "role": u.role.value}
            for u in result.users
        ],
    }


def _report(result: demo.DemoResult, seconds: float, clinic: str) -> None:
    rate = result.created / seconds if seconds > 0 else 0.0
    console.print(
        f"[green]added {result.created:,} demo patients[/] in {seconds:.1f} s "
        f"({rate:,.0f} patients/s): most at {clinic}, every 20th at {NORTHERN_CLINIC}"
    )
    table = Table("username", "password", "role", "clinic", title="Demo logins (demo data only)")
    for user in result.users:
        table.add_row(user.username, user.password, user.role.value, user.clinic or clinic)
    console.print(table)


COMMANDS = [demo_command]
