"""``surveil run-demo``: what ``make run`` starts — the web worklist and the reminder daemon,
side by side, until Ctrl-C."""

import os
import signal
import subprocess
import sys
import time

import click

from surveil.cli._common import console, get_app

DEMO_LOGINS = (("nurse", "nurse-demo", "navigator"), ("admin", "admin-demo", "admin"))


@click.command("run-demo")
@click.option("--host", default=None, help="Address for the web worklist (default: config).")
@click.option("--port", default=None, type=int, help="Port for the web worklist (default: config).")
@click.pass_context
def run_demo(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Start the web worklist and the reminder daemon together (Ctrl-C stops both).

    Reminders go to the dry-run log channel unless the configuration names a real one, so the
    demo never emails anybody.
    """
    app = get_app(ctx)
    web = app.settings.web
    host, port = host or web.host, port or web.port
    env = dict(os.environ)
    env.setdefault("SURVEIL_DAEMON_EMAIL_CHANNEL", "log")
    env.setdefault("SURVEIL_DAEMON_SMS_CHANNEL", "log")
    # Both children read the address from the environment, so the daemon's e-mails link to the
    # port the web app really listens on (web.public_url), like the calendar links do.
    env["SURVEIL_WEB_HOST"], env["SURVEIL_WEB_PORT"] = host, str(port)
    config = ctx.find_root().obj.get("config_path")
    prefix = [sys.executable, "-m", "surveil", *(["--config", config] if config else [])]
    children = [
        subprocess.Popen([*prefix, "serve", "--host", host, "--port", str(port)], env=env),
        subprocess.Popen([*prefix, "daemon"], env=env),
    ]
    console.print(f"\n[bold green]surveil is running[/]: open http://{host}:{port}/ in a browser")
    for user, password, role in DEMO_LOGINS:
        console.print(f"  log in as [bold]{user}[/] / [bold]{password}[/] ({role})")
    console.print("  reminders are written to the log (dry run); Ctrl-C stops everything\n")
    stop = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        while not stop and all(child.poll() is None for child in children):
            time.sleep(0.5)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
    failed = [c for c in children if c.returncode not in (0, -signal.SIGTERM, None)]
    if failed and not stop:
        raise click.ClickException("a part of the demo stopped unexpectedly (see the log above)")


COMMANDS = [run_demo]
