"""``GET /feeds/<token>.ics``: a patient's calendar feed, for calendar apps.

The URL is the only credential (a capability URL, RELIABILITY.md §1.3), so this endpoint:

- answers an unknown and a revoked token with the same 404, from the same code path and the
  same query (``services.feeds.open_feed``), so neither the bytes nor the timing tell them
  apart;
- never logs the token or echoes it in a body or header (the access log is filtered by
  ``surveil.logs``), sets no cookie, and sends ``Referrer-Policy: no-referrer``;
- sends a strong ETag (the SHA-256 of the body, which is deterministic) and answers a matching
  ``If-None-Match`` with 304. ``If-Modified-Since`` is deliberately ignored: a date cannot see
  an event that dropped out of the feed, and a wrong 304 froze Apple Calendar (ICAL.md C3);
- is rate limited per token for feeds that exist and per client address for tokens that do
  not, with the counts shared by every web worker (see ``FeedLimits``);
- is never compressed and sends no CORS headers (ICAL.md C5, C6);
- only reads: one query on a read-only connection, then rendering after the connection is back
  in the pool; fetch counts are kept in memory and written in batches (``feed_fetches``).
"""

import datetime as dt
import email.utils
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from surveil.config import Settings
from surveil.core.zones import today_in
from surveil.services.feeds.fetches import FetchTally
from surveil.services.feeds.tokens import FeedBody, FeedRenderer, read_feed
from surveil.services.throttle import SharedCounts
from surveil.web import feed_controls

log = logging.getLogger(__name__)
router = APIRouter()
router.include_router(feed_controls.router)  # the patient page's issue/rotate/revoke forms

CALENDAR_TYPE = "text/calendar; charset=utf-8"
# Headers every answer carries, whatever its status: no referrer (the URL is the secret), no
# indexing, no type sniffing.
_COMMON = {
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
}
_NOT_FOUND = b"Not found.\n"
_TOO_MANY = b"Too many requests. Calendar apps need a feed only every few hours.\n"


class SlidingWindow:
    """At most ``limit`` events per key in any ``window`` seconds (in memory, thread-safe).

    Each process keeps its own counts here; ``FeedLimits`` adds what the other workers counted
    (``services.throttle.SharedCounts``), so N workers together allow about one limit.
    """

    def __init__(self, limit: int, window: float = 60.0, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._events: dict[object, deque[float]] = {}
        self._lock = threading.Lock()

    def count(self, key: object, now: float) -> int:
        """Events of ``key`` in the window ending at ``now``."""
        with self._lock:
            events = self._events.get(key)
            if events is None:
                return 0
            self._expire(events, now)
            return len(events)

    def full(self, key: object, now: float) -> bool:
        """True if ``key`` has used its allowance (nothing is recorded)."""
        if self.limit <= 0:
            return False
        with self._lock:
            events = self._events.get(key)
            if events is None:
                return False
            self._expire(events, now)
            return len(events) >= self.limit

    def hit(self, key: object, now: float) -> bool:
        """Record one event for ``key``; False (and nothing recorded) if over the limit."""
        if self.limit <= 0:
            return True
        with self._lock:
            events = self._events.setdefault(key, deque())
            self._expire(events, now)
            if len(events) >= self.limit:
                return False
            events.append(now)
            if len(self._events) > self.max_keys:
                self._prune(now)
            return True

    def retry_after(self, key: object, now: float) -> int:
        """Whole seconds until ``key`` may try again."""
        with self._lock:
            events = self._events.get(key)
            if not events:
                return 1
            return max(1, int(events[0] + self.window - now + 0.999))

    def _expire(self, events: deque[float], now: float) -> None:
        while events and events[0] <= now - self.window:
            events.popleft()

    def _prune(self, now: float) -> None:
        for key in list(self._events):
            self._expire(self._events[key], now)
            if not self._events[key]:
                del self._events[key]


@dataclass
class FeedLimits:
    """The two limits, both ``settings.web.feed_requests_per_minute`` (0 turns them off).

    - ``per_feed``: requests to one existing feed. A calendar app polls every few hours, so
      hitting this means a leaked URL or a broken client.
    - ``misses``: unknown or revoked tokens from one client address. Once an address is over
      it, *every* request from it gets 429 until the window slides, valid token or not, so a
      guesser cannot keep learning which tokens exist. Misses are counted per address, not all
      requests: Google and Microsoft fetch every subscriber's feed from shared address pools,
      and a per-address limit on all requests would throttle all of them at once (ICAL.md P10).

    Each counts this process's events exactly (a sliding window) and adds what the other web
    workers counted, read from the ``rate_limit`` table every few seconds (``shared_*``, made
    by ``FeedRuntime`` when not given).
    """

    per_feed: SlidingWindow
    misses: SlidingWindow
    shared_feeds: SharedCounts | None = None
    shared_misses: SharedCounts | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> "FeedLimits":
        limit = settings.web.feed_requests_per_minute
        return cls(per_feed=SlidingWindow(limit), misses=SlidingWindow(limit))

    def share(self, engine: sa.Engine) -> None:
        # Synced by the endpoint in a worker thread (``sync_before``), never on the event loop.
        if self.shared_feeds is None:
            self.shared_feeds = SharedCounts(engine, "feed", auto_sync=False)
        if self.shared_misses is None:
            self.shared_misses = SharedCounts(engine, "feed-miss", auto_sync=False)

    def shared_for(self, kind: str, key: object, tick: float) -> SharedCounts | None:
        """The shared counts of ``kind`` ("feed" or "miss") if ``key`` must be decided on
        everyone's latest counts: this process has already counted it in the last minute. A
        calendar app polls a feed every few hours, so its polls never get here; a second
        request for one feed (or a second miss from one address) within the minute is already
        unusual. For those the endpoint reads everyone's count before deciding and writes its
        own right after answering, so N workers together let through at most the limit plus
        N - 1 (each worker's first request for a key is decided on the counts it had), not N
        limits. Every few seconds all counts are written and read back in a worker thread."""
        local, shared = (
            (self.per_feed, self.shared_feeds) if kind == "feed" else
            (self.misses, self.shared_misses)
        )  # fmt: skip
        if shared is None or local.limit <= 0 or local.count(key, tick) == 0:
            return None
        return shared

    def address_blocked(self, client: str, tick: float) -> int | None:
        """Seconds to wait if ``client`` has missed too often, else None."""
        return _over(self.misses, self.shared_misses, client, tick)

    def record_miss(self, client: str, tick: float) -> None:
        self.misses.hit(client, tick)
        if self.shared_misses is not None and self.misses.limit > 0:
            self.shared_misses.record(client)

    def take_feed(self, feed_id: int, tick: float) -> int | None:
        """Count one request to ``feed_id``; seconds to wait if it is over its limit."""
        wait = _over(self.per_feed, self.shared_feeds, feed_id, tick)
        if wait is None and self.per_feed.hit(feed_id, tick):
            if self.shared_feeds is not None and self.per_feed.limit > 0:
                self.shared_feeds.record(feed_id)
            return None
        return wait or self.per_feed.retry_after(feed_id, tick)


def _over(
    local: SlidingWindow, shared: SharedCounts | None, key: object, tick: float
) -> int | None:
    if local.limit <= 0:
        return None
    if local.full(key, tick):
        return local.retry_after(key, tick)
    if shared is not None and local.count(key, tick) + shared.others(key) >= local.limit:
        return shared.seconds_left()
    return None


@dataclass
class FeedRuntime:
    """What the endpoint keeps between requests in one process."""

    settings: Settings
    engine: sa.Engine
    renderer: FeedRenderer
    limits: FeedLimits
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))
    monotonic: Callable[[], float] = field(default=time.monotonic)
    # Started and closed by the app's lifespan (surveil.web.app); without one (a bare app in a
    # test) nothing writes the counts until someone calls flush().
    fetches: FetchTally | None = None

    def __post_init__(self) -> None:
        if self.fetches is None:
            self.fetches = FetchTally(self.engine)
        self.limits.share(self.engine)


_RUNTIME_LOCK = threading.Lock()


def runtime(request: Request) -> FeedRuntime:
    """The app's feed runtime, made on first use from ``app.state.settings`` and ``.engine``."""
    state = request.app.state
    found: FeedRuntime | None = getattr(state, "feed_runtime", None)
    if found is not None:
        return found
    with _RUNTIME_LOCK:
        found = getattr(state, "feed_runtime", None)
        if found is None:
            settings: Settings = state.settings
            found = FeedRuntime(
                settings=settings,
                engine=state.engine,
                renderer=FeedRenderer(settings),
                limits=FeedLimits.from_settings(settings),
                fetches=getattr(state, "feed_fetches", None),
            )
            state.feed_runtime = found
        return found


async def feed(request: Request) -> Response:
    """A patient's calendar (text/calendar), 304 if unchanged, 404 for any token that does
    not open a feed, 429 when rate limited.

    Answered on the event loop: a poll is one short read and, most often, a body from the
    render cache, and handing it to a worker thread and back cost more than the work (about
    0.4 ms of a 1 ms answer on two cores). What writes (the shared rate-limit counts) still
    runs in a worker thread, and fetch counts are written by their own thread."""
    try:
        return await _answer(request.path_params["token"], request, runtime(request))
    except Exception:
        # Handled here, not by the app's error pages: those log and show the request path,
        # which holds the token. The traceback names neither the path nor the token.
        log.exception("calendar feed request failed")
        return _plain(500, b"The calendar is not available right now.\n", {})


# A plain Starlette route, which ``create_app`` puts first: every calendar app polls this for
# every subscribed patient, and a FastAPI route would first match the app's other routes and
# solve the app-wide dependencies (CSRF, which a GET that changes nothing does not need) on
# each poll, about a millisecond. The middleware (security headers) still wraps it.
FEED_ROUTE = Route("/feeds/{token}.ics", feed, methods=["GET", "HEAD"], include_in_schema=False)


async def _answer(token: str, request: Request, rt: FeedRuntime) -> Response:
    client = request.client.host if request.client else "unknown"
    tick = rt.monotonic()
    for shared in (rt.limits.shared_feeds, rt.limits.shared_misses):
        if shared is not None and shared.sync_due():  # a write: never on the event loop
            await run_in_threadpool(shared.sync)
    if (repeated := rt.limits.shared_for("miss", client, tick)) is not None:
        repeated.refresh(client)
    if (wait := rt.limits.address_blocked(client, tick)) is not None:
        return _too_many(wait)
    now = rt.clock()
    # Read-only: a poll never takes the write lock (its count is written in batches), and the
    # connection goes back to the pool before the rendering starts.
    opened = read_feed(
        rt.engine,
        token,
        today=today_in(rt.settings.clinic.timezone, now),
        retention=rt.renderer.retention,
    )
    if opened is None:
        repeated = rt.limits.shared_for("miss", client, tick)
        rt.limits.record_miss(client, tick)
        return _written_after(_not_found(), repeated, client)
    if (repeated := rt.limits.shared_for("feed", opened.id, tick)) is not None:
        repeated.refresh(opened.id)
    if (wait := rt.limits.take_feed(opened.id, tick)) is not None:
        return _too_many(wait)
    rendered = rt.renderer.render_items(opened, opened.items, opened.timezone)
    assert rt.fetches is not None  # made in __post_init__
    rt.fetches.record(opened.id, now)
    if etag_matches(request.headers.get("if-none-match"), rendered.etag):
        response = Response(status_code=304, headers=_validators(rendered))
    else:
        response = Response(
            content=rendered.body,
            status_code=200,
            media_type=None,
            headers={"Content-Type": CALENDAR_TYPE, **_validators(rendered)},
        )
    return _written_after(response, repeated, opened.id)


def _written_after(response: Response, shared: SharedCounts | None, key: object) -> Response:
    """A repeated request's count is written once the answer is sent (in a worker thread)."""
    if shared is not None:
        response.background = BackgroundTask(shared.sync, key)
    return response


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 §13.1.2: ``*`` or any listed tag equal under weak comparison."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in if_none_match.split(","))


def _validators(rendered: FeedBody) -> dict[str, str]:
    return {
        "ETag": rendered.etag,
        "Last-Modified": email.utils.format_datetime(rendered.last_modified, usegmt=True),
        # private: never in a shared cache; no-cache: revalidate every time (cheap with 304).
        "Cache-Control": "private, no-cache",
        # A neutral name for a browser download, instead of one made from the token.
        "Content-Disposition": 'inline; filename="follow-up.ics"',
        **_COMMON,
    }


def _not_found() -> Response:
    return _plain(404, _NOT_FOUND, {})


def _too_many(retry_after: int) -> Response:
    return _plain(429, _TOO_MANY, {"Retry-After": str(retry_after)})


def _plain(status: int, body: bytes, extra: dict[str, str]) -> Response:
    return Response(
        content=body,
        status_code=status,
        media_type="text/plain; charset=utf-8",
        headers={"Cache-Control": "no-store", **extra, **_COMMON},
    )
