"""``surveil user add|list|deactivate``: accounts for the web worklist."""

import getpass
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from surveil.cli._common import console, get_app, json_option, print_json
from surveil.core.vocab import Channel
from surveil.db import models as m
from surveil.services.users import admin, passwords, totp


@click.group("user")
def user() -> None:
    """Accounts for the web worklist (navigators, clinicians, administrators)."""


@user.command("add")
@click.argument("username")
@click.option(
    "--role",
    required=True,
    type=click.Choice([r.value for r in m.Role]),
    help="navigator: works the worklist, is named as patients' navigator and gets the daily "
    "digest; clinician: the same worklist and triggers, no digest; admin: also manages users "
    "and sees every clinic.",
)
@click.option("--clinic", help="The clinic whose patients this user sees (default: clinic.name).")
@click.option("--name", "display_name", help="Full name shown on pages (default: the username).")
@click.option("--email", help="Where the daily navigator digest goes (optional).")
@click.option(
    "--password-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the password from this file (first line). Without it you are asked twice.",
)
@click.pass_context
def user_add(
    ctx: click.Context,
    username: str,
    role: str,
    clinic: str | None,
    display_name: str | None,
    email: str | None,
    password_file: Path | None,
) -> None:
    """Create an account. Passwords: 12 characters or more, not a common one; stored as argon2id.

    \b
    Examples:
      surveil user add nina --role navigator --clinic north --name "Nina Patel"
      surveil user add ada --role admin --password-file /run/secrets/ada
    """
    app = get_app(ctx)
    # Who acts is settled before the password is asked for: a refusal should not come after it.
    actor = app.actor() if app.as_user or admin.has_accounts(app.engine) else None
    if password_file is not None:
        lines = password_file.read_text(encoding="utf-8").splitlines()
        password = lines[0] if lines else ""
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    fields: dict[str, Any] = {
        "username": username,
        "display_name": display_name,
        "role": role,
        "clinic": clinic or app.clinic,
        "password": password,
        "email": email,
    }
    if actor is not None:
        created = admin.add_account(app.engine, actor=actor, **fields)
    else:  # nobody to act as: allowed only for the first account of an empty registry
        created = admin.add_first_admin(
            app.engine, os_user=getpass.getuser(), channel=Channel.CLI, **fields
        )
    console.print(f"[green]added[/] {created.username} ({created.role}, {created.clinic})")


@user.command("list")
@click.option("--clinic", help="Only this clinic's users.")
@json_option
@click.pass_context
def user_list(ctx: click.Context, clinic: str | None, as_json: bool) -> None:
    """Every account, active first.

    \b
    Examples:
      surveil user list
      surveil user list --clinic "Northern NET Centre" --json
    """
    app = get_app(ctx)
    rows: list[dict[str, Any]] = [
        {
            "username": u.username,
            "name": u.display_name,
            "role": u.role,
            "clinic": u.clinic,
            "email": u.email,
            "active": u.active,
            "created_at": u.created_at,
        }
        for u in admin.list_accounts(app.engine, clinic=clinic)
    ]
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"Users ({len(rows)})")
    for column in ("username", "name", "role", "clinic", "active"):
        table.add_column(column)
    for row in rows:
        active = "[green]yes[/]" if row["active"] else "[dim]no[/]"
        table.add_row(*(str(row[k]) for k in ("username", "name", "role", "clinic")), active)
    console.print(table)


@user.command("deactivate")
@click.argument("username")
@click.pass_context
def user_deactivate(ctx: click.Context, username: str) -> None:
    """Stop an account from logging in; its open sessions end at their next request.

    \b
    Example:
      surveil user deactivate nina
    """
    app = get_app(ctx)
    admin.set_account_active(app.engine, actor=app.actor(), username=username, active=False)
    console.print(f"[yellow]deactivated[/] {username}")


def _first_line(path: Path) -> str:
    lines = path.read_text(encoding="utf-8").splitlines()
    return lines[0] if lines else ""


@user.command("password")
@click.argument("username", required=False)
@click.option(
    "--password-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the new (or temporary) password from this file (first line). Without it you "
    "are asked twice.",
)
@click.option(
    "--current-password-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Your current password from this file (first line), for your own change. Without it "
    "you are asked.",
)
@click.pass_context
def user_password(
    ctx: click.Context,
    username: str | None,
    password_file: Path | None,
    current_password_file: Path | None,
) -> None:
    """Change your own password, or (administrators) give USERNAME a temporary one.

    Your own change asks for the current password. A temporary password must be changed by
    its user at their next login. Passwords: 12 characters or more, not a common one. Every
    session of the user ends.

    \b
    Examples:
      surveil --as nina user password
      surveil --as ada user password sam --password-file /run/secrets/sam-temporary
    """
    app = get_app(ctx)
    actor = app.actor()
    own = username is None or username.strip().lower() == actor.username
    current = ""
    if own:
        current = (
            _first_line(current_password_file)
            if current_password_file is not None
            else click.prompt("Current password", hide_input=True)
        )
    label = "New password" if own else f"Temporary password for {username}"
    new = (
        _first_line(password_file)
        if password_file is not None
        else click.prompt(label, hide_input=True, confirmation_prompt=True)
    )
    if own:
        passwords.change_password(
            app.engine, actor=actor, current_password=current, new=passwords.NewPassword(new)
        )
        console.print(f"[green]changed[/] the password of {actor.username}")
        return
    account = passwords.reset_password(
        app.engine, actor=actor, username=username, temporary_password=new
    )
    console.print(
        f"[yellow]reset[/] the password of {account.username}: they choose a new one at "
        "their next login"
    )


@user.command("reset-second-factor")
@click.argument("username")
@click.pass_context
def user_reset_second_factor(ctx: click.Context, username: str) -> None:
    """Remove USERNAME's authenticator app and recovery codes (a lost phone). Administrators only.
    If their role requires a second factor they set up a new one at their next login.

    \b
    Example:
      surveil --as ada user reset-second-factor carl
    """
    app = get_app(ctx)
    account = totp.reset_second_factor(app.engine, actor=app.actor(), username=username)
    console.print(f"[yellow]reset[/] the second factor of {account.username}")


COMMANDS = [user]
