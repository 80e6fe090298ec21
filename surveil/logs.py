"""Log lines without patient data: one filter for every handler the entry points set up.

What can carry patient data into a log, and what this filter does with it:

- request lines and paths (uvicorn's access log, our error log): the query string of every
  route is kept by name, its values replaced (``/worklist?q=<redacted>&page=2``) except for a
  few harmless ones (page, section, site, kind); calendar-feed tokens become ``<redacted>``;
- database errors in tracebacks: statements' parameters are hidden at the source
  (``hide_parameters=True`` in ``db.session.make_engine``); PostgreSQL's own details, which
  quote the row (``Key (mrn)=(...) already exists``, ``Failing row contains (...)``), and any
  ``[parameters: ...]`` that gets through are cut here;
- a provider's answer quoted in a delivery error: e-mail addresses and international phone
  numbers become ``<email>`` and ``<phone>``;
- control characters (a NUL, a newline or an escape sequence in a request path) are written as
  ``\\xNN``, so nobody can forge a log line or drive a terminal; tracebacks keep their newlines.

Names and MRNs have no shape a pattern could find: the code never logs them (ids only), and the
redactions above cover the places where user input can reach a log line indirectly.
"""

import logging
import re
import sys
import traceback
from collections.abc import Iterable
from typing import Any

REDACTED = "<redacted>"
# Query parameters whose values are never patient data: pagination and the worklist's filters
# that name a section, a tumour site or an item kind (all fixed vocabularies).
HARMLESS_PARAMETERS = frozenset({"page", "section", "site", "kind"})
_HARMLESS_VALUE = re.compile(r"^[A-Za-z0-9_.-]{0,40}$")

# Calendar feeds and the reply links of reminder e-mails (``/r/<token>``): the URL is the secret.
_FEED_TOKEN = re.compile(r"(/feeds/|/r/)[^/?#\s\"]+?(\.ics)?(?=[/?#\s\"]|$)")
_QUERY = re.compile(r"(/[^\s?\"']*)\?([^\s\"'#]*)")
_DB_KEY = re.compile(r"(Key \([^)\n]*\)=).*")
_DB_ROW = re.compile(r"(Failing row contains ).*")
_SQL_PARAMETERS = re.compile(r"\[parameters: .*?\](?=\n|$)", re.DOTALL)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"\+\d[\d ().-]{6,}\d")
# C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_BUT_NEWLINE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def redact_feed_tokens(text: str) -> str:
    """``/feeds/abc123.ics?x`` -> ``/feeds/<redacted>.ics?x``; ``/r/abc`` -> ``/r/<redacted>``."""
    return _FEED_TOKEN.sub(lambda m: f"{m.group(1)}{REDACTED}{m.group(2) or ''}", text)


def redact_query(text: str) -> str:
    """Every ``/path?a=1&b=2`` in ``text`` with its values redacted, names kept."""
    return _QUERY.sub(lambda m: f"{m.group(1)}?{_redact_pairs(m.group(2))}", text)


def _redact_pairs(query: str) -> str:
    pairs = []
    for pair in query.split("&"):
        name, sep, value = pair.partition("=")
        keep = value == REDACTED or (name in HARMLESS_PARAMETERS and _HARMLESS_VALUE.match(value))
        pairs.append(f"{name}{sep}{value if keep else REDACTED}" if sep else REDACTED)
    return "&".join(pairs)


def escape_controls(text: str, *, keep_newlines: bool = False) -> str:
    pattern = _CONTROL_BUT_NEWLINE if keep_newlines else _CONTROL
    return pattern.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def scrub(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with everything above redacted and control characters escaped. Idempotent:
    scrubbing twice gives the same line (a record may pass through several handlers)."""
    text = redact_query(text)
    text = redact_feed_tokens(text)
    text = _DB_KEY.sub(lambda m: f"{m.group(1)}({REDACTED})", text)
    text = _DB_ROW.sub(lambda m: f"{m.group(1)}({REDACTED})", text)
    text = _SQL_PARAMETERS.sub(f"[parameters: {REDACTED}]", text)
    text = _EMAIL.sub("<email>", text)
    text = _PHONE.sub("<phone>", text)
    return escape_controls(text, keep_newlines=keep_newlines)


class RedactPatientData(logging.Filter):
    """Scrubs a record in place before its handler formats it: the message, each string
    argument (uvicorn's access formatter reads its arguments one by one), the traceback and the
    stack. Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = scrub(record.msg)
        record.args = _scrub_args(record.args)
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = scrub(record.exc_text, keep_newlines=True)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info, keep_newlines=True)
        return True


def _scrub_args(args: Any) -> Any:
    if isinstance(args, tuple):
        return tuple(_scrub_arg(a) for a in args)
    if isinstance(args, dict):
        return {k: _scrub_arg(v) for k, v in args.items()}
    return args


def _scrub_arg(value: Any) -> Any:
    """Numbers stay numbers (``%d``); anything else is logged as its scrubbed text, since an
    object's ``str`` (an ``httpx.URL``, an exception) may carry a query or a token."""
    if value is None or isinstance(value, int | float):
        return value
    return scrub(str(value))


def add_filter(handlers: Iterable[logging.Handler]) -> None:
    """Put the filter on each handler (once). Handlers, not loggers: a logger's filter does not
    see the records its children propagate to it."""
    for handler in handlers:
        if not any(isinstance(f, RedactPatientData) for f in handler.filters):
            handler.addFilter(RedactPatientData())


def configure_logging(level: int = logging.INFO) -> None:
    """Timestamped lines on stderr (what systemd, Docker and ``make run`` collect), scrubbed.
    For the entry points that run for long: the daemon and the demo's supervisor."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(
            level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    add_filter(root.handlers)


def uvicorn_log_config(*, with_process: bool = False) -> dict[str, Any]:
    """uvicorn's own logging configuration with the filter on every handler, and the root
    logger (where surveil's own modules log) sent to uvicorn's error handler, so no record
    falls through to Python's unfiltered last-resort handler. ``with_process``: every line
    starts with the process id (several workers write to one log)."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    if with_process:
        for formatter in config["formatters"].values():
            formatter["fmt"] = "[%(process)d] " + formatter["fmt"]
    config.setdefault("filters", {})["redact_patient_data"] = {"()": RedactPatientData}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("redact_patient_data")
    config["root"] = {"handlers": ["default"], "level": "INFO"}
    return config
