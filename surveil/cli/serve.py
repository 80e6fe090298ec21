"""``surveil serve``: the web worklist under uvicorn.

Its logs carry no patient data: every handler, uvicorn's access and error logs and surveil's
own, goes through ``surveil.logs.RedactPatientData`` (query values, calendar-feed tokens,
database details and control characters; ASVS 16.2.5).
"""

import click

from surveil.cli._common import console, get_app
from surveil.logs import uvicorn_log_config


@click.command("serve")
@click.option("--host", help="Address to listen on (default: web.host).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default: web.port).")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Run the navigators' web worklist.

    \b
    Create a first account with:  surveil user add ada --role admin
    It needs a cookie-signing key:  surveil secret generate --out /etc/surveil/secret_key
    and web.secret_key_file = "/etc/surveil/secret_key" (it refuses to start without one).
    Behind HTTPS set web.https_only = true (Secure __Host- cookie and HSTS).
    """
    import uvicorn

    from surveil.web.app import create_app

    app = get_app(ctx, signs_cookies=True)
    web = app.settings.web
    host, port = host or web.host, port or web.port
    console.print(f"[green]surveil web[/] on http://{host}:{port}/ (Ctrl-C to stop)")
    uvicorn.run(
        create_app(app.settings),
        host=host,
        port=port,
        log_config=uvicorn_log_config(),
        server_header=False,
    )


COMMANDS = [serve]
