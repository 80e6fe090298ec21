"""``surveil serve``: the web worklist under uvicorn.

The access log never shows a calendar-feed token: ``/feeds/<token>.ics`` is logged as
``/feeds/<redacted>.ics`` (a token in a log file is a key to a patient's schedule; ASVS 16.2.5).
Nor what a nurse searched for: ``?q=okafor`` is logged as ``?q=<redacted>`` (a name or birth
date is PHI), and so is ``next=`` on the login page, which may carry a search address.
"""

import copy
import dataclasses
import logging
import re
from typing import Any

import click

from surveil.cli._common import console, get_app
from surveil.config import Settings
from surveil.errors import ConfigError, Problem

_FEED_TOKEN = re.compile(r"(/feeds/)[^/?#\s\"]+?(\.ics)?(?=[/?#\s\"]|$)")
_PHI_PARAMETER = re.compile(r"([?&](?:q|next)=)[^&#\s\"]*")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
PLACEHOLDER_SECRET = "dev-only-change-me"


def redact(text: str) -> str:
    """``/feeds/abc.ics?x`` -> ``/feeds/<redacted>.ics?x``; ``?q=okafor`` -> ``?q=<redacted>``."""
    text = _FEED_TOKEN.sub(lambda m: f"{m.group(1)}<redacted>{m.group(2) or ''}", text)
    return _PHI_PARAMETER.sub(lambda m: f"{m.group(1)}<redacted>", text)


class RedactFeedTokens(logging.Filter):
    """Rewrites uvicorn's access records (and any message) before a handler formats them: feed
    tokens and searched-for text never reach a log file."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's own logging configuration with the redacting filter on every handler."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_feed_tokens"] = {"()": RedactFeedTokens}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("redact_feed_tokens")
    return config


def served_settings(settings: Settings, *, host: str | None, port: int | None) -> Settings:
    """The settings as served: ``--host``/``--port`` replace the configured ones, so links given
    to patients (``web.public_url``) follow them unless ``web.base_url`` names another address."""
    web = dataclasses.replace(
        settings.web, host=host or settings.web.host, port=port or settings.web.port
    )
    return dataclasses.replace(settings, web=web)


@click.command("serve")
@click.option("--host", help="Address to listen on (default: web.host).")
@click.option("--port", type=int, help="Port (default: web.port).")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Run the navigators' web worklist.

    \b
    Create a first account with:  surveil user add ada --role admin
    Behind HTTPS set web.https_only = true (Secure __Host- cookie and HSTS).

    \b
    Examples:
      surveil serve
      surveil serve --host 0.0.0.0 --port 8080
    """
    # uvicorn and FastAPI are imported by this command only: every other command starts faster.
    import uvicorn

    from surveil.web.app import create_app

    app = get_app(ctx)
    settings = served_settings(app.settings, host=host, port=port)
    web = settings.web
    if web.secret_key == PLACEHOLDER_SECRET and web.host not in LOOPBACK:
        raise ConfigError(
            Problem("web.secret_key", "set a real secret before listening beyond this machine")
        )
    console.print(f"[green]surveil web[/] on http://{web.host}:{web.port}/ (Ctrl-C to stop)")
    if not web.base_url:
        console.print(f"links given to patients point at {web.public_url} (web.base_url)")
    uvicorn.run(
        create_app(settings),
        host=web.host,
        port=web.port,
        log_config=log_config(),
        server_header=False,
    )


COMMANDS = [serve]
