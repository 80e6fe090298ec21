"""``surveil init`` and ``surveil db ...``: create and migrate the database."""

import click

from surveil.cli._common import console, get_app
from surveil.services import schema


@click.command()
@click.pass_context
def init(ctx: click.Context) -> None:
    """Create the database (or bring it up to date). Safe to run twice.

    \b
    Example:
      surveil init
    """
    app = get_app(ctx)
    revision = schema.upgrade_schema(app.engine)
    console.print(f"[green]database ready[/] at {app.settings.database.url} (schema {revision})")


@click.group()
def db() -> None:
    """Database schema: bring it up to date, or check that it matches the code.

    \b
    Examples:
      surveil db upgrade
      surveil db check
    """


@db.command()
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@click.pass_context
def upgrade(ctx: click.Context, revision: str) -> None:
    """Apply migrations up to REVISION (default: the newest). `surveil init` does the same.

    \b
    Examples:
      surveil db upgrade
      surveil db upgrade --revision 0001
    """
    app = get_app(ctx)
    console.print(f"schema at {schema.upgrade_schema(app.engine, revision)}")


@db.command()
@click.pass_context
def check(ctx: click.Context) -> None:
    """Fail (exit 1) when the schema is behind the code or differs from the models.

    \b
    Example:
      surveil db check
    """
    app = get_app(ctx)
    current, head = schema.schema_revision(app.engine), schema.code_revision()
    if current != head:
        raise click.ClickException(
            f"schema is at {current}, code expects {head}: run surveil db upgrade"
        )
    diff = schema.schema_differences(app.engine)
    if diff:
        raise click.ClickException(f"schema differs from the models: {diff}")
    console.print(f"[green]schema up to date[/] ({head})")


COMMANDS = [init, db]
