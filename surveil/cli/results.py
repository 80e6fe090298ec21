"""Recording results: measurements, markers, pathology, therapies, symptoms.

Each one re-evaluates the patient's triggers and plan in the same transaction
(``services.registry.results``).
"""

import click

from surveil.cli._common import console, get_app
from surveil.services.outcome import Outcome
from surveil.services.records import results


def _show(outcome: Outcome) -> None:
    console.print(f"[green]recorded[/] {outcome.message.removeprefix('recorded ')}")


@click.group()
def measurement() -> None:
    """Lesion measurements (longest diameter in mm)."""


@measurement.command("add")
@click.argument("mrn")
@click.option("--lesion", required=True, help="Lesion label, e.g. L1 (created on first use).")
@click.option("--date", required=True, help="Scan date, YYYY-MM-DD (not in the future).")
@click.option("--mm", "diameter_mm", required=True, help="Longest diameter in millimetres.")
@click.option(
    "--modality",
    default="mri",
    show_default=True,
    help="mri, ct, eus, sstr_pet, fdg_pet, ultrasound or endoscopy.",
)
@click.pass_context
def measurement_add(
    ctx: click.Context, mrn: str, lesion: str, date: str, diameter_mm: str, modality: str
) -> None:
    """Record a lesion size; growth triggers are checked at once.

    \b
    Example:
      surveil measurement add 100234 --lesion L1 --date 2026-05-02 --mm 14 --modality mri
    """
    app = get_app(ctx)
    outcome = results.record_measurement(
        app.engine,
        mrn=mrn,
        lesion=lesion,
        date=date,
        diameter_mm=diameter_mm,
        modality=modality,
        actor=app.actor(),
        clinic=app.clinic,
        settings=app.settings,
        today=app.today(),
    )
    _show(outcome)


@click.group()
def marker() -> None:
    """Tumour-marker and hormone results."""


@marker.command("add")
@click.argument("mrn")
@click.option("--name", required=True, help="Marker, e.g. cga, nse, 5hiaa, gastrin, insulin.")
@click.option("--value", required=True, help="The result.")
@click.option("--date", required=True, help="Sample date, YYYY-MM-DD.")
@click.option("--unit", default="", help="Unit as reported, e.g. ng/mL.")
@click.option("--uln", help="Upper limit of normal of the laboratory.")
@click.option(
    "--on-ppi",
    is_flag=True,
    help="The patient was taking a proton-pump inhibitor "
    "(raises CgA: a rise is then called confounded).",
)
@click.pass_context
def marker_add(
    ctx: click.Context,
    mrn: str,
    name: str,
    value: str,
    date: str,
    unit: str,
    uln: str | None,
    on_ppi: bool,
) -> None:
    """Record a marker result; marker-rise triggers are checked at once.

    \b
    Examples:
      surveil marker add 100234 --name cga --value 240 --uln 100 --unit ng/mL --date 2026-05-02
      surveil marker add 100234 --name cga --value 310 --uln 100 --date 2026-06-01 --on-ppi
    """
    app = get_app(ctx)
    outcome = results.record_marker(
        app.engine,
        mrn=mrn,
        name=name,
        value=value,
        date=date,
        unit=unit,
        uln=uln,
        on_ppi=on_ppi,
        actor=app.actor(),
        clinic=app.clinic,
        settings=app.settings,
        today=app.today(),
    )
    _show(outcome)


@click.group()
def pathology() -> None:
    """Ki-67 and mitotic counts from biopsies and specimens (re-grading)."""


@pathology.command("add")
@click.argument("mrn")
@click.option("--date", required=True, help="Report date, YYYY-MM-DD.")
@click.option("--ki67", help="Ki-67 index in percent.")
@click.option("--mitoses", help="Mitoses per 2 mm².")
@click.option("--differentiation", help="well or poor.")
@click.pass_context
def pathology_add(
    ctx: click.Context,
    mrn: str,
    date: str,
    ki67: str | None,
    mitoses: str | None,
    differentiation: str | None,
) -> None:
    """Record a pathology result; a higher WHO band re-grades the patient (never downwards).

    \b
    Example:
      surveil pathology add 100234 --date 2026-04-28 --ki67 6 --mitoses 1
    """
    app = get_app(ctx)
    outcome = results.record_pathology(
        app.engine,
        mrn=mrn,
        date=date,
        ki67=ki67,
        mitoses=mitoses,
        differentiation=differentiation,
        actor=app.actor(),
        clinic=app.clinic,
        settings=app.settings,
        today=app.today(),
    )
    _show(outcome)


@click.group()
def therapy() -> None:
    """Treatments: surgery, somatostatin analogues, PRRT, everolimus, sunitinib, ..."""


@therapy.command("add")
@click.argument("mrn")
@click.option(
    "--kind",
    required=True,
    help="surgery, ssa, prrt, everolimus, sunitinib, chemotherapy or liver_directed.",
)
@click.option("--started-on", required=True, help="YYYY-MM-DD.")
@click.option("--agent", help="Drug or procedure, e.g. lanreotide 120 mg.")
@click.option("--ended-on", help="YYYY-MM-DD, if stopped.")
@click.option("--cycles-given", help="PRRT or chemotherapy cycles so far.")
@click.option("--last-given-on", help="Date of the last dose or cycle.")
@click.pass_context
def therapy_add(
    ctx: click.Context,
    mrn: str,
    kind: str,
    started_on: str,
    agent: str | None,
    ended_on: str | None,
    cycles_given: str | None,
    last_given_on: str | None,
) -> None:
    """Record a therapy; its schedule (e.g. SSA every 28 days) joins the plan.

    \b
    Examples:
      surveil therapy add 100234 --kind ssa --agent "lanreotide 120 mg" --started-on 2026-05-10
      surveil therapy add 100234 --kind prrt --started-on 2026-02-01 --cycles-given 2 \\
        --last-given-on 2026-04-01
    """
    app = get_app(ctx)
    outcome = results.record_therapy(
        app.engine,
        mrn=mrn,
        kind=kind,
        started_on=started_on,
        agent=agent,
        ended_on=ended_on,
        cycles_given=cycles_given,
        last_given_on=last_given_on,
        actor=app.actor(),
        clinic=app.clinic,
        settings=app.settings,
        today=app.today(),
    )
    _show(outcome)


@click.group()
def symptom() -> None:
    """New symptoms (on surveillance they open a trigger)."""


@symptom.command("add")
@click.argument("mrn")
@click.option("--date", required=True, help="YYYY-MM-DD.")
@click.option("--description", required=True, help="What the patient reports.")
@click.pass_context
def symptom_add(ctx: click.Context, mrn: str, date: str, description: str) -> None:
    """Record a new symptom or hormonal syndrome.

    \b
    Example:
      surveil symptom add 100234 --date 2026-05-20 --description "flushing and diarrhoea"
    """
    app = get_app(ctx)
    outcome = results.record_symptom(
        app.engine,
        mrn=mrn,
        date=date,
        description=description,
        actor=app.actor(),
        clinic=app.clinic,
        settings=app.settings,
        today=app.today(),
    )
    _show(outcome)


COMMANDS = [measurement, marker, pathology, therapy, symptom]
