"""Reminder messages: one folder of templates per message, rendered into the four parts a
transport needs, from contexts built out of an allow-list of fields.

``templates/reminders/<name>/`` holds ``subject.txt``, ``body.txt``, ``body.html`` and
``sms.txt``. A template only ever sees what the context builders below put in, so it cannot
reach the patient record. Patient messages name no diagnosis and no test by default (the
feed's generic wording: "Follow-up scan", "Blood test"); a clinic opts into the kind's own name
with ``Clinic.detailed``. The navigator digest names patients by MRN and initials only.
"""

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jinja2

from surveil.core.feed import wording_for
from surveil.core.vocab import ItemKind
from surveil.errors import InvalidInput, Problem
from surveil.render.i18n import DEFAULT_LANGUAGE
from surveil.render.templating import format_day, render_text

PARTS = ("subject.txt", "body.txt", "body.html", "sms.txt")
# Two concatenated SMS segments of 160 GSM-7 characters; longer texts cost more and some
# handsets show them out of order.
SMS_LIMIT = 320


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str
    html: str
    sms: str
    # Extra e-mail headers (List-Unsubscribe and List-Unsubscribe-Post, RFC 8058).
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Clinic:
    """Who the messages come from. ``detailed`` is the clinic's opt-in to naming the test."""

    name: str
    phone: str
    detailed: bool = False


@dataclass(frozen=True)
class DigestLine:
    """One row of the navigator digest; ``kind`` is None for a line about no item (a trigger)."""

    section: str  # "overdue" | "failed" | "triggered"
    mrn: str
    initials: str
    since: dt.date
    kind: ItemKind | None = None
    note: str = ""
    urgent: bool = False


DIGEST_SECTIONS = {
    "overdue": "Overdue follow-ups",
    "failed": "Reminders that could not be delivered",
    "triggered": "Open triggers",
}


def render_message(
    env: jinja2.Environment, name: str, context: Mapping[str, Any]
) -> RenderedMessage:
    """Render ``templates/reminders/<name>/`` and check that the result can be sent.

    A subject of more than one line or an SMS over ``SMS_LIMIT`` is a template bug (or a very
    long clinic name) and raises ``InvalidInput`` naming the part, before anything is sent.
    """
    folder = f"reminders/{name}"
    subject = render_text(env, f"{folder}/subject.txt", context).strip()
    text = render_text(env, f"{folder}/body.txt", context)
    html = render_text(env, f"{folder}/body.html", context)
    # SMS templates may wrap lines for readability; a text message is one paragraph.
    sms = " ".join(render_text(env, f"{folder}/sms.txt", context).split())
    problems = []
    if not subject or "\n" in subject or "\r" in subject:
        problems.append(Problem(f"{folder}/subject.txt", "must render to exactly one line"))
    if not sms or len(sms) > SMS_LIMIT:
        problems.append(
            Problem(f"{folder}/sms.txt", f"renders to {len(sms)} characters; 1–{SMS_LIMIT}")
        )
    if problems:
        raise InvalidInput(problems, what="message")
    return RenderedMessage(subject=subject, text=text, html=html, sms=sms)


def message_names(env: jinja2.Environment) -> list[str]:
    """Every message folder under ``templates/reminders/`` (partials start with ``_``)."""
    names = {
        path.split("/")[1]
        for path in env.list_templates()
        if path.startswith("reminders/") and path.count("/") == 2
    }
    return sorted(names)


def patient_context(
    *,
    clinic: Clinic,
    kind: ItemKind,
    earliest: dt.date,
    target: dt.date,
    latest: dt.date,
    first_name: str | None = None,
    language: str = DEFAULT_LANGUAGE,
    reply_url: str | None = None,
    unsubscribe_url: str | None = None,
    sms_replies: bool = False,
) -> dict[str, Any]:
    """The whole of what a patient message may say: first name, clinic, what and when (the
    dates written in ``language``; render with that language's environment), and the e-mail's
    reply and unsubscribe links (signed tokens naming only the reminder); ``sms_replies``: the
    clinic takes replies by text, so the SMS says "Reply C to confirm, STOP to stop"."""
    return {
        "first_name": first_name or None,
        "clinic_name": clinic.name,
        "clinic_phone": clinic.phone,
        "detailed": clinic.detailed,
        "wording": wording_for(kind).value,
        "kind": kind.value,
        "window_from": format_day(earliest, language),
        "window_to": format_day(latest, language),
        "target": format_day(target, language),
        "reply_url": reply_url,
        "unsubscribe_url": unsubscribe_url,
        "sms_replies": sms_replies,
    }


def digest_context(
    *,
    clinic: Clinic,
    day: dt.date,
    lines: Iterable[DigestLine],
    worklist_url: str | None = None,
) -> dict[str, Any]:
    """The navigator digest: counts per section and one line per patient item, urgent first."""
    rows = sorted(lines, key=lambda ln: (not ln.urgent, ln.since, ln.mrn))
    unknown = {ln.section for ln in rows} - set(DIGEST_SECTIONS)
    if unknown:
        raise ValueError(
            f"unknown digest section(s) {sorted(unknown)}; use {list(DIGEST_SECTIONS)}"
        )
    sections = [
        {"title": title, "lines": [_digest_row(ln) for ln in rows if ln.section == key]}
        for key, title in DIGEST_SECTIONS.items()
    ]
    counts = {key: sum(ln.section == key for ln in rows) for key in DIGEST_SECTIONS}
    counts["urgent"] = sum(ln.urgent and ln.section == "overdue" for ln in rows)
    return {
        "clinic_name": clinic.name,
        "clinic_phone": clinic.phone,
        "detailed": clinic.detailed,
        "day": format_day(day),
        "counts": counts,
        "sections": [s for s in sections if s["lines"]],
        "worklist_url": worklist_url,
    }


def initials(*names: str | None) -> str:
    """'A.B.' from 'Ann', 'Brown': what the digest shows instead of a name."""
    return "".join(f"{n.strip()[0].upper()}." for n in names if n and n.strip())


def _digest_row(line: DigestLine) -> dict[str, Any]:
    return {
        "mrn": line.mrn,
        "initials": line.initials,
        "kind": line.kind.value if line.kind else None,
        "wording": wording_for(line.kind).value if line.kind else None,
        "note": line.note,
        "since": format_day(line.since),
        "urgent": line.urgent,
    }
