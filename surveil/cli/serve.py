"""``surveil serve``: the web worklist under uvicorn.

The access log never shows a calendar-feed token: ``/feeds/<token>.ics`` is logged as
``/feeds/<redacted>.ics`` (a token in a log file is a key to a patient's schedule; ASVS 16.2.5).
"""

import copy
import logging
import re
from typing import Any

import click

from surveil.cli._common import console, get_app

_FEED_TOKEN = re.compile(r"(/feeds/)[^/?#\s\"]+?(\.ics)?(?=[/?#\s\"]|$)")


def redact(text: str) -> str:
    """``/feeds/abc123.ics?x`` -> ``/feeds/<redacted>.ics?x``."""
    return _FEED_TOKEN.sub(lambda m: f"{m.group(1)}<redacted>{m.group(2) or ''}", text)


class RedactFeedTokens(logging.Filter):
    """Rewrites uvicorn's access records (and any message) before a handler formats them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str) and "/feeds/" in record.msg:
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
        log_config=log_config(),
        server_header=False,
    )


COMMANDS = [serve]
