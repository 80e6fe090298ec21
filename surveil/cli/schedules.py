"""``surveil schedules check``: validate every protocol pack and show all problems at once."""

from pathlib import Path

import click

from surveil.cli._common import console, err_console
from surveil.cli.schedules_rollout import ROLLOUT_COMMANDS
from surveil.schedules import check_schedules, load_pack_versions, pack_files


@click.group()
def schedules() -> None:
    """Protocol packs (schedules/*.toml): check them before a clinic uses them."""


@schedules.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder of *.toml packs (default: the installed schedules/ folder).",
)
def check(directory: Path | None) -> None:
    """Validate every pack; list each problem with its file and place. Exit 2 on any problem.

    \b
    Example:
      surveil schedules check --dir ./my-schedules
      net-default.toml: profiles.default.rules[3].items[0].interval.max: 2 is below min (6)
    """
    problems = check_schedules(directory)
    if problems:
        for problem in problems:
            err_console.print(f"[red]✗[/red] {problem}", highlight=False, soft_wrap=True)
        err_console.print(f"[red]{len(problems)} problem(s) found.[/red]", highlight=False)
        raise SystemExit(2)
    for pack in (p for v in load_pack_versions(directory).values() for p in v.values()):
        rules = sum(len(p.rules) for p in pack.profiles.values())
        names = ", ".join(pack.profiles)
        console.print(
            f"[green]✓[/green] {pack.id} {pack.version}: profiles {names} ({rules} rules)",
            highlight=False,
        )
    console.print(f"{len(pack_files(directory))} file(s) checked, no problems.", highlight=False)


for _command in ROLLOUT_COMMANDS:
    schedules.add_command(_command)

COMMANDS = [schedules]
