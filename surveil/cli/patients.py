"""``surveil patient ...`` and ``surveil state set``: the registry from the command line."""

from collections.abc import Callable
from typing import Any, TypeVar

import click
from rich.table import Table
from sqlmodel import Session, col, select

from surveil.cli._common import console, get_app, json_option, print_json
from surveil.db import models as m
from surveil.db.session import session_scope
from surveil.services.planning import care
from surveil.services.registry import patients as registry
from surveil.services.registry.patients import PatientInput, TumourInput

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

    Every field is checked first; if any is wrong, all problems are listed and nothing is saved.
    """
    app = get_app(ctx)
    tumour = _tumour_input(kwargs)
    today = app.today()
    with session_scope(app.engine) as session:
        row = registry.enrol_patient(
            session,
            clinic=app.clinic,
            data=PatientInput(mrn=mrn, **kwargs),
            tumour=tumour,
            state_kind=state_kind,
            since=since,
            resection=resection,
            today=today,
        )
        _after_change(app, session, row)
        summary = _summary(session, row)
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
    """
    app = get_app(ctx)
    tumour = _tumour_input(kwargs)
    with session_scope(app.engine) as session:
        row = registry.get_patient(session, mrn=mrn, clinic=app.clinic)
        registry.update_patient(
            session, patient=row, data=PatientInput(**kwargs), today=app.today()
        )
        if tumour is not None:
            registry.set_tumour(session, patient=row, data=tumour, today=app.today())
        _after_change(app, session, row)
        summary = _summary(session, row)
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
    with session_scope(app.engine) as session:
        row = registry.get_patient(session, mrn=mrn, clinic=app.clinic)
        summary = _summary(session, row, full=True)
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
    with session_scope(app.engine) as session:
        rows = registry.list_patients(session, clinic=app.clinic, search=search, limit=limit)
        summaries = [_summary(session, r) for r in rows]
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
    with session_scope(app.engine) as session:
        row = registry.get_patient(session, mrn=mrn, clinic=app.clinic)
        registry.set_state(
            session,
            patient=row,
            kind=kind,
            since=since,
            resection=resection,
            reason=reason,
            today=app.today(),
        )
        _after_change(app, session, row)
    console.print(f"[green]{mrn}[/] is now {kind} since {since}")


def _after_change(app: Any, session: Session, row: m.Patient) -> None:
    """Facts changed: re-plan and re-evaluate triggers in the same transaction."""
    care.refresh_patient(session, patient=row, settings=app.settings, today=app.today())


def _summary(session: Session, row: m.Patient, *, full: bool = False) -> dict[str, Any]:
    tumour = session.exec(select(m.Tumour).where(m.Tumour.patient_id == row.id)).first()
    current = registry.current_state(session, patient_id=row.id)
    out: dict[str, Any] = {
        "mrn": row.mrn,
        "name": f"{row.given_name} {row.family_name}",
        "birth_date": row.birth_date,
        "clinic": row.clinic,
        "timezone": row.timezone,
        "site": tumour.site if tumour else None,
        "grade": tumour.grade if tumour else None,
        "state": current.kind if current else None,
    }
    if full:
        out["contact"] = {
            "email": row.email,
            "phone": row.phone,
            "channel": row.preferred_channel,
            "opted_out": row.opted_out,
        }
        out["deceased_on"] = row.deceased_on
        out["hereditary"] = row.hereditary
        out["tumour"] = tumour.model_dump(exclude={"id", "patient_id"}) if tumour else None
        out["states"] = [
            s.model_dump(include={"kind", "start_date", "end_date", "resection", "reason"})
            for s in session.exec(
                select(m.DiseaseState)
                .where(m.DiseaseState.patient_id == row.id)
                .order_by(col(m.DiseaseState.start_date))
            )
        ]
    return out


COMMANDS = [patient, state]
