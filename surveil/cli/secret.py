"""``surveil secret generate``: a new random key for signing the web app's session cookies."""

import os
import secrets
from pathlib import Path

import click

from surveil.cli._common import console
from surveil.config_rules import MIN_SECRET_KEY_LENGTH

# 48 random bytes, URL-safe base64: 64 characters, 384 bits, far past any guessing.
KEY_BYTES = 48


def new_secret_key() -> str:
    key = secrets.token_urlsafe(KEY_BYTES)
    assert len(key) >= MIN_SECRET_KEY_LENGTH
    return key


def write_secret_file(path: Path) -> None:
    """Create ``path`` holding a new key, readable by its owner only. Refuses to replace an
    existing file: overwriting the key in use would sign every user out, and a rotation should
    be a decision (docs/operations.md)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: never follow or reuse a file someone else put there; 0600 from the first byte.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(new_secret_key() + "\n")


@click.group("secret")
def secret() -> None:
    """Keys surveil needs: the web app's cookie-signing key."""


@secret.command("generate")
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the key to this new file (mode 0600) instead of printing it.",
)
def generate(out: Path | None) -> None:
    """Make a new random web.secret_key (64 characters).

    Write the key to a file, then point the configuration at it: in surveil.toml
    [web] secret_key_file = "/etc/surveil/secret_key", or SURVEIL_WEB_SECRET_KEY_FILE.

    \b
    Example:
      surveil secret generate --out /etc/surveil/secret_key

    `surveil serve` refuses to start with no key, the old placeholder, or one shorter than
    32 characters. A new key signs everybody out (docs/operations.md: key rotation).
    """
    if out is None:
        click.echo(new_secret_key())
        return
    try:
        write_secret_file(out)
    except FileExistsError:
        raise click.ClickException(
            f"{out} exists; remove it first if you mean to rotate the key"
        ) from None
    console.print(f"[green]new key written[/] to {out} (readable by you only)")


COMMANDS = [secret]
