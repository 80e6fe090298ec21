"""The ``surveil`` command line: one click group, one module per area.

Each area module defines its commands; this file only assembles them and turns surveil's own
errors into a clear message and exit status 2.
"""

import sys

import click

from surveil import __version__
from surveil.errors import SurveilError


class SurveilGroup(click.Group):
    """Click group that prints SurveilError as a message (never a traceback) and exits 2."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except SurveilError as error:
            click.secho(f"error: {error}", fg="red", err=True)
            sys.exit(error.exit_code)


@click.group(cls=SurveilGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="surveil")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="SURVEIL_CONFIG",
    help="Configuration file (TOML). Default: $SURVEIL_CONFIG, else ./surveil.toml if present.",
)
@click.option(
    "--as",
    "as_user",
    envvar="SURVEIL_USER",
    metavar="USER",
    help="The surveil user you act as; every change is audited under this name (and your OS "
    "account). Default: $SURVEIL_USER. Refused if unknown or inactive.",
)
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, as_user: str | None) -> None:
    """surveil keeps neuroendocrine-tumour patients in follow-up.

    \b
    Start here:
      surveil init                 create the database and load nothing
      surveil demo --patients 50   add synthetic demo patients
      surveil worklist             what is due, overdue or triggered today
      surveil plan --patient MRN   what one patient needs next, and why
      surveil serve                the nurse navigators' web worklist
    Commands that change or show patients act as a surveil user:
      surveil --as nurse patient show 100234   (or export SURVEIL_USER=nurse)
    Every command has --help.
    """
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path
    ctx.obj["as_user"] = as_user


def _register() -> None:
    # Imported here, not at module top, so `surveil --help` stays fast and each area stays
    # self-contained. A missing area module (work in progress) must not break the others.
    import importlib

    for area in _AREAS:
        try:
            module = importlib.import_module(f"surveil.cli.{area}")
        except ModuleNotFoundError as error:
            if error.name != f"surveil.cli.{area}":
                raise
            continue
        for command in getattr(module, "COMMANDS", ()):
            cli.add_command(command)


_AREAS = (
    "setup",
    "backup",
    "demo",
    "patients",
    "merge",
    "results",
    "recordkeeping",
    "schedules",
    "plan",
    "overrides",
    "triggers",
    "worklist",
    "users",
    "tokens",
    "imports",
    "feeds",
    "reminders",
    "export",
    "serve",
    "daemon",
    "secret",
    "rundemo",
    "items",
    "reports",
    "replies",
    "hl7",
    "clinic_reports",
)


def main() -> None:
    _register()
    cli(prog_name="surveil")
