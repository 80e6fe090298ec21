"""``surveil patient ...`` and ``surveil state set``: the registry from the command line."""

from collections.abc import Callable
from typing import Any, TypeVar

import click
from rich.table import Table

from surveil.cli._common import console, get_app, json_option, print_json
from surveil.services.records import enrolment
from surveil.services.registry.patients import PatientInput, TumourInput
from surveil.services.registry.summaries import find_patients, show_patient

F = TypeVar("F", bound=Callable[..., Any])


def patient_options(required: bool) -> Callable[[F], F]:
    """The options that describe a patient; all taken as text and validated together."""

    def decorate(fn: F) -> F:
        options = [
            click.option("--given", "given_name", required=required, help="Given name."),
            click.option("--family", "family_name", required=required, help="Family name."),
            click.option("--birth-date", required=required, help="YYYY-MM-DD."),
            click.option("--sex", help="female, male, other or unknown."),
            click.option(
                "--timezone", help="IANA zone where the patient lives, e.g. Europe/London."
            ),
            click.option("--email"),
            click.option("--phone", help="International format, e.g. +447700900123."),
            click.option("--channel", "preferred_channel", help="Reminders by email, sms or none."),
            click.option("--hereditary", help="none, MEN1, VHL, NF1 or TSC."),
            click.option("--navigator", help="Username of the assigned nurse navigator."),
            click.option("--deceased-on", help="YYYY-MM-DD; stops every follow-up and reminder."),
            click.option(
                "--opted-out/--opted-in", default=None, help="Opt out of (or back into) reminders."
            ),
        ]
        for option in reversed(options):
            fn = option(fn)
        return fn

    return decorate


TUMOUR_OPTIONS = [
    click.option(
        "--site",
        help="pancreas, small_bowel, rectum, appendix, stomach, duodenum, "
        "colon, lung, thymus or unknown.",
    ),
    click.option("--differentiation", help="well or poor (poor = NEC whatever the numbers)."),
    click.option("--ki67", help="Ki-67 index in percent, 0–100."),
    click.option("--mitoses", help="Mitoses per 2 mm²."),
    click.option("--stage", help="localized, regional or distant."),
    click.option("--size-mm", help="Largest diameter of the primary in mm."),
    click.option("--sstr", "sstr_status", help="SSTR imaging: positive, negative or unknown."),
    click.option(
        "--functional",
        help="none, carcinoid_syndrome, insulinoma, gastrinoma, glucagonoma, vipoma or acth.",
    ),
    click.option("--diagnosed-on", help="YYYY-MM-DD."),
    # Pack 2027.1's optional facts; "unknown" clears one (rules needing it then do not match).
    click.option("--node-status", help="Regional nodes on the specimen: N0, N1 or unknown."),
    click.option(
        "--adverse-histology",
        help="Comma list of lvi, muscularis, mesoappendix; none (reported, none seen) or unknown.",
    ),
    click.option("--carcinoid-type", help="Lung or thymus: typical, atypical or unknown."),
    click.option("--gastric-type", help="Stomach: type_1, type_2, type_3 or unknown."),
    click.option("--carcinoid-heart-disease", help="yes, no or unknown."),
]


def tumour_options(fn: F) -> F:
    for option in reversed(TUMOUR_OPTIONS):
        fn = option(fn)
    return fn


def _tumour_input(kwargs: dict[str, Any]) -> TumourInput | None:
    data = TumourInput(
        **{k: kwargs.pop(k) for k in list(kwargs) if k in TumourInput.__annotations__}
    )
    return data if any(v is not None for v in vars(data).values()) else None


@click.group()
def patient() -> None:
    """Enrol, find, show and update patients."""


@patient.command("add")
@click.option("--mrn", required=True, help="Medical record number, unique within the clinic.")
@patient_options(required=True)
@tumour_options
@click.option(
    "--state", "state_kind", help="active_surveillance, resected, advanced or discharged."
)
@click.option("--since", help="Start of that state, YYYY-MM-DD (default: diagnosis date).")
@click.option("--resection", help="R0, R1 or R2 for a resected tumour.")
@json_option
@click.pass_context
def add(
    ctx: click.Context,
    /,
    mrn: str,
    state_kind: str | None,
    since: str | None,
    resection: str | None,
    as_json: bool,
    **kwargs: Any,
) -> None:
    """Enrol a patient, optionally with the tumour and current disease state.

    \b
    Example:
      surveil patient add --mrn 100234 --given Ada --family Lovelace \\
        --birth-date 1962-03-14 --timezone Europe/London --email ada@example.org \\
        --site pancreas --ki67 2 --size-mm 14 --diagnosed-on 2025-01-10 \\
        --state active_surveillance
      surveil patient add --mrn 100235 --given Tom --family Lung --birth-date 1958-05-02 \
        --site lung --carcinoid-type atypical --node-status N0 --diagnosed-on 2026-09-01 \
        --state resected --since 2026-10-01 --resection R0

    Every field is checked first; if any is wrong, all problems are listed and nothing is saved.
    """
    app = get_app(ctx)
    tumour = _tumour_input(kwargs)
    summary = enrolment.enrol_patient(
        app.engine,
        actor=app.actor(),
        clinic=app.clinic,
        data=PatientInput(mrn=mrn, **kwargs),
        tumour=tumour,
        state_kind=state_kind,
        since=since,
        resection=resection,
        settings=app.settings,
        today=app.today(),
    )
    if as_json:
        print_json(summary)
    else:
        console.print(f"[green]enrolled[/] {summary['mrn']} {summary['name']}")


@patient.command("update")
@click.argument("mrn")
@patient_options(required=False)
@tumour_options
@json_option
@click.pass_context
def update(ctx: click.Context, /, mrn: str, as_json: bool, **kwargs: Any) -> None:
    """Change a patient's details or tumour facts (only the options given change).

    \b
    Examples:
      surveil patient update 100234 --phone +447700900123 --channel sms
      surveil patient update 100234 --ki67 4 --stage regional
      surveil patient update 100235 --carcinoid-type atypical --node-status N1
      surveil patient update 100236 --adverse-histology lvi,muscularis
    """
    app = get_app(ctx)
    tumour = _tumour_input(kwargs)
    summary = enrolment.update_patient(
        app.engine,
        actor=app.actor(),
        mrn=mrn,
        clinic=app.clinic,
        data=PatientInput(**kwargs),
        tumour=tumour,
        settings=app.settings,
        today=app.today(),
    )
    if as_json:
        print_json(summary)
    else:
        console.print(f"[green]updated[/] {summary['mrn']} {summary['name']}")


@patient.command("show")
@click.argument("mrn")
@json_option
@click.pass_context
def show(ctx: click.Context, mrn: str, as_json: bool) -> None:
    """Show one patient: details, tumour and grade, disease-state history.

    \b
    Examples:
      surveil patient show 100234
      surveil patient show 100234 --json
    """
    app = get_app(ctx)
    summary = show_patient(app.engine, actor=app.actor(), mrn=mrn, clinic=app.clinic)
    if as_json:
        print_json(summary)
        return
    console.print(
        f"[bold]{summary['name']}[/]  MRN {summary['mrn']}  born {summary['birth_date']}"
        f"  ({summary['timezone']})"
    )
    tumour = summary["tumour"]
    if tumour:
        console.print(
            f"Tumour: {tumour['site']}, {tumour['differentiation']} differentiated, "
            f"grade [bold]{tumour['grade']}[/] (Ki-67 {tumour['ki67']}, mitoses "
            f"{tumour['mitoses']}), stage {tumour['stage']}, SSTR {tumour['sstr_status']}"
        )
    table = Table("state", "from", "to", "resection", "reason", title="Disease-state history")
    for episode in summary["states"]:
        table.add_row(
            episode["kind"],
            str(episode["start_date"]),
            str(episode["end_date"] or "now"),
            episode["resection"] or "",
            episode["reason"],
        )
    console.print(table)


@patient.command("list")
@click.option("--search", help="Part of a name, or an exact MRN.")
@click.option("--limit", default=50, show_default=True)
@json_option
@click.pass_context
def list_(ctx: click.Context, search: str | None, limit: int, as_json: bool) -> None:
    """List patients of this clinic, by family name.

    \b
    Examples:
      surveil patient list
      surveil patient list --search lovelace --limit 10
    """
    app = get_app(ctx)
    summaries = find_patients(
        app.engine, actor=app.actor(), clinic=app.clinic, search=search, limit=limit
    )
    if as_json:
        print_json(summaries)
        return
    table = Table("MRN", "name", "born", "site", "grade", "state")
    for s in summaries:
        table.add_row(
            s["mrn"],
            s["name"],
            str(s["birth_date"]),
            s["site"] or "",
            s["grade"] or "",
            s["state"] or "",
        )
    console.print(table)


@click.group()
def state() -> None:
    """Disease-state episodes (the history is kept)."""


@state.command("set")
@click.argument("mrn")
@click.option(
    "--kind", required=True, help="active_surveillance, resected, advanced or discharged."
)
@click.option("--since", required=True, help="Start date, YYYY-MM-DD.")
@click.option("--resection", help="R0, R1 or R2 (for resected).")
@click.option("--reason", default="", help="Why the state changed (shown in the history).")
@click.pass_context
def state_set(
    ctx: click.Context, mrn: str, kind: str, since: str, resection: str | None, reason: str
) -> None:
    """Start a new disease-state episode; the current one ends that day.

    \b
    Example:
      surveil state set 100234 --kind resected --since 2026-04-20 --resection R0 \\
        --reason "distal pancreatectomy"
    """
    app = get_app(ctx)
    enrolment.set_disease_state(
        app.engine,
        actor=app.actor(),
        mrn=mrn,
        clinic=app.clinic,
        kind=kind,
        since=since,
        resection=resection,
        reason=reason,
        settings=app.settings,
        today=app.today(),
    )
    console.print(f"[green]{mrn}[/] is now {kind} since {since}")


COMMANDS = [patient, state]
