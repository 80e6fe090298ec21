"""``surveil run-demo``: what ``make run`` starts — the web worklist and the reminder daemon,
side by side, until Ctrl-C.

The two children write into pipes that this process copies to its own output line by line. That
is how the banner (the address and every demo login) can wait until the web worklist answers and
the daemon's first lines are out, and then come last, where a newcomer sees it: printed at once,
it scrolled away under a hundred lines of the daemon's first round.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import click

from surveil import logs
from surveil.cli._common import console, get_app
from surveil.cli.secret import write_secret_file
from surveil.config_rules import secret_key_problems
from surveil.demo.people import DEMO_USERS
from surveil.errors import ConfigError

QUIET_SECONDS = 1.0  # the children's start-up is over once neither has written for this long
START_TIMEOUT_SECONDS = 60.0  # show the banner anyway after this, whatever the children do
POLL_SECONDS = 0.2


class Relay:
    """Copies each child's output to ours, a whole line at a time, and remembers when the last
    line came and which children have written at all."""

    def __init__(self, children: Sequence[subprocess.Popen[str]]) -> None:
        self.lock = threading.Lock()
        self.last_line_at = time.monotonic()
        self.spoke: set[int] = set()
        self.threads = [
            threading.Thread(target=self._copy, args=(child,), daemon=True) for child in children
        ]
        for thread in self.threads:
            thread.start()

    def _copy(self, child: subprocess.Popen[str]) -> None:
        stream: IO[str] | None = child.stdout
        if stream is None:
            return
        for line in stream:
            with self.lock:
                sys.stdout.write(line)
                sys.stdout.flush()
                self.last_line_at = time.monotonic()
                self.spoke.add(child.pid)

    def quiet_for(self) -> float:
        with self.lock:
            return time.monotonic() - self.last_line_at

    def has_spoken(self, child: subprocess.Popen[str]) -> bool:
        with self.lock:
            return child.pid in self.spoke

    def finish(self) -> None:
        for thread in self.threads:
            thread.join(timeout=5)


def web_answers(url: str) -> bool:
    """True once the web worklist serves its login page."""
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def wait_until_started(
    relay: Relay,
    *,
    web: subprocess.Popen[str],
    daemon: subprocess.Popen[str],
    login_url: str,
    stop: threading.Event,
) -> None:
    """Return when the web answers, the daemon has written its first lines and both have been
    quiet for a moment; or when a child has exited, Ctrl-C was pressed, or the time is up."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    web_up = False
    while time.monotonic() < deadline and not stop.is_set():
        if web.poll() is not None or daemon.poll() is not None:
            return
        web_up = web_up or web_answers(login_url)
        if web_up and relay.has_spoken(daemon) and relay.quiet_for() >= QUIET_SECONDS:
            return
        time.sleep(POLL_SECONDS)


def print_banner(relay: Relay, url: str) -> None:
    with relay.lock:
        console.print(f"\n[bold green]surveil is running[/]: open {url} in a browser")
        for user in DEMO_USERS:
            where = f", {user.clinic}" if user.clinic else ""
            console.print(
                f"  log in as [bold]{user.username}[/] / [bold]{user.password}[/] "
                f"({user.role.value}{where})"
            )
        console.print("  no second factor is asked in the demo (no authenticator apps)")
        console.print("  HL7 feeds: surveil hl7 send tests/data/hl7/*.hl7 (README, HL7 feeds)")
        console.print("  reminders are written to the log (dry run); Ctrl-C stops everything\n")


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
    demo never emails anybody. Once both have started, it prints the address and every demo login.

    \b
    Examples:
      surveil run-demo
      surveil run-demo --port 8080
    """
    logs.configure_logging()
    app = get_app(ctx)
    web = app.settings.web
    host, port = host or web.host, port or web.port
    env = dict(os.environ, PYTHONUNBUFFERED="1")  # lines through the pipe as they are written
    env.setdefault("SURVEIL_DAEMON_EMAIL_CHANNEL", "log")
    env.setdefault("SURVEIL_DAEMON_SMS_CHANNEL", "log")
    # The demo's people have no authenticator apps: its admins and clinicians log in with the
    # printed password alone (docs/security.md: never so in production).
    env.setdefault("SURVEIL_SECURITY_TOTP_REQUIRED", "false")
    # Both children read the address from the environment, so the daemon's e-mails link to the
    # port the web app really listens on (web.public_url), like the calendar links do.
    env["SURVEIL_WEB_HOST"], env["SURVEIL_WEB_PORT"] = host, str(port)
    key_file = demo_secret_key_file(web.secret_key)
    if key_file is not None:
        env["SURVEIL_WEB_SECRET_KEY_FILE"] = str(key_file.resolve())
    config = ctx.find_root().obj.get("config_path")
    prefix = [sys.executable, "-m", "surveil", *(["--config", config] if config else [])]
    children = [
        _start([*prefix, "serve", "--host", host, "--port", str(port)], env),
        _start([*prefix, "daemon"], env),
        *_hl7_listener(prefix, env, app.settings.hl7.port),
    ]
    stop = threading.Event()

    def on_signal(_signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    relay = Relay(children)
    probe_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    try:
        wait_until_started(
            relay,
            web=children[0],
            daemon=children[1],
            login_url=f"http://{probe_host}:{port}/login",
            stop=stop,
        )
        if not stop.is_set() and all(child.poll() is None for child in children):
            print_banner(relay, f"http://{host}:{port}/")
        while not stop.is_set() and all(child.poll() is None for child in children):
            time.sleep(POLL_SECONDS)
    finally:
        _stop(children)
        relay.finish()
    failed = [c for c in children if c.returncode not in (0, -signal.SIGTERM, None)]
    if failed and not stop.is_set():
        raise click.ClickException("a part of the demo stopped unexpectedly (see the log above)")


def _hl7_listener(prefix: list[str], env: dict[str, str], port: int) -> list[subprocess.Popen[str]]:
    """The HL7 listener on loopback (issue 17; README: push the samples with `surveil hl7
    send`), unless its port is taken: the demo then runs without it and says so."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            console.print(f"HL7 port {port} is in use: the demo runs without an HL7 listener")
            return []
    env.setdefault("SURVEIL_HL7_IDENTIFIER_AUTHORITY", "HOSP")  # as the sample messages say
    return [_start([*prefix, "hl7", "listen", "--host", "127.0.0.1", "--port", str(port)], env)]


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    """A child whose output (stdout and stderr, in order) comes to us through one pipe."""
    return subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _stop(children: Sequence[subprocess.Popen[str]]) -> None:
    """SIGTERM to each child still running (each finishes what it is doing), then wait."""
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


COMMANDS = [run_demo]
