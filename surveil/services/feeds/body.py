"""The body of a patient's calendar feed: registry rows -> feed items -> words -> iCalendar bytes.

The pure parts decide (``surveil.core.feed``), the templates word (``surveil.render.feedtext``) and
``surveil.ical`` encodes; this module only reads the rows and maps the registry's item states
onto the feed's. Because the same data gives the same bytes, a renderer may keep recent bodies
keyed by the data that produced them: a calendar app polling an unchanged feed then costs one
indexed query and no rendering, which is what makes a 304 cheap.
"""

import datetime as dt
import functools
import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import jinja2
import sqlalchemy as sa
from sqlmodel import Session

from surveil.config import Settings
from surveil.core.feed import (
    FeedCalendar,
    FeedEvent,
    FeedItem,
    FeedItemStatus,
    feed_uid,
    make_feed_event,
    select_feed_items,
)
from surveil.core.vocab import ItemKind, ItemState
from surveil.db import models as m
from surveil.db.session import poll_read
from surveil.errors import InvalidInput
from surveil.ical import build_feed
from surveil.render.feedtext import render_calendar_description, render_item_text
from surveil.render.i18n import DEFAULT_LANGUAGE, pick_language
from surveil.render.templating import make_environment
from surveil.resources import resource_dir

log = logging.getLogger(__name__)

# Registry state -> feed status. Ordered is still "to do" for the patient; declined, not needed
# and cancelled all mean "this date no longer stands".
STATE_TO_FEED: dict[str, FeedItemStatus] = {
    m.ItemState.PLANNED: FeedItemStatus.PLANNED,
    m.ItemState.ORDERED: FeedItemStatus.PLANNED,
    m.ItemState.BOOKED: FeedItemStatus.BOOKED,
    m.ItemState.DONE: FeedItemStatus.DONE,
    m.ItemState.DECLINED: FeedItemStatus.CANCELLED,
    m.ItemState.NOT_NEEDED: FeedItemStatus.CANCELLED,
    m.ItemState.CANCELLED: FeedItemStatus.CANCELLED,
    m.ItemState.SUPERSEDED: FeedItemStatus.SUPERSEDED,
}
_ITEM: sa.Table = m.FollowUpItem.__table__  # type: ignore[attr-defined]
_FEED: sa.Table = m.FeedToken.__table__  # type: ignore[attr-defined]
_PATIENT: sa.Table = m.Patient.__table__  # type: ignore[attr-defined]
_ITEM_COLUMNS = tuple(  # the columns a feed needs, not whole rows (to_feed_item's arguments)
    _ITEM.c[name]
    for name in (
        "id", "kind", "state", "earliest", "target", "latest", "booked_at", "sequence",
        "updated_at",
    )
)  # fmt: skip
# Open items always show; a closed one only while it may still be within retention. This
# leaves out items closed long ago (a patient followed for 15 years has many) in the database;
# select_feed_items then applies the exact rule. The states are written into the SQL (they are
# our own constants): a bound IN list would be re-rendered on every execution.
_OPEN_STATES = (ItemState.PLANNED, ItemState.ORDERED, ItemState.BOOKED)
_SHOWN = sa.or_(
    _ITEM.c.state.in_([sa.literal_column(f"'{state.value}'") for state in _OPEN_STATES]),
    _ITEM.c.target >= sa.bindparam("cutoff_day"),
    _ITEM.c.updated_at >= sa.bindparam("cutoff"),
    _ITEM.c.booked_at >= sa.bindparam("cutoff"),
)
# Statements are built once: a feed request is the hot path, polled by every calendar app.
_ITEMS = (
    sa.select(*_ITEM_COLUMNS)
    .where(_ITEM.c.patient_id == sa.bindparam("patient_id"), _SHOWN)
    .order_by(_ITEM.c.id)
)
_ZONE = sa.select(_PATIENT.c.timezone, _PATIENT.c.language).where(
    _PATIENT.c.id == sa.bindparam("patient_id")
)
_FEED_COLUMNS = (
    _FEED.c.id,
    _FEED.c.public_id,
    _FEED.c.patient_id,
    _FEED.c.created_at,
    _PATIENT.c.timezone,
    _PATIENT.c.language,
)
# A poll in one indexed query: the token's feed (if active), its patient's zone and the items
# shown, one row per item (or one row of NULL item columns for a feed with nothing to show).
_OPEN_FEED = (
    sa.select(*_FEED_COLUMNS, *_ITEM_COLUMNS)
    .select_from(
        _FEED.join(_PATIENT, _PATIENT.c.id == _FEED.c.patient_id).outerjoin(
            _ITEM, sa.and_(_ITEM.c.patient_id == _FEED.c.patient_id, _SHOWN)
        )
    )
    .where(_FEED.c.token_hash == sa.bindparam("digest"), _FEED.c.revoked_at.is_(None))
    .order_by(_ITEM.c.id)
)


@dataclass(frozen=True, slots=True)
class OpenFeed:
    """The feed a token opens, with what it shows today (never the token)."""

    id: int
    public_id: str
    patient_id: int
    created_at: dt.datetime
    timezone: str  # the patient's: appointment wall times are worded in it
    items: tuple[FeedItem, ...]
    language: str | None = None  # the patient's (BCP 47): the feed's words are in it


def open_feed(
    connection: sa.Connection,
    token_digest: str,
    *,
    today: dt.date,
    retention: dt.timedelta,
) -> OpenFeed | None:
    """The active feed whose token hashes to ``token_digest``, with its items, else None.

    Always the same one query whatever the token, so an unknown and a revoked token take the
    same path and both come back as None: neither the answer nor its timing tells them apart.
    """
    rows = connection.execute(_OPEN_FEED, {"digest": token_digest, **_cutoffs(today, retention)})
    return _opened(rows, today=today, retention=retention)


def poll_feed(
    engine: sa.Engine, token_digest: str, *, today: dt.date, retention: dt.timedelta
) -> OpenFeed | None:
    """``open_feed``'s one query, run as a calendar poll runs it: the statement alone, one
    round trip to PostgreSQL (``db.session.poll_read``), the connection back in the pool
    before the caller renders."""
    params = {"digest": token_digest, **_cutoffs(today, retention)}
    return _opened(poll_read(engine, _OPEN_FEED, params), today=today, retention=retention)


def _opened(
    rows: Iterable[sa.Row[Any]], *, today: dt.date, retention: dt.timedelta
) -> OpenFeed | None:
    first = None
    items: list[FeedItem] = []
    for row in rows:
        first = first or row
        if row[len(_FEED_COLUMNS)] is not None:  # an item (the outer join gives NULLs if none)
            item = to_feed_item(*row[len(_FEED_COLUMNS) :])
            if item is not None:
                items.append(item)
    if first is None:
        return None
    feed_id, public_id, patient_id, created_at, zone, language = first[: len(_FEED_COLUMNS)]
    shown = select_feed_items(items, today=today, retention=retention)
    return OpenFeed(feed_id, public_id, patient_id, _utc(created_at), zone, tuple(shown), language)


def _cutoffs(today: dt.date, retention: dt.timedelta) -> dict[str, object]:
    cutoff_day = today - retention - dt.timedelta(days=1)  # a day of slack for time zones
    return {
        "cutoff_day": cutoff_day,
        "cutoff": dt.datetime.combine(cutoff_day, dt.time(), tzinfo=dt.UTC),
    }


class FeedRef(Protocol):
    """What the renderer needs to know about a feed: a registry row or an ``OpenFeed``."""

    @property
    def public_id(self) -> str: ...
    @property
    def patient_id(self) -> int: ...
    @property
    def created_at(self) -> dt.datetime: ...


@dataclass(frozen=True)
class FeedBody:
    """A rendered feed with its HTTP validators."""

    body: bytes
    etag: str  # strong ETag, quoted: the SHA-256 of the body
    last_modified: dt.datetime  # newest change among the events shown (or the feed's creation)


def feed_items(
    session: Session, *, patient_id: int, today: dt.date, retention: dt.timedelta
) -> list[FeedItem]:
    """The patient's items that the feed shows today.

    The query already leaves out items closed long ago (a patient followed for 15 years has
    many); ``select_feed_items`` then applies the exact retention rule.
    """
    params = {"patient_id": patient_id, **_cutoffs(today, retention)}
    rows = session.connection().execute(_ITEMS, params)
    items = [fi for row in rows if (fi := to_feed_item(*row)) is not None]
    return select_feed_items(items, today=today, retention=retention)


def to_feed_item(
    item_id: int,
    kind: str,
    state: str,
    earliest: dt.date,
    target: dt.date,
    latest: dt.date,
    booked_at: dt.datetime | None,
    sequence: int,
    updated_at: dt.datetime,
) -> FeedItem | None:
    """One registry row as a feed item, or None (logged by id) if it cannot be shown."""
    status = STATE_TO_FEED[state]
    if status is FeedItemStatus.PLANNED:
        booked_at = None  # an appointment time is only shown once the item is booked
    elif status is FeedItemStatus.BOOKED and booked_at is None:
        # Booked without a time (an import or a half-done edit): the due marker still helps.
        status = FeedItemStatus.PLANNED
    closed = status not in (FeedItemStatus.PLANNED, FeedItemStatus.BOOKED)
    try:
        return FeedItem(
            id=item_id,
            kind=ItemKind(kind),
            earliest=earliest,
            target=target,
            latest=latest,
            status=status,
            sequence=sequence,
            updated_at=_utc(updated_at),
            booked_at=_utc(booked_at) if booked_at is not None else None,
            # The last change of a closed item is its closing: retention counts from then too.
            cancelled_on=_utc(updated_at).date() if closed else None,
        )
    except (InvalidInput, ValueError) as error:
        # One bad row must not take the patient's whole calendar down; the nurses see it.
        log.warning("follow-up item %s left out of a calendar feed: %s", item_id, error)
        return None


def _utc(value: dt.datetime) -> dt.datetime:
    # SQLite hands back naive values for rows written outside the ORM; they are UTC by contract.
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


@functools.lru_cache(maxsize=16)
def _environment(templates: Path | None, language: str = DEFAULT_LANGUAGE) -> jinja2.Environment:
    return make_environment(templates, language)


class FeedRenderer:
    """Renders feeds for one deployment's settings, keeping the last few hundred bodies.

    The cache key is the feed's public id plus the exact items shown, so a body is reused only
    when it would come out byte-identical anyway. Safe to share between threads.
    """

    def __init__(self, settings: Settings, *, cache_size: int = 512) -> None:
        self.settings = settings
        self.env = _environment(settings.paths.templates)
        self._templates = resource_dir("templates", settings.paths.templates)
        self.retention = dt.timedelta(days=settings.feeds.cancelled_retention_days)
        self.host = uid_host(settings.web.public_url)
        self._cache: OrderedDict[tuple[object, ...], FeedBody] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._descriptions = {
            DEFAULT_LANGUAGE: render_calendar_description(
                self.env, clinic_phone=settings.clinic.phone
            )
        }

    def render(
        self, session: Session, feed: FeedRef, *, today: dt.date, zone: str | None = None
    ) -> FeedBody:
        """The feed as of ``today``; ``zone`` is the patient's time zone, looked up if None."""
        items = feed_items(
            session, patient_id=feed.patient_id, today=today, retention=self.retention
        )
        found_zone, language = self._zone(session, feed.patient_id)
        return self.render_items(feed, items, zone or found_zone, language=language)

    def render_items(
        self,
        feed: FeedRef,
        items: Sequence[FeedItem],
        zone: str,
        *,
        language: str | None = None,
    ) -> FeedBody:
        """The feed showing ``items`` (as chosen by ``open_feed`` or ``feed_items``), worded in
        ``language`` (else the ``OpenFeed``'s own, else English)."""
        wanted = language or getattr(feed, "language", None)
        language = pick_language(wanted, self._templates)
        key = (feed.public_id, _utc(feed.created_at), zone, language, *items)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        rendered = self._render(feed, items, zone, language)
        with self._lock:
            self._cache[key] = rendered
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return rendered

    def _zone(self, session: Session, patient_id: int) -> tuple[str, str | None]:
        # Appointments are booked in the patient's zone (services.records.actions), so their
        # wall time is written in it too; the clinic's zone is the fallback.
        row = session.connection().execute(_ZONE, {"patient_id": patient_id}).first()
        zone, language = (row[0], row[1]) if row is not None else (None, None)
        return zone or self.settings.clinic.timezone, language

    def _render(
        self, feed: FeedRef, items: Sequence[FeedItem], zone: str, language: str
    ) -> FeedBody:
        body = build_feed(self.calendar(feed, language), self.events(items, zone, language))
        changed = [item.updated_at for item in items]
        return FeedBody(
            body=body,
            etag='"' + hashlib.sha256(body).hexdigest() + '"',
            last_modified=max([_utc(feed.created_at), *changed]),
        )

    def events(
        self, items: Sequence[FeedItem], zone: str, language: str = DEFAULT_LANGUAGE
    ) -> list[FeedEvent]:
        clinic = self.settings.clinic
        env = self._env(language)
        events = []
        for item in items:
            summary, description = render_item_text(
                env,
                item,
                detailed=clinic.detailed_messages,
                clinic_phone=clinic.phone,
                tz_name=zone,
                language=language,
            )
            events.append(
                make_feed_event(item, host=self.host, summary=summary, description=description)
            )
        return events

    def _env(self, language: str) -> jinja2.Environment:
        if language == DEFAULT_LANGUAGE:
            return self.env
        return _environment(self.settings.paths.templates, language)

    def calendar(self, feed: FeedRef, language: str = DEFAULT_LANGUAGE) -> FeedCalendar:
        feeds = self.settings.feeds
        alarm = feeds.alarm_days_before
        description = self._descriptions.get(language)
        if description is None:  # a race only renders the same text twice
            description = render_calendar_description(
                self._env(language), clinic_phone=self.settings.clinic.phone
            )
            self._descriptions[language] = description
        return FeedCalendar(
            public_id=feed.public_id,
            name=feeds.calendar_name,
            description=description,
            refresh=dt.timedelta(hours=feeds.refresh_hours),
            alarm_before=dt.timedelta(days=alarm) if alarm > 0 else None,
        )


def uid_host(base_url: str) -> str:
    """The host name for event UIDs (``fu-<id>@<host>``): the deployment's, without the port.
    Checked at once, so a base URL that cannot make a UID fails at start-up, not per request."""
    host = urlsplit(base_url).hostname or "localhost"
    feed_uid(0, host)
    return host


def build_patient_feed(
    session: Session, token_row: m.FeedToken, settings: Settings, today: dt.date
) -> bytes:
    """The feed body for one token's patient, as shown on ``today`` (the clinic's date)."""
    return FeedRenderer(settings, cache_size=0).render(session, token_row, today=today).body
