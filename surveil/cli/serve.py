"""``surveil serve``: the web worklist under uvicorn.

Its logs carry no patient data: every handler, uvicorn's access and error logs and surveil's
own, goes through ``surveil.logs.RedactPatientData`` (query values such as a searched-for name,
calendar-feed tokens, database details and control characters; ASVS 16.2.5).
"""

import dataclasses
import os
from typing import TYPE_CHECKING

import click

from surveil.cli._common import console, get_app
from surveil.config import Settings, load_settings
from surveil.logs import uvicorn_log_config

if TYPE_CHECKING:
    from fastapi import FastAPI


def served_settings(settings: Settings, *, host: str | None, port: int | None) -> Settings:
    """The settings as served: ``--host``/``--port`` replace the configured ones, so links given
    to patients (``web.public_url``) follow them unless ``web.base_url`` names another address."""
    web = dataclasses.replace(
        settings.web, host=host or settings.web.host, port=port or settings.web.port
    )
    return dataclasses.replace(settings, web=web)


@click.command("serve")
@click.option("--host", help="Address to listen on (default: web.host).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default: web.port).")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker processes sharing the port. Rate limits, the login throttle, sessions and "
    "feed fetch counts are kept in the database, so they hold across workers.",
)
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, workers: int) -> None:
    """Run the navigators' web worklist.

    \b
    Create a first account with:  surveil user add ada --role admin
    It needs a cookie-signing key:  surveil secret generate --out /etc/surveil/secret_key
    and web.secret_key_file = "/etc/surveil/secret_key" (it refuses to start without one).
    Behind HTTPS set web.https_only = true (Secure __Host- cookie and HSTS).

    \b
    Examples:
      surveil serve
      surveil serve --host 0.0.0.0 --port 8080
      surveil serve --workers 4
    """
    # uvicorn and FastAPI are imported by this command only: every other command starts faster.
    import uvicorn

    from surveil.web.app import create_app

    app = get_app(ctx, signs_cookies=True)
    settings = served_settings(app.settings, host=host, port=port)
    web = settings.web
    console.print(f"[green]surveil web[/] on http://{web.host}:{web.port}/ (Ctrl-C to stop)")
    if not web.base_url:
        console.print(f"links given to patients point at {web.public_url} (web.base_url)")
    if workers == 1:
        uvicorn.run(
            create_app(settings),
            host=web.host,
            port=web.port,
            log_config=uvicorn_log_config(),
            server_header=False,
        )
        return
    # uvicorn starts each worker from an import string, so each builds its own app (and its
    # own engine) from the same settings, found through the environment.
    config_path = ctx.find_root().obj.get("config_path")
    if config_path:
        os.environ["SURVEIL_CONFIG"] = os.path.abspath(config_path)
    os.environ["SURVEIL_WEB_HOST"] = web.host
    os.environ["SURVEIL_WEB_PORT"] = str(web.port)
    console.print(f"{workers} worker processes")
    uvicorn.run(
        "surveil.cli.serve:worker_app",
        factory=True,
        workers=workers,
        host=web.host,
        port=web.port,
        log_config=uvicorn_log_config(with_process=True),
        server_header=False,
    )


def worker_app() -> "FastAPI":
    """One worker's app (``surveil serve --workers N``): the settings as the parent process
    loaded them (``SURVEIL_CONFIG``, ``SURVEIL_WEB_HOST`` and ``_PORT`` in the environment)."""
    from surveil.web.app import create_app

    return create_app(load_settings(require_secret_key=True))


COMMANDS = [serve]
