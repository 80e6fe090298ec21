"""``surveil run-demo``: what ``make run`` starts — the web worklist and the reminder daemon,
side by side, until Ctrl-C."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click

from surveil import logs
from surveil.cli._common import console, get_app
from surveil.cli.secret import write_secret_file
from surveil.config_rules import secret_key_problems
from surveil.errors import ConfigError

DEMO_LOGINS = (("nurse", "nurse-demo", "navigator"), ("admin", "admin-demo", "admin"))
# The demo's own cookie-signing key, made on the first run and kept beside the demo database,
# so a restart does not sign everyone out. Never a key shipped in the repository.
DEMO_SECRET_KEY_FILE = Path("var/demo-secret.key")


def demo_secret_key_file(configured: str) -> Path | None:
    """The key file the demo's web worklist should read, or None when the configuration names
    a good key of its own. A weak configured key is refused, as ``surveil serve`` would."""
    if configured:
        if problems := secret_key_problems(configured):
            raise ConfigError(problems)
        return None
    if not DEMO_SECRET_KEY_FILE.exists():
        write_secret_file(DEMO_SECRET_KEY_FILE)
        console.print(f"made a cookie-signing key for the demo in {DEMO_SECRET_KEY_FILE}")
    return DEMO_SECRET_KEY_FILE


@click.command("run-demo")
@click.option("--host", default=None, help="Address for the web worklist (default: config).")
@click.option(
    "--port",
    default=None,
    type=click.IntRange(1, 65535),
    help="Port for the web worklist (default: config).",
)
@click.pass_context
def run_demo(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Start the web worklist and the reminder daemon together (Ctrl-C stops both).

    Reminders go to the dry-run log channel unless the configuration names a real one, so the
    demo never emails anybody.
    """
    logs.configure_logging()
    app = get_app(ctx)
    web = app.settings.web
    host, port = host or web.host, port or web.port
    env = dict(os.environ)
    env.setdefault("SURVEIL_DAEMON_EMAIL_CHANNEL", "log")
    env.setdefault("SURVEIL_DAEMON_SMS_CHANNEL", "log")
    key_file = demo_secret_key_file(web.secret_key)
    if key_file is not None:
        env["SURVEIL_WEB_SECRET_KEY_FILE"] = str(key_file.resolve())
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
