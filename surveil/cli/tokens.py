"""``surveil token issue|list|revoke``: bearer tokens for the JSON API (``/api/v1``)."""

from typing import Any

import click
from rich.table import Table

from surveil.cli._common import console, get_app, json_option, print_json
from surveil.db import models as m
from surveil.services.users import api_tokens


@click.group("token")
def token() -> None:
    """Bearer tokens for the JSON API at /api/v1 (sent as ``Authorization: Bearer TOKEN``)."""


@token.command("issue")
@click.option("--user", "username", required=True, help="The user the token acts as.")
@click.option(
    "--scope",
    required=True,
    type=click.Choice([s.value for s in m.TokenScope]),
    help="read: only reads; write: may also change records (through the same checks as the web).",
)
@click.option(
    "--expires",
    "expires_days",
    type=int,
    default=api_tokens.DEFAULT_EXPIRY_DAYS,
    show_default=True,
    help=f"Days until the token stops working (1 to {api_tokens.MAX_EXPIRY_DAYS}).",
)
@click.option("--label", default="", help="What the token is for (e.g. the system using it).")
@click.pass_context
def token_issue(
    ctx: click.Context, username: str, scope: str, expires_days: int, label: str
) -> None:
    """Issue a token for a user. It is printed once, here; only its hash is stored.

    \b
    Example:
      surveil --as ada token issue --user lab-bridge --scope write --expires 30 --label "EHR"
    """
    app = get_app(ctx)
    issued = api_tokens.issue_api_token(
        app.engine,
        actor=app.actor(),
        username=username,
        scope=scope,
        expires_days=expires_days,
        label=label,
        now=app.now(),
    )
    click.echo(issued.token)
    expires = issued.summary.expires_at
    click.echo(
        f"token {issued.summary.public_id} for {username} ({scope}), expires "
        f"{expires:%Y-%m-%d %H:%M} UTC. Store it now: it is not shown again.",
        err=True,
    )


@token.command("list")
@json_option
@click.pass_context
def token_list(ctx: click.Context, as_json: bool) -> None:
    """Tokens (an administrator sees all, others their own), with when each was last used.

    \b
    Example:
      surveil --as ada token list --json
    """
    app = get_app(ctx)
    rows: list[dict[str, Any]] = [
        {
            "id": t.public_id,
            "user": t.username,
            "scope": t.scope,
            "label": t.label,
            "created_at": t.created_at,
            "expires_at": t.expires_at,
            "revoked_at": t.revoked_at,
            "last_used_at": t.last_used_at,
        }
        for t in api_tokens.list_api_tokens(app.engine, actor=app.actor())
    ]
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"API tokens ({len(rows)})")
    for column in ("id", "user", "scope", "label", "expires", "last used", "revoked"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["id"],
            row["user"],
            row["scope"],
            row["label"],
            _when(row["expires_at"]),
            _when(row["last_used_at"]) or "never",
            _when(row["revoked_at"]),
        )
    console.print(table)


@token.command("revoke")
@click.argument("token_id")
@click.pass_context
def token_revoke(ctx: click.Context, token_id: str) -> None:
    """Revoke a token (by the id ``token list`` shows): its next request is refused.

    \b
    Example:
      surveil --as ada token revoke 3f2a9c0d11b2e4f5
    """
    app = get_app(ctx)
    api_tokens.revoke_api_token(app.engine, actor=app.actor(), public_id=token_id, now=app.now())
    console.print(f"[yellow]revoked[/] {token_id}")


def _when(value: Any) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value is not None else ""


COMMANDS = [token]
