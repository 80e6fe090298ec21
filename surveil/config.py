"""Settings: a TOML file, overridden by ``SURVEIL_<SECTION>_<KEY>`` environment variables, with
secrets read from files (``<key>_file`` in TOML, or ``SURVEIL_<SECTION>_<KEY>_FILE``).

Every problem is collected and reported at once (``ConfigError``), naming the key and the bad
value. ``load_settings`` runs only in entry points; tests build ``Settings(...)`` directly.
``config.example.toml`` is the reference and a test keeps it in step with the classes below.
"""

import dataclasses
import os
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from surveil.config_rules import (
    bound_problems,
    header_line_problems,
    reason_list_problems,
    secret_key_problems,
    url_problems,
)
from surveil.core.digits import is_digits
from surveil.core.facts import is_time_zone
from surveil.core.reminder_policy import parse_policy
from surveil.errors import ConfigError, Problem

DEFAULT_CONFIG_FILE = "surveil.toml"
ENV_PREFIX = "SURVEIL_"
SECRET_KEYS = {
    ("web", "secret_key"),
    ("smtp", "password"),
    ("sms", "auth_header"),
    ("sms", "inbound_secret"),
}


@dataclass(frozen=True)
class ClinicSettings:
    name: str = "Neuroendocrine Tumour Clinic"
    # What patients see in reminders: neutral, because a letter from a "Neuroendocrine Tumour
    # Clinic" discloses the diagnosis to whoever opens it.
    patient_facing_name: str = "Outpatient Follow-up Clinic"
    phone: str = "+44 20 7946 0000"
    timezone: str = "Europe/London"
    profile: str = "default"
    pack: str = "net-default"
    # Off by default: feeds and reminders say "scan" or "blood test", never the diagnosis.
    detailed_messages: bool = False


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = "sqlite:///var/surveil.db"
    echo: bool = False
    # PostgreSQL only: let the calendar poll's reads use server-side prepared statements
    # (db.engine.poll_engine). Only where surveil connects to PostgreSQL itself: PgBouncer in
    # transaction mode (before 1.21) hands a client's prepared statement names to other
    # clients' server connections.
    prepared_statements: bool = False


@dataclass(frozen=True)
class PathSettings:
    schedules: Path | None = None
    templates: Path | None = None


@dataclass(frozen=True)
class WebSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    # The address patients and e-mails are given (calendar links, QR codes, the digest's link).
    # Empty: the address surveil serves on (http://host:port). Set it behind a proxy or TLS.
    base_url: str = ""
    # No default: every deployment makes its own (``surveil secret generate``); commands that
    # sign cookies refuse to start without one (``config_rules.secret_key_problems``).
    secret_key: str = ""
    session_minutes: int = 480
    https_only: bool = False
    login_attempts: int = 5
    login_window_minutes: int = 15
    feed_requests_per_minute: int = 30

    @property
    def public_url(self) -> str:
        """The configured public address, or the one served on: never a request's own host and
        port (a page served through a tunnel or on another port would hand out dead links)."""
        host = f"[{self.host}]" if ":" in self.host else self.host  # an IPv6 address
        return (self.base_url or f"http://{host}:{self.port}").rstrip("/")


@dataclass(frozen=True)
class WorklistSettings:
    soon_days: int = 14
    lost_after_days: int = 90
    page_size: int = 50
    snooze_max_days: int = 28


@dataclass(frozen=True)
class FeedSettings:
    calendar_name: str = "Hospital follow-up"
    refresh_hours: int = 6
    cancelled_retention_days: int = 30
    alarm_days_before: int = 0


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "127.0.0.1"
    port: int = 25
    security: str = "starttls"
    username: str = ""
    password: str = ""
    sender: str = "follow-up@clinic.example"
    timeout_seconds: float = 10.0


@dataclass(frozen=True)
class SmsSettings:
    url: str = ""
    auth_header: str = ""
    timeout_seconds: float = 10.0
    # Patients' replies (issue 18): the provider's inbound webhook signs each request with this
    # shared secret (HMAC-SHA256); empty: inbound texts are refused.
    inbound_secret: str = ""
    inbound_window_seconds: int = 300


@dataclass(frozen=True)
class RepliesSettings:
    """The links in reminder e-mails (confirm, call me, stop; List-Unsubscribe)."""

    link_days: int = 30
    link_base_url: str = ""  # empty: web.base_url (the address patients can reach)
    unsubscribe_mailto: str = ""  # optional address for the List-Unsubscribe mailto


@dataclass(frozen=True)
class DaemonSettings:
    dispatch_seconds: int = 30
    plan_minutes: int = 15
    sweep_seconds: int = 60
    lease_seconds: int = 120
    batch_size: int = 100
    digest_time: str = "07:30"
    email_channel: str = "smtp"
    sms_channel: str = "sms"
    max_attempts: int = 8


# Issue 14: bookings against the due window, and the coded reasons people give. Each reason list
# is comma-separated codes (lowercase, digits, underscores); "other" is always accepted and
# always needs free text. See surveil.services.reasons.
@dataclass(frozen=True)
class BookingSettings:
    # Days after a booked appointment with no result before the item moves to "booked, no result".
    no_result_grace_days: int = 7


@dataclass(frozen=True)
class ReasonSettings:
    booking: str = "patient_choice, no_slot, clinician_instruction, hospital_system, other"
    declined: str = "patient_choice, too_unwell, cannot_travel, done_elsewhere, other"
    not_needed: str = "clinician_decision, contraindicated, duplicate, done_elsewhere, other"
    snoozed: str = "patient_away, awaiting_slot, awaiting_result, patient_unwell, other"
    override: str = "clinician_judgement, patient_choice, contraindication, trial_protocol, other"
    reopened: str = "recorded_in_error, patient_changed_mind, result_not_received, other"
    # How a trigger was resolved; false_alarm and measurement_error undo its consequences.
    trigger_outcome: str = (
        "confirmed_progression, false_alarm, measurement_error, clinically_insignificant, other"
    )


@dataclass(frozen=True)
class SecuritySettings:
    """The second factor (issue 21): TOTP is required of clinicians and administrators.

    ``totp_required = false`` turns the requirement off for everyone (a test or demo set-up with
    no phones; never in production); ``totp_for_navigators`` extends it to navigators. A user who
    enrolled is always asked for a code, required or not."""

    totp_required: bool = True
    totp_for_navigators: bool = False
    totp_issuer: str = "surveil"  # the name authenticator apps show beside the account


@dataclass(frozen=True)
class InteropSettings:
    """Data in and out (issue 16): the JSON API's rate limit and the CSV import's dates."""

    api_requests_per_minute: int = 120
    import_date_format: str = ""  # strftime codes, e.g. "%d/%m/%Y"; ISO dates always work


@dataclass(frozen=True)
class Hl7Settings:
    """HL7 v2 feeds from the hospital over MLLP (issue 17, docs/hl7.md).

    ``identifier_authority``: the assigning authority (PID-3.4) whose identifier is the MRN; empty
    takes the first identifier. ``local_codes`` and ``appointment_types`` are comma-separated
    ``CODE=kind`` pairs (a lab's own OBX-3 codes beside the LOINC ones surveil knows; SIU
    appointment types to item kinds). Raw messages are kept ``retention_days``.

    ``a03`` (a discharge from a hospital stay): ``update`` the details as A08 does, ``ignore``
    it, ``queue`` it for a navigator, or ``discharge`` the patient from follow-up here (which
    stops the plan and reminders). ``enrol_unknown``: an A01/A04/A28 for an MRN surveil does not
    know enrols the patient (clinic ``[clinic] name``, zone ``enrol_timezone`` or the clinic's)
    instead of queueing it. A SIU booking outside the item's window is kept with the coded
    reason ``booking_reason`` (one of ``[reasons] booking``) when ``booking_outside_window`` is
    ``reason``, or queued for a navigator when it is ``queue``."""

    host: str = "127.0.0.1"
    port: int = 2575
    identifier_authority: str = ""
    local_codes: str = ""
    appointment_types: str = ""
    retention_days: int = 90
    a03: str = "update"
    enrol_unknown: bool = False
    enrol_timezone: str = ""
    booking_outside_window: str = "reason"
    booking_reason: str = "hospital_system"


@dataclass(frozen=True)
class Settings:
    clinic: ClinicSettings = field(default_factory=ClinicSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    paths: PathSettings = field(default_factory=PathSettings)
    web: WebSettings = field(default_factory=WebSettings)
    worklist: WorklistSettings = field(default_factory=WorklistSettings)
    feeds: FeedSettings = field(default_factory=FeedSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    sms: SmsSettings = field(default_factory=SmsSettings)
    replies: RepliesSettings = field(default_factory=RepliesSettings)
    daemon: DaemonSettings = field(default_factory=DaemonSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    bookings: BookingSettings = field(default_factory=BookingSettings)
    reasons: ReasonSettings = field(default_factory=ReasonSettings)
    interop: InteropSettings = field(default_factory=InteropSettings)
    hl7: Hl7Settings = field(default_factory=Hl7Settings)
    # Raw [reminders] table, validated by surveil.core.reminders when the daemon starts.
    reminders: Mapping[str, Any] = field(default_factory=dict)


SECTIONS: dict[str, type] = {
    f.name: f.default_factory  # type: ignore[misc]
    for f in dataclasses.fields(Settings)
    if f.name != "reminders"
}


def load_settings(
    path: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    require_secret_key: bool = False,
) -> Settings:
    """Read settings from ``path`` (or $SURVEIL_CONFIG, or ./surveil.toml if present) and the
    environment. Raises ConfigError listing every problem.

    ``require_secret_key``: the caller signs session cookies (``surveil serve``), so an unset,
    placeholder or short ``web.secret_key`` is one of the problems, whatever the address."""
    environ = os.environ if environ is None else environ
    problems: list[Problem] = []
    raw = _read_file(path, environ, problems)
    values: dict[str, Any] = {}
    for section, cls in SECTIONS.items():
        table = raw.pop(section, {})
        if not isinstance(table, dict):
            problems.append(Problem(section, "must be a table ([section])"))
            table = {}
        values[section] = _build_section(section, cls, table, environ, problems)
    reminders = raw.pop("reminders", {})
    problems += _reminder_problems(reminders)
    if require_secret_key and isinstance(values.get("web"), WebSettings):
        problems += secret_key_problems(values["web"].secret_key)
    for key in sorted(raw):
        problems.append(Problem(key, f"unknown section (expected one of: {_known_sections()})"))
    if problems:
        raise ConfigError(problems)
    return Settings(**values, reminders=reminders)


def _reminder_problems(table: Any) -> list[Problem]:
    """The ``[reminders]`` table checked at load, like every other section (the daemon checks
    it again when it starts)."""
    if not isinstance(table, dict):
        return [Problem("reminders", "must be a table ([reminders])")]
    return parse_policy(table)[1]


def _known_sections() -> str:
    return ", ".join([*SECTIONS, "reminders"])


def _read_file(
    path: str | Path | None, environ: Mapping[str, str], problems: list[Problem]
) -> dict[str, Any]:
    explicit = path or environ.get("SURVEIL_CONFIG")
    candidate = Path(explicit) if explicit else Path(DEFAULT_CONFIG_FILE)
    if not candidate.exists():
        if explicit:
            problems.append(Problem("--config", f"{candidate} does not exist"))
        return {}
    try:
        return tomllib.loads(candidate.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        problems.append(Problem(str(candidate), f"is not valid TOML: {error}"))
        return {}


def _build_section(
    section: str,
    cls: type,
    table: dict[str, Any],
    environ: Mapping[str, str],
    problems: list[Problem],
) -> Any:
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    known = {f.name for f in dataclasses.fields(cls)}
    for key in sorted(table):
        base = key.removesuffix("_file")
        if key not in known and not (key.endswith("_file") and (section, base) in SECRET_KEYS):
            problems.append(
                Problem(f"{section}.{key}", f"unknown key (expected one of: {', '.join(known)})")
            )
    problems += _unknown_environment(section, known, environ)
    for name in known:
        where = f"{section}.{name}"
        env_name = f"{ENV_PREFIX}{section}_{name}".upper()
        raw: Any = table.get(name, dataclasses.MISSING)
        if (section, name) in SECRET_KEYS:
            secret_file = environ.get(env_name + "_FILE") or table.get(name + "_file")
            if secret_file:
                raw = _read_secret(Path(secret_file), where, problems)
        if env_name in environ:
            raw = environ[env_name]
            where = env_name
        if raw is dataclasses.MISSING or raw is None:
            continue
        value = _coerce(raw, hints[name], where, problems)
        if value is not dataclasses.MISSING:
            kwargs[name] = value
    _check_section(section, kwargs, problems)
    return cls(**kwargs)


def _unknown_environment(
    section: str, known: set[str], environ: Mapping[str, str]
) -> list[Problem]:
    """``SURVEIL_WEB_SECRETKEY=...`` (a typo) would otherwise be ignored without a word, and
    the default used in its place."""
    prefix = f"{ENV_PREFIX}{section}_".upper()
    accepted = {f"{prefix}{name}".upper() for name in known}
    accepted |= {f"{prefix}{key}_FILE".upper() for sec, key in SECRET_KEYS if sec == section}
    return [
        Problem(
            name, f"unknown setting in [{section}] (expected one of: {', '.join(sorted(known))})"
        )
        for name in sorted(environ)
        if name.startswith(prefix) and name not in accepted
    ]


def _read_secret(path: Path, where: str, problems: list[Problem]) -> Any:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as error:
        problems.append(Problem(where + "_file", f"cannot read {path}: {error.strerror}"))
        return dataclasses.MISSING


def _coerce(raw: Any, hint: Any, where: str, problems: list[Problem]) -> Any:
    """Turn a TOML value or an environment string into the field's type, or record why not."""
    if isinstance(hint, types.UnionType):  # Path | None
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    convert = _CONVERTERS.get(hint)
    try:
        if convert is not None:
            return convert(raw)
    except ValueError:
        pass
    problems.append(Problem(where, f"{raw!r} is not a valid {hint.__name__}"))
    return dataclasses.MISSING


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _to_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in _TRUE | _FALSE:
        return raw.lower() in _TRUE
    raise ValueError


def _to_int(raw: Any) -> int:
    if isinstance(raw, bool):  # TOML's true is not the number 1
        raise ValueError
    return int(raw)


def _to_float(raw: Any) -> float:
    if isinstance(raw, bool):
        raise ValueError
    return float(raw)


def _to_str(raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValueError
    return raw


def _to_path(raw: Any) -> Path:
    return Path(str(raw))


# Each raises ValueError for a value of the wrong kind; a field of any other type is refused.
_CONVERTERS: dict[Any, Callable[[Any], Any]] = {
    bool: _to_bool,
    int: _to_int,
    float: _to_float,
    str: _to_str,
    Path: _to_path,
}


_CHOICES = {
    ("smtp", "security"): {"none", "starttls", "ssl"},
    ("hl7", "a03"): {"update", "ignore", "queue", "discharge"},
    ("hl7", "booking_outside_window"): {"reason", "queue"},
}


def _check_section(section: str, values: dict[str, Any], problems: list[Problem]) -> None:
    for (sec, key), allowed in _CHOICES.items():
        if sec == section and key in values and values[key] not in allowed:
            problems.append(
                Problem(f"{sec}.{key}", f"{values[key]!r} is not one of {sorted(allowed)}")
            )
    problems += bound_problems(section, values)
    if section == "sms":
        problems += header_line_problems("sms.auth_header", values.get("auth_header", ""))
    problems += url_problems(section, values)
    problems += reason_list_problems(section, values)
    if section == "clinic" and "timezone" in values and not is_time_zone(values["timezone"]):
        problems.append(Problem("clinic.timezone", f"{values['timezone']!r} is not an IANA zone"))
    zone = values.get("enrol_timezone", "") if section == "hl7" else ""
    if zone and not is_time_zone(zone):
        problems.append(Problem("hl7.enrol_timezone", f"{zone!r} is not an IANA zone"))
    if section == "database" and "url" in values:
        url = values["url"]
        if not url.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://")):
            problems.append(
                Problem("database.url", f"{url!r}: use sqlite:///path or postgresql://...")
            )
    base_url = values.get("base_url", "") if section == "web" else ""
    if base_url and not base_url.startswith(("http://", "https://")):
        problems.append(Problem("web.base_url", "use http://… or https://… (or leave empty)"))
    if section == "daemon" and "digest_time" in values:
        hh, _, mm = values["digest_time"].partition(":")
        if not (is_digits(hh) and is_digits(mm) and int(hh) < 24 and int(mm) < 60):
            problems.append(Problem("daemon.digest_time", "use HH:MM, e.g. 07:30"))


def documented_keys() -> dict[str, list[str]]:
    """Every settable key per section, for the documentation test."""
    return {section: [f.name for f in dataclasses.fields(cls)] for section, cls in SECTIONS.items()}
