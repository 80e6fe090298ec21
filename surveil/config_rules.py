"""What a setting may be, beyond its type: the range of every number, web addresses, the SMS
provider's header, and what makes a session-signing key acceptable.

Kept apart from ``config.py`` (which reads files and the environment and coerces types) so the
rules read as a table. Every function returns problems rather than raising, so the loader can
report all of them at once. A problem never repeats a secret's value.
"""

import re
from dataclasses import dataclass
from typing import Any

from surveil.errors import Problem


@dataclass(frozen=True)
class Bound:
    low: float
    high: float
    why: str = ""

    def problem(self, where: str, value: float) -> Problem | None:
        if self.low <= value <= self.high:
            return None
        reason = f" ({self.why})" if self.why else ""
        return Problem(where, f"{value:g} is outside {self.low:g}–{self.high:g}{reason}")


_PORT = Bound(1, 65535, "a TCP port")
_NETWORK_TIMEOUT = Bound(0.1, 300, "seconds")

# Every numeric setting, (section, key) -> its range. A test checks that no numeric field of the
# settings classes is missing here, so a new one cannot be added without a range.
BOUNDS: dict[tuple[str, str], Bound] = {
    ("web", "port"): _PORT,
    # The absolute session lifetime is 12 hours: an idle timeout beyond it would never apply.
    ("web", "session_minutes"): Bound(1, 720, "minutes; sessions end after 12 hours anyway"),
    # 0 would refuse every login, even the first; more than 100 is no throttle at all.
    ("web", "login_attempts"): Bound(1, 100),
    ("web", "login_window_minutes"): Bound(1, 1440, "minutes"),
    ("web", "feed_requests_per_minute"): Bound(0, 100_000, "0 turns the limit off"),
    ("worklist", "soon_days"): Bound(1, 365, "days"),
    ("worklist", "lost_after_days"): Bound(1, 3650, "days"),
    ("worklist", "page_size"): Bound(1, 1000, "rows"),
    ("worklist", "snooze_max_days"): Bound(1, 365, "days"),
    ("feeds", "refresh_hours"): Bound(1, 168, "hours"),
    ("feeds", "cancelled_retention_days"): Bound(0, 3650, "days"),
    ("feeds", "alarm_days_before"): Bound(0, 60, "days; 0 = no alarm"),
    ("smtp", "port"): _PORT,
    ("smtp", "timeout_seconds"): _NETWORK_TIMEOUT,
    ("sms", "timeout_seconds"): _NETWORK_TIMEOUT,
    # How far a signed webhook's timestamp may be from our clock; beyond it, a replay.
    ("sms", "inbound_window_seconds"): Bound(10, 3600, "seconds"),
    # RFC 8058 unsubscribe links must keep working for a while (CAN-SPAM: 30 days at least).
    ("replies", "link_days"): Bound(1, 365, "days"),
    ("daemon", "dispatch_seconds"): Bound(1, 3600, "seconds"),
    ("daemon", "plan_minutes"): Bound(1, 1440, "minutes"),
    ("daemon", "sweep_seconds"): Bound(1, 3600, "seconds"),
    # Shorter than one send (an SMTP timeout) and a slow send would be taken for a crash.
    ("daemon", "lease_seconds"): Bound(10, 86_400, "seconds"),
    ("daemon", "batch_size"): Bound(1, 10_000),
    ("daemon", "max_attempts"): Bound(1, 100),
    ("bookings", "no_result_grace_days"): Bound(0, 90, "days"),
    ("interop", "api_requests_per_minute"): Bound(1, 100_000, "per API token"),
    ("hl7", "port"): _PORT,
    # 0 would delete a message before a navigator could read it in the unmatched queue.
    ("hl7", "retention_days"): Bound(1, 3650, "days"),
}


def bound_problems(section: str, values: dict[str, Any]) -> list[Problem]:
    """Every number in ``values`` (one section, already coerced) outside its range."""
    problems = []
    for key, value in values.items():
        bound = BOUNDS.get((section, key))
        if bound is None or isinstance(value, bool) or not isinstance(value, int | float):
            continue
        problem = bound.problem(f"{section}.{key}", value)
        if problem is not None:
            problems.append(problem)
    return problems


# --------------------------------------------------------------------------- addresses

# (section, key) -> may be empty. The SMS webhook's address is not quoted back: providers put
# account ids, sometimes keys, in it.
_URLS = {
    ("web", "base_url"): True,
    ("sms", "url"): True,
    ("replies", "link_base_url"): True,
}  # empty: not used / served address


def url_problems(section: str, values: dict[str, Any]) -> list[Problem]:
    """The section's web addresses that are not http(s)."""
    problems = []
    for (sec, key), may_be_empty in _URLS.items():
        url = values.get(key) if sec == section else None
        if url is None or (not url and may_be_empty):
            continue
        scheme, sep, rest = url.partition("://")
        if scheme not in ("https", "http") or not sep or not rest.strip("/"):
            problems.append(Problem(f"{sec}.{key}", "must be an http:// or https:// address"))
    return problems


# --------------------------------------------------------------------------- header lines

# RFC 9110 field-name: a token. The value may hold spaces and tabs but no control character,
# which is what would let a value smuggle a second header (CR LF) into the request.
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
HEADER_EXAMPLE = "Authorization: Bearer <token>"


def header_line_problems(where: str, line: str) -> list[Problem]:
    """``line`` must be one ``Name: value`` header (empty means none). The message never quotes
    the line: it is a credential."""
    if not line:
        return []
    name, sep, value = line.partition(":")
    if not sep or not _HEADER_NAME.match(name.strip()) or name != name.strip():
        return [Problem(where, f'must be one header line "Name: value", e.g. "{HEADER_EXAMPLE}"')]
    if not value.strip():
        return [Problem(where, "has a header name but no value")]
    if _CONTROL.search(value):
        return [Problem(where, "must not contain line breaks or other control characters")]
    return []


# --------------------------------------------------------------------------- the signing key

MIN_SECRET_KEY_LENGTH = 32
# Values that ship in examples and tutorials; anyone can sign a cookie with them.
_PLACEHOLDER_MARKS = ("change-me", "changeme", "change_me", "dev-only", "placeholder", "example")
SECRET_KEY_HINT = "run `surveil secret generate --out FILE` and set web.secret_key_file = FILE"


def secret_key_problems(key: str) -> list[Problem]:
    """Why ``key`` cannot sign session cookies, if it cannot: unset, a known placeholder, or
    too short to resist guessing (the cookie is forged with the key alone)."""
    where = "web.secret_key"
    if not key.strip():
        return [Problem(where, f"is not set: {SECRET_KEY_HINT}")]
    lowered = key.lower()
    if any(mark in lowered for mark in _PLACEHOLDER_MARKS):
        return [Problem(where, f"is a placeholder that anyone can read: {SECRET_KEY_HINT}")]
    if len(key) < MIN_SECRET_KEY_LENGTH:
        return [
            Problem(
                where,
                f"is shorter than {MIN_SECRET_KEY_LENGTH} characters: {SECRET_KEY_HINT}",
            )
        ]
    return []


REASON_CODE = re.compile(r"[a-z][a-z0-9_]{0,31}")


def reason_codes(text: str) -> tuple[str, ...]:
    """A ``[reasons]`` list as its codes, in order, with "other" always last."""
    codes = [c.strip() for c in text.split(",") if c.strip()]
    return (*dict.fromkeys(c for c in codes if c != "other"), "other")


def reason_list_problems(section: str, values: dict[str, Any]) -> list[Problem]:
    """Each ``[reasons]`` list must be comma-separated codes (lowercase, digits, underscores)."""
    if section != "reasons":
        return []
    problems = []
    for key, text in sorted(values.items()):
        bad = [c.strip() for c in str(text).split(",") if not REASON_CODE.fullmatch(c.strip())]
        if bad:
            problems.append(
                Problem(
                    f"reasons.{key}",
                    f"{', '.join(repr(b) for b in bad)}: codes are lowercase letters, digits "
                    "and underscores, separated by commas",
                )
            )
    return problems
