"""Patient calendar feeds: the capability tokens that open them, and the feed body itself.

A feed URL is a capability: whoever holds ``/feeds/<token>.ics`` reads that patient's follow-up
dates. So the token has 256 bits from ``secrets`` (RELIABILITY.md §1.3, ASVS 11.5.1), only its
SHA-256 is stored (a database dump opens no feed), it is shown exactly once when issued, and a
patient may hold several (one per device or app) so that one can be revoked alone. Rotation
issues a new token and revokes the old one in the caller's transaction.

Nothing here logs a token or puts one in an error message; feeds are named by their
``public_id``, a random id with no power of its own, used in the calendar UID and in commands.

The body (``build_patient_feed``/``FeedRenderer``) lives in ``surveil.services.feeds.body``.
"""

import datetime as dt
import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.config import Settings
from surveil.core.vocab import StateKind
from surveil.core.zones import today_in
from surveil.db import models as m
from surveil.db.base import utcnow
from surveil.errors import Conflict, InvalidInput, NotFound, Problem
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.feeds.body import (
    FeedBody,
    FeedRenderer,
    OpenFeed,
    build_patient_feed,
    feed_items,
    open_feed,
    poll_feed,
)

__all__ = [
    "FeedBody",
    "FeedRenderer",
    "FeedSummary",
    "FeedUrls",
    "IssuedFeed",
    "OpenFeed",
    "build_patient_feed",
    "feed_urls",
    "get_feed",
    "hash_token",
    "issue_feed",
    "list_feeds",
    "lookup",
    "open_feed",
    "read_feed",
    "retire_due_feeds",
    "retire_feeds",
    "revoke_feed",
    "rotate_feed",
]

log = logging.getLogger(__name__)

TOKEN_BYTES = 32  # 256 bits: secrets.token_urlsafe(32) gives 43 URL-safe characters
FEED_PATH = "/feeds/{token}.ics"
MAX_LABEL = 64
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class FeedUrls:
    """The ways to subscribe to one feed. Each carries the token: show them once, never log."""

    https: str  # Google, Outlook on the web, Thunderbird, Android apps
    webcal: str  # Apple devices and Outlook desktop (an https link on iOS imports only once)


@dataclass(frozen=True)
class FeedSummary:
    """What a person may know about a feed: everything except its token."""

    public_id: str
    patient_id: int
    label: str
    created_by: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    last_seen_at: dt.datetime | None
    fetch_count: int

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @classmethod
    def of(cls, row: m.FeedToken) -> "FeedSummary":
        return cls(
            public_id=row.public_id,
            patient_id=row.patient_id,
            label=row.label,
            created_by=row.created_by,
            created_at=row.created_at,
            revoked_at=row.revoked_at,
            last_seen_at=row.last_seen_at,
            fetch_count=row.fetch_count,
        )


@dataclass(frozen=True)
class IssuedFeed:
    """A newly issued feed. ``urls`` holds the token: the only time anyone sees it."""

    feed: FeedSummary
    urls: FeedUrls


def hash_token(token: str) -> str:
    """The stored form of a token (hex SHA-256). A plain hash suffices for 256 random bits."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def feed_urls(base_url: str, token: str) -> FeedUrls:
    """The subscription URLs for ``token`` under the deployment's ``base_url``.

    ``base_url`` should be https: several apps turn ``webcal://`` into plain ``http://``, so a
    deployment must serve feeds over https only (the page warns when it is not).
    """
    parts = urlsplit(base_url.rstrip("/"))
    path = f"{parts.path}{FEED_PATH.format(token=token)}"
    https = f"{parts.scheme}://{parts.netloc}{path}"
    webcal = f"webcal://{parts.netloc}{path}"
    return FeedUrls(https=https, webcal=webcal)


def issue_feed(
    session: Session,
    *,
    patient_id: int,
    label: str = "",
    actor: Actor | None = None,
    base_url: str,
) -> IssuedFeed:
    """Issue a new feed for a patient and return its URLs, the only copy of the token."""
    clean = _check_label(label)
    if session.get(m.Patient, patient_id) is None:
        raise NotFound(f"no patient with id {patient_id}")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    row = m.FeedToken(
        patient_id=patient_id,
        token_hash=hash_token(token),
        public_id=secrets.token_hex(8),
        label=clean,
        created_by=actor.username if actor else "system",
    )
    session.add(row)
    session.flush()
    _audit(session, actor, "feed.issued", row, f"feed {row.public_id} {clean!r}".strip())
    return IssuedFeed(feed=FeedSummary.of(row), urls=feed_urls(base_url, token))


def _check_label(label: str) -> str:
    clean = _CONTROL.sub(" ", label or "").strip()
    if len(clean) > MAX_LABEL:
        raise InvalidInput(
            Problem("label", f"at most {MAX_LABEL} characters, got {len(clean)}"), what="feed"
        )
    return clean


def list_feeds(session: Session, *, patient_id: int) -> list[FeedSummary]:
    """A patient's feeds, active ones first, newest first. Never a token."""
    rows = session.exec(
        select(m.FeedToken)
        .where(m.FeedToken.patient_id == patient_id)
        .order_by(
            col(m.FeedToken.revoked_at).is_not(None),
            col(m.FeedToken.created_at).desc(),
            col(m.FeedToken.id).desc(),
        )
    ).all()
    return [FeedSummary.of(row) for row in rows]


def get_feed(session: Session, *, public_id: str, patient_id: int | None = None) -> m.FeedToken:
    """The feed called ``public_id``; with ``patient_id``, only if it is that patient's, so a
    form on one patient's page cannot reach another patient's feed."""
    query = select(m.FeedToken).where(m.FeedToken.public_id == public_id)
    if patient_id is not None:
        query = query.where(m.FeedToken.patient_id == patient_id)
    row = session.exec(query).first()
    if row is None:
        raise NotFound(f"no calendar feed {public_id!r}")
    return row


def revoke_feed(
    session: Session,
    *,
    public_id: str,
    patient_id: int | None = None,
    actor: Actor | None = None,
    now: dt.datetime | None = None,
) -> FeedSummary:
    """Revoke a feed at once: from the next request its URL answers 404, like one never issued.
    Revoking a revoked feed changes nothing (the first revocation time stands)."""
    row = get_feed(session, public_id=public_id, patient_id=patient_id)
    if row.revoked_at is None:
        row.revoked_at = now or utcnow()
        session.add(row)
        session.flush()
        _audit(session, actor, "feed.revoked", row, f"feed {row.public_id}")
    return FeedSummary.of(row)


def rotate_feed(
    session: Session,
    *,
    public_id: str,
    patient_id: int | None = None,
    actor: Actor | None = None,
    base_url: str,
    now: dt.datetime | None = None,
) -> IssuedFeed:
    """Replace a feed's URL: issue a new token with the same label and revoke the old one, in
    the caller's transaction, so there is never a moment with both or neither."""
    old = get_feed(session, public_id=public_id, patient_id=patient_id)
    if old.revoked_at is not None:
        raise Conflict(f"calendar feed {public_id!r} is already revoked; issue a new one instead")
    issued = issue_feed(
        session, patient_id=old.patient_id, label=old.label, actor=actor, base_url=base_url
    )
    old.revoked_at = now or utcnow()
    session.add(old)
    session.flush()
    _audit(session, actor, "feed.rotated", old, f"feed {old.public_id} -> {issued.feed.public_id}")
    return issued


# Built once: the statements a feed request runs are the hot path (a calendar app polls every
# few hours, for every subscribed patient), and building a query costs more than running it.
_LOOKUP = select(m.FeedToken).where(
    m.FeedToken.token_hash == sa.bindparam("digest"), col(m.FeedToken.revoked_at).is_(None)
)
_TABLE: sa.Table = m.FeedToken.__table__  # type: ignore[attr-defined]


def lookup(session: Session, token: str) -> m.FeedToken | None:
    """The active feed a presented token opens, as a row (for managing it), else None.

    Always the same work whatever the token: hash it, then one indexed query that filters out
    revoked rows in the database. An unknown and a revoked token thus take the same path and
    both come back as None, so neither the answer nor its timing tells them apart. Comparing
    hashes through a unique index leaks nothing useful: the attacker would need SHA-256
    preimages of tokens they do not know.
    """
    return session.exec(_LOOKUP, params={"digest": hash_token(token)}).first()


def read_feed(
    engine: sa.Engine, token: str, *, today: dt.date, retention: dt.timedelta
) -> OpenFeed | None:
    """The feed ``token`` opens, with its items, in one statement (``poll_feed``: one round
    trip on PostgreSQL), the connection back in the pool before the caller renders; None for
    an unknown or revoked token alike. The calendar endpoint's one database read (a poll is
    not audited: an app polls every few hours, and the fetch is counted on the feed
    instead)."""
    return poll_feed(engine, hash_token(token), today=today, retention=retention)


def retire_feeds(
    session: Session,
    *,
    today: dt.date,
    retention: dt.timedelta,
    now: dt.datetime | None = None,
    actor: Actor | None = None,
) -> list[FeedSummary]:
    """Revoke the feeds of patients who no longer have follow-up here: those who died, or
    were discharged, more than ``retention`` ago, once their feed shows nothing. Returns what
    it revoked (audited, by "system").

    Not at once, on purpose: a calendar app that gets a 404 keeps its last copy, planned dates
    and all. So the feed goes on answering until every remaining date has been shown as
    cancelled for the retention period and has dropped out; ending the link then leaves no
    stale copy behind. Run by the daemon's leader (``surveil daemon``), as ``actor`` (default:
    surveil itself).
    """
    cutoff = today - retention - dt.timedelta(days=1)  # gone for more than ``retention``
    discharged = (
        sa.select(col(m.DiseaseState.patient_id))
        .where(
            col(m.DiseaseState.end_date).is_(None),
            col(m.DiseaseState.kind) == StateKind.DISCHARGED.value,
            col(m.DiseaseState.start_date) <= cutoff,
        )
        .scalar_subquery()
    )
    rows = session.exec(
        select(m.FeedToken, col(m.Patient.deceased_on))
        .join(m.Patient, col(m.Patient.id) == m.FeedToken.patient_id)
        .where(
            col(m.FeedToken.revoked_at).is_(None),
            sa.or_(
                col(m.Patient.deceased_on) <= cutoff,
                col(m.FeedToken.patient_id).in_(discharged),
            ),
        )
        .order_by(col(m.FeedToken.id))
    ).all()
    stamp = now or utcnow()
    retired = []
    for row, deceased_on in rows:
        if feed_items(session, patient_id=row.patient_id, today=today, retention=retention):
            continue  # a cancellation recorded late is still being shown: retire it later
        row.revoked_at = stamp
        session.add(row)
        why = "died" if deceased_on is not None and deceased_on <= cutoff else "was discharged"
        detail = f"feed {row.public_id}: the patient {why} over {retention.days} days ago"
        _audit(session, actor, "feed.retired", row, detail)
        retired.append(FeedSummary.of(row))
    session.flush()
    return retired


def retire_due_feeds(
    session: Session, settings: Settings, now: dt.datetime, *, actor: Actor | None = None
) -> int:
    """``retire_feeds`` for the deployment's settings (the daemon's job); how many it retired."""
    retired = retire_feeds(
        session,
        today=today_in(settings.clinic.timezone, now),
        retention=dt.timedelta(days=settings.feeds.cancelled_retention_days),
        now=now,
        actor=actor,
    )
    if retired:
        log.info("retired %d calendar feeds of patients no longer followed up", len(retired))
    return len(retired)


def _audit(
    session: Session, actor: Actor | None, action: str, row: m.FeedToken, detail: str
) -> None:
    audit(
        session,
        actor=actor or Actor.system(),
        action=action,
        patient_id=row.patient_id,
        subject=f"feed:{row.public_id}",
        detail=detail,
    )
