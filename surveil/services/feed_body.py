"""The body of a patient's calendar feed: registry rows -> feed items -> words -> iCalendar bytes.

The pure parts decide (``surveil.core.feed``), the templates word (``surveil.feedtext``) and
``surveil.ical`` encodes; this module only reads the rows and maps the registry's item states
onto the feed's. Because the same data gives the same bytes, a renderer may keep recent bodies
keyed by the data that produced them: a calendar app polling an unchanged feed then costs two
indexed queries and no rendering, which is what makes a 304 cheap.
"""

import datetime as dt
import functools
import hashlib
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import jinja2
import sqlalchemy as sa
from sqlmodel import Session, col

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
from surveil.core.vocab import ItemKind
from surveil.db import models as m
from surveil.errors import InvalidInput
from surveil.feedtext import render_calendar_description, render_item_text
from surveil.ical import build_feed
from surveil.render import make_environment

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
_OPEN = (m.ItemState.PLANNED, m.ItemState.ORDERED, m.ItemState.BOOKED)
_COLUMNS: tuple[Any, ...] = (  # the columns a feed needs, not whole rows
    m.FollowUpItem.id,
    m.FollowUpItem.kind,
    m.FollowUpItem.state,
    m.FollowUpItem.earliest,
    m.FollowUpItem.target,
    m.FollowUpItem.latest,
    m.FollowUpItem.booked_at,
    m.FollowUpItem.sequence,
    m.FollowUpItem.updated_at,
)
_ITEM = m.FollowUpItem
# Built once (the hot path of every feed request). It already leaves out items closed long ago
# (a patient followed for 15 years has many); select_feed_items applies the exact rule.
_ITEMS = (
    sa.select(*_COLUMNS)
    .where(col(_ITEM.patient_id) == sa.bindparam("patient_id"))
    .where(
        sa.or_(
            col(_ITEM.state).in_(_OPEN),
            col(_ITEM.target) >= sa.bindparam("cutoff_day"),
            col(_ITEM.updated_at) >= sa.bindparam("cutoff"),
            col(_ITEM.booked_at) >= sa.bindparam("cutoff"),
        )
    )
    .order_by(col(_ITEM.id))
)
_ZONE = sa.select(col(m.Patient.timezone)).where(col(m.Patient.id) == sa.bindparam("patient_id"))


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
    cutoff_day = today - retention - dt.timedelta(days=1)  # a day of slack for time zones
    params = {
        "patient_id": patient_id,
        "cutoff_day": cutoff_day,
        "cutoff": dt.datetime.combine(cutoff_day, dt.time(), tzinfo=dt.UTC),
    }
    # Core rows on the session's connection: no ORM step for a hot, read-only query.
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


@functools.lru_cache(maxsize=4)
def _environment(templates: Path | None) -> jinja2.Environment:
    return make_environment(templates)


class FeedRenderer:
    """Renders feeds for one deployment's settings, keeping the last few hundred bodies.

    The cache key is the feed's public id plus the exact items shown, so a body is reused only
    when it would come out byte-identical anyway. Safe to share between threads.
    """

    def __init__(self, settings: Settings, *, cache_size: int = 512) -> None:
        self.settings = settings
        self.env = _environment(settings.paths.templates)
        self.retention = dt.timedelta(days=settings.feeds.cancelled_retention_days)
        self.host = uid_host(settings.web.base_url)
        self._cache: OrderedDict[tuple[object, ...], FeedBody] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._description = render_calendar_description(
            self.env, clinic_phone=settings.clinic.phone
        )

    def render(
        self, session: Session, feed: FeedRef, *, today: dt.date, zone: str | None = None
    ) -> FeedBody:
        """The feed as of ``today``; ``zone`` is the patient's time zone, looked up if None."""
        items = feed_items(
            session, patient_id=feed.patient_id, today=today, retention=self.retention
        )
        zone = zone or self._zone(session, feed.patient_id)
        key = (feed.public_id, _utc(feed.created_at), zone, *items)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        rendered = self._render(feed, items, zone)
        with self._lock:
            self._cache[key] = rendered
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return rendered

    def _zone(self, session: Session, patient_id: int) -> str:
        # Appointments are booked in the patient's zone (services.actions), so their wall time
        # is written in it too; the clinic's zone is the fallback.
        zone: str | None = (
            session.connection().execute(_ZONE, {"patient_id": patient_id}).scalar_one_or_none()
        )
        return zone or self.settings.clinic.timezone

    def _render(self, feed: FeedRef, items: list[FeedItem], zone: str) -> FeedBody:
        body = build_feed(self.calendar(feed), self.events(items, zone))
        changed = [item.updated_at for item in items]
        return FeedBody(
            body=body,
            etag='"' + hashlib.sha256(body).hexdigest() + '"',
            last_modified=max([_utc(feed.created_at), *changed]),
        )

    def feed_events(
        self, session: Session, feed: FeedRef, *, today: dt.date
    ) -> tuple[FeedCalendar, list[FeedEvent]]:
        """Exactly what ``build_feed`` receives for this feed today (benchmarks compare it)."""
        items = feed_items(
            session, patient_id=feed.patient_id, today=today, retention=self.retention
        )
        return self.calendar(feed), self.events(items, self._zone(session, feed.patient_id))

    def events(self, items: list[FeedItem], zone: str) -> list[FeedEvent]:
        clinic = self.settings.clinic
        events = []
        for item in items:
            summary, description = render_item_text(
                self.env,
                item,
                detailed=clinic.detailed_messages,
                clinic_phone=clinic.phone,
                tz_name=zone,
            )
            events.append(
                make_feed_event(item, host=self.host, summary=summary, description=description)
            )
        return events

    def calendar(self, feed: FeedRef) -> FeedCalendar:
        feeds = self.settings.feeds
        alarm = feeds.alarm_days_before
        return FeedCalendar(
            public_id=feed.public_id,
            name=feeds.calendar_name,
            description=self._description,
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
