"""What every command shares: settings, the database engine, today's date, and output."""

import datetime as dt
import getpass
import json
from dataclasses import dataclass, field
from typing import Any

import click
import sqlalchemy as sa
from rich.console import Console

from surveil.config import Settings, load_settings
from surveil.config_rules import secret_key_problems
from surveil.core.vocab import Channel
from surveil.core.zones import today_in
from surveil.db.engine import make_engine
from surveil.errors import ConfigError
from surveil.services.actor import Actor
from surveil.services.protocols import check_clinic_protocol
from surveil.services.users import accounts

console = Console()
err_console = Console(stderr=True)


@dataclass
class App:
    settings: Settings
    as_user: str | None = None
    _engine: sa.Engine | None = field(default=None, repr=False)

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            self._engine = make_engine(self.settings.database.url, echo=self.settings.database.echo)
        return self._engine

    @property
    def clinic(self) -> str:
        return self.settings.clinic.name

    def today(self) -> dt.date:
        """Today in the clinic's time zone (the CLI's only reading of the clock)."""
        return today_in(self.settings.clinic.timezone, dt.datetime.now(dt.UTC))

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def actor(self) -> Actor:
        """The surveil user this command acts as (``--as`` / ``SURVEIL_USER``), checked against
        the registry: unknown or inactive users are refused before anything is read or written."""
        return accounts.acting_user(
            self.engine, username=self.as_user, os_user=getpass.getuser(), channel=Channel.CLI
        )


def get_app(ctx: click.Context, *, signs_cookies: bool = False) -> App:
    """The command's settings and engine, loaded once. ``signs_cookies``: the command serves
    the web app, so a missing or weak ``web.secret_key`` is refused at load."""
    root = ctx.find_root()
    root.ensure_object(dict)
    if "app" not in root.obj:
        settings = load_settings(root.obj.get("config_path"), require_secret_key=signs_cookies)
        check_clinic_protocol(settings)
        root.obj["app"] = App(settings=settings, as_user=root.obj.get("as_user"))
    app: App = root.obj["app"]
    if signs_cookies and (problems := secret_key_problems(app.settings.web.secret_key)):
        raise ConfigError(problems)
    return app


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
