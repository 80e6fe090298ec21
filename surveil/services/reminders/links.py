"""The links in a reminder e-mail (issue 18 point 3): a reply page (confirm, can't make it /
please call me, stop) and the RFC 8058 one-click unsubscribe.

A link carries a signed, expiring token (``core.replies``) naming only the reminder. Opening it
(GET) changes nothing, so a mail scanner that fetches every link does nothing; the page's
buttons POST. A token acts once: its SHA-256 is the reply's ``dedupe_key``. The page needs no
login and shows no patient data: the clinic's name and phone, the generic words of the
reminder ("Follow-up scan", or the test's name only where the clinic opted in), in the
patient's language.
"""

import datetime as dt
from dataclasses import dataclass
from urllib.parse import quote

import sqlalchemy as sa
from sqlmodel import Session

from surveil.config import Settings
from surveil.config_rules import secret_key_problems
from surveil.core.feed import wording_for
from surveil.core.replies import (
    BadToken,
    LinkToken,
    Purpose,
    Reply,
    link_key,
    make_token,
    read_token,
    token_hash,
)
from surveil.core.vocab import Channel, ItemKind
from surveil.db import models as m
from surveil.db.session import read_scope, session_scope
from surveil.errors import InvalidInput, Problem
from surveil.render.i18n import DEFAULT_LANGUAGE, pick_language
from surveil.resources import resource_dir
from surveil.services.actor import Actor
from surveil.services.entry import change
from surveil.services.reminders.replies import ReplyOutcome, Target, apply_reply

LINK_ACTIONS = {
    Purpose.REPLY: (Reply.CONFIRM, Reply.CALL_ME, Reply.STOP),
    Purpose.UNSUBSCRIBE: (Reply.STOP,),
}


@dataclass(frozen=True)
class Links:
    reply_url: str
    unsubscribe_url: str
    list_unsubscribe: str  # the header's value: <https://…>[, <mailto:…>]; "" for none


def links_for(settings: Settings, reminder: m.Reminder) -> Links | None:
    """The reply and unsubscribe links of an e-mail reminder, or None where the clinic has no
    address patients can reach or no signing key. The same reminder always gets the same
    links (the expiry hangs on its due time), so a resend after a crash is identical."""
    base = (settings.replies.link_base_url or settings.web.base_url).rstrip("/")
    if not base or secret_key_problems(settings.web.secret_key) or reminder.id is None:
        return None
    key = link_key(settings.web.secret_key)
    due = reminder.send_after
    due = due if due.tzinfo is not None else due.replace(tzinfo=dt.UTC)
    expires = due + dt.timedelta(days=settings.replies.link_days)
    reply = make_token(key, reminder.id, expires, Purpose.REPLY)
    leave = make_token(key, reminder.id, expires, Purpose.UNSUBSCRIBE)
    unsubscribe_url = f"{base}/r/{leave}"
    # RFC 8058: the one-click URI must be HTTPS; over plain HTTP (a demo) only the mailto.
    parts = [f"<{unsubscribe_url}>"] if base.startswith("https://") else []
    if settings.replies.unsubscribe_mailto:
        mailto = quote(settings.replies.unsubscribe_mailto, safe="@")
        parts.append(f"<mailto:{mailto}?subject=unsubscribe>")
    header = ", ".join(parts)
    return Links(f"{base}/r/{reply}", unsubscribe_url, header)


@dataclass(frozen=True)
class LinkPage:
    """What the page may show. ``state``: ``open`` (buttons), ``used`` (acted on already),
    ``invalid`` (forged, damaged, expired, or its reminder is gone)."""

    state: str
    language: str = DEFAULT_LANGUAGE
    purpose: Purpose = Purpose.REPLY
    actions: tuple[Reply, ...] = ()
    clinic_name: str = ""
    clinic_phone: str = ""
    what: str = ""  # generic wording ("Follow-up scan"), the test's name only if opted in
    kind: str = ""
    detailed: bool = False
    done: Reply | None = None  # what the link did, once used


def _read(settings: Settings, token: str, now: dt.datetime) -> LinkToken | None:
    if secret_key_problems(settings.web.secret_key):
        return None
    try:
        return read_token(link_key(settings.web.secret_key), token, now)
    except BadToken:
        return None


def open_link(engine: sa.Engine, settings: Settings, token: str, now: dt.datetime) -> LinkPage:
    """The page of a link (GET): reads only, changes nothing."""
    invalid = LinkPage(
        "invalid",
        clinic_name=settings.clinic.patient_facing_name,
        clinic_phone=settings.clinic.phone,
    )
    read = _read(settings, token, now)
    if read is None:
        return invalid
    with read_scope(engine) as session:
        found = _reminder(session, read.reminder_id)
        if found is None:
            return invalid
        _row, patient, item = found
        requested, kind = patient.language, item.kind if item is not None else ""
        used = (
            session.connection()
            .execute(
                sa.select(m.InboundReply.kind).where(  # type: ignore[call-overload]
                    m.InboundReply.dedupe_key == _dedupe(token)
                )
            )
            .scalar()
        )
    language = pick_language(requested, resource_dir("templates", settings.paths.templates))
    return LinkPage(
        "used" if used else "open",
        language=language,
        purpose=read.purpose,
        actions=LINK_ACTIONS[read.purpose],
        what=wording_for(ItemKind(kind)).value if kind else "",
        kind=kind,
        detailed=settings.clinic.detailed_messages,
        done=Reply(used) if used else None,
        clinic_name=invalid.clinic_name,
        clinic_phone=invalid.clinic_phone,
    )


def _reminder(
    session: Session, reminder_id: int
) -> tuple[m.Reminder, m.Patient, m.FollowUpItem | None] | None:
    reminder = session.get(m.Reminder, reminder_id)
    if reminder is None or reminder.patient_id is None or reminder.channel != "email":
        return None
    patient = session.get(m.Patient, reminder.patient_id)
    if patient is None:
        return None
    item = session.get(m.FollowUpItem, reminder.item_id) if reminder.item_id else None
    return reminder, patient, item


def _dedupe(token: str) -> str:
    return f"link:{token_hash(token)}"


@change("reply.confirmed", "reply.call_me", "reply.stopped")
def act_on_link(
    engine: sa.Engine, settings: Settings, *, token: str, action: str, now: dt.datetime
) -> ReplyOutcome:
    """A button on the page, or a mail client's one-click unsubscribe (RFC 8058), once per
    token. A used token is ``duplicate`` and changes nothing."""
    read = _read(settings, token, now)
    if read is None:
        raise InvalidInput([Problem("token", "this link cannot be used (expired or not ours)")])
    try:
        kind = Reply(action)
    except ValueError:
        kind = None
    if kind is None or kind not in LINK_ACTIONS[read.purpose]:
        raise InvalidInput([Problem("action", f"{action!r} is not an action of this link")])
    with session_scope(engine) as session:
        found = _reminder(session, read.reminder_id)
        if found is None:
            raise InvalidInput([Problem("token", "this link cannot be used any more")])
        row, patient, _item = found
        target = Target(patient.id, row.id, row.item_id, patient.clinic)
        actor = Actor.system(Channel.WEB, clinic=patient.clinic)
        return apply_reply(session, _dedupe(token), "email", kind, target, now, actor=actor)
