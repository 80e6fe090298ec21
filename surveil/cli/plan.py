"""``surveil plan``: what a patient needs next and why, for a stored patient (``--patient``) or
as a stateless what-if from a facts file (``--facts``)."""

import datetime as dt
import json
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from surveil.cli._common import console, get_app, print_json
from surveil.core.facts import parse_facts
from surveil.core.plan import Plan, plan, plan_to_json
from surveil.core.protocol import Pack
from surveil.core.triggers import board_deadlines, evaluate_triggers, finding_to_json
from surveil.core.vocab import ItemStatus
from surveil.errors import InvalidInput, Problem
from surveil.schedules import get_profile, load_pack_versions, load_packs
from surveil.services import protocols
from surveil.services.labels import trigger_label
from surveil.services.planning.patient_plan import show_plan

_STYLE = {ItemStatus.OVERDUE: "bold red", ItemStatus.DUE: "yellow", ItemStatus.UPCOMING: "dim"}


@click.command("plan")
@click.option(
    "--patient", "mrn", help="A stored patient's MRN (the plan with overrides and triggers)."
)
@click.option(
    "--facts",
    "facts_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Facts file (JSON, see docs/contract.md); the database is not used.",
)
@click.option("--today", help="Plan as of this date, YYYY-MM-DD (default: today in the clinic).")
@click.option("--profile", help="Profile name, or pack:profile (default: the clinic's profile).")
@click.option(
    "--pack-version",
    help="Plan under this version of the clinic's pack (e.g. 2027.1). With --patient: a what-if "
    "from the record, not the stored plan (default: the version in force).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the plan contract as JSON.")
@click.pass_context
def plan_command(
    ctx: click.Context,
    mrn: str | None,
    facts_path: Path | None,
    today: str | None,
    profile: str | None,
    pack_version: str | None,
    as_json: bool,
) -> None:
    """What a patient needs next, and why: a stored patient's plan, or a what-if from a facts
    file (nothing is read from or written to the registry).

    \b
    Examples:
      surveil plan --patient D000123
      surveil plan --facts patient.json --today 2026-03-01
      surveil plan --facts patient.json --today 2026-03-01 --profile esmo-2020 --json
      surveil plan --facts patient.json --pack-version 2027.1 --profile nccn-2025
      surveil plan --patient D000123 --pack-version 2027.1

    Every item says which rule, protocol version and source asked for it, and what it is
    anchored on; triggers (growth, size, progression, markers...) are listed with their numbers.
    """
    if bool(mrn) == bool(facts_path):
        raise click.UsageError("give either --patient MRN or --facts FILE.json")
    app = get_app(ctx)
    day = _parse_today(today) if today else app.today()
    clinic = app.settings.clinic
    # A stored patient's plan is what the protocol in force planned; --pack-version or --profile
    # asks what another would plan from the same record (a what-if: nothing stored changes).
    what_if = bool(mrn) and (pack_version is not None or profile is not None)
    in_force = protocols.protocol_in_force_on(app.engine, app.settings, day) if mrn else None
    if in_force is not None and not what_if:
        pack, chosen = in_force
    else:
        packs = _packs(app.settings.paths.schedules, pack_version)
        pack, chosen = get_profile(packs, profile or f"{clinic.pack}:{clinic.profile}")
    if facts_path is not None:
        facts = parse_facts(_read_json(facts_path), today=day)
        result = plan(facts, pack, chosen.name, day)
        findings = evaluate_triggers(
            facts,
            chosen.thresholds,
            day,
            rule_ref=f"{pack.id} v{pack.version}",
            board_within=board_deadlines(chosen.on_trigger),
        )
        triggers = [finding_to_json(f) for f in findings]
    else:
        result, triggers = show_plan(
            app.engine,
            actor=app.actor(),
            mrn=mrn or "",
            clinic=clinic.name,
            pack=pack,
            profile=chosen,
            today=day,
            what_if=what_if,
        )
    stored_under = None
    if what_if and in_force is not None:
        stored_under = f"{in_force[0].id} {in_force[0].version} {in_force[1].name}"
    if as_json:
        extra = {"what_if": stored_under is not None, "stored_under": stored_under}
        print_json({**plan_to_json(result), "triggers": triggers, **extra})
    else:
        if stored_under is not None:
            console.print(
                f"[bold]What-if[/bold]: planned under {pack.id} {pack.version} {chosen.name} "
                f"from this patient's record; nothing stored changes (the stored plan is under "
                f"{stored_under}, in force on {day}).",
                highlight=False,
            )
        _show(result, day)
        _show_triggers(triggers)


def _packs(directory: Path | None, version: str | None) -> dict[str, Pack]:
    if version is None:
        return load_packs(directory)
    out = {pid: v[version] for pid, v in load_pack_versions(directory).items() if version in v}
    if not out:
        raise InvalidInput(Problem("--pack-version", f"{version!r} is not a shipped pack version"))
    return out


def _huge_int(text: str) -> float | int:
    # json.loads refuses integers of over 4,300 digits with a bare ValueError (a traceback):
    # read them as infinity, which the facts parser refuses with the field's name.
    return float("inf") if len(text.lstrip("-")) > 30 else int(text)


def _parse_today(raw: str) -> dt.date:
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(Problem("--today", f"{raw!r} is not a date as YYYY-MM-DD")) from None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"), parse_int=_huge_int)
    except OSError as error:
        raise InvalidInput(Problem("--facts", f"cannot read {path}: {error.strerror}")) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InvalidInput(Problem("--facts", f"{path} is not valid JSON: {error}")) from None


def _show(result: Plan, today: dt.date) -> None:
    console.print(
        f"Grade [bold]{result.grade}[/bold] · profile [bold]{result.profile}[/bold] · "
        f"pack {result.pack_id} {result.pack_version} · as of {today.isoformat()}",
        highlight=False,
    )
    if result.closed:
        console.print(f"Nothing to plan: {result.closed}.", highlight=False)
    if result.complete:
        console.print(
            f"[green]{result.complete[:1].upper()}{result.complete[1:]}.[/green]", highlight=False
        )
    if result.no_follow_up:
        v = result.no_follow_up
        console.print(
            f"[green]No follow-up[/green] (rule {v.rule}, {v.source} [{v.evidence}]): {v.reason}",
            highlight=False,
        )
    if not result.items:
        return
    # The reasons are long: a table row each would wrap to nothing on a narrow terminal, so the
    # table holds the dates and the reasons follow as numbered lines.
    table = Table()
    for column in ("#", "Status", "Item", "Window", "Target"):
        table.add_column(column, no_wrap=True)
    for n, item in enumerate(result.items, start=1):
        table.add_row(
            str(n),
            f"[{_STYLE[item.status]}]{item.status}[/]",
            item.kind.value + (f" ({item.region})" if item.region else ""),
            f"{item.earliest} → {item.latest}",
            item.target.isoformat(),
        )
    console.print(table)
    for n, item in enumerate(result.items, start=1):
        console.print(f"{n}. {item.reason}", highlight=False, soft_wrap=True)


def _show_triggers(triggers: list[dict[str, Any]]) -> None:
    for t in triggers:
        flag = "[yellow]confounded[/]" if t["confounded"] else "[bold red]trigger[/]"
        console.print(
            f"{flag} {trigger_label(t['kind'])}: {t['explanation']} → {t['action']}",
            highlight=False,
            soft_wrap=True,
        )


COMMANDS = [plan_command]
