"""Login throttling through two instances of the app (two web workers) on one database, SQLite
and PostgreSQL: the counts are shared, and one address posting wrong passwords does not lock
the user out from another address (issue 21, point 5)."""

import time
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from surveil.config import Settings
from surveil.db import models as m
from surveil.services.feeds.tokens import FeedRenderer
from surveil.services.throttle import SharedCounts
from surveil.web import feeds as feed_web
from surveil.web.app import create_app
from tests.web.conftest import BASE, csrf_of
from tests.web.seed import PASSWORD
from tests.web.test_feed_endpoint import app_settings, client_for, issue
from tests.web.test_one_way_in_accounts_shells import web
from tests.web.test_web_sessions import settings_for

__all__ = ["web"]

Web = tuple[TestClient, sa.Engine, dict[str, int]]


@contextmanager
def worker(engine: sa.Engine, db_url: str, address: str) -> Iterator[TestClient]:
    app = create_app(settings_for(db_url), engine=engine)
    with TestClient(app, base_url=BASE, client=(address, 50000)) as client:
        yield client


def try_login(client: TestClient, password: str) -> int:
    data = {"username": "nina", "password": password, "csrf_token": csrf_of(client)}
    return client.post("/login", data=data, follow_redirects=False).status_code


def test_workers_share_counts_and_one_address_locks_only_itself(web: Web, db_url: str) -> None:
    _, engine, _ = web
    attacker = "198.51.100.66"
    with worker(engine, db_url, attacker) as first, worker(engine, db_url, attacker) as second:
        assert [try_login(first, "wrong") for _ in range(3)] == [401, 401, 401]  # limit: 3
        # The other worker knows: the address is held, even with the right password...
        assert try_login(second, PASSWORD) == 429
        assert {try_login(second, "wrong") for _ in range(21)} == {429}  # 24 posts in all
    # ...and nina, from her own address, signs in through either worker.
    with worker(engine, db_url, "10.0.0.7") as nurse:
        assert try_login(nurse, PASSWORD) == 303


def shared_runtime(client: TestClient, engine: sa.Engine) -> None:
    """The client's app with its feed limits shared at every request (instead of every few
    seconds), so the test need not wait for a sync."""
    state = client.app.state  # type: ignore[attr-defined]
    limits = feed_web.FeedLimits.from_settings(state.settings)
    mid_minute = time.time() // 60 * 60 + 30  # a fixed clock: no window ends during the test
    for name in ("feed", "feed-miss"):
        counts = SharedCounts(engine, name, sync_seconds=0, clock=lambda: mid_minute)
        setattr(limits, "shared_feeds" if name == "feed" else "shared_misses", counts)
    state.feed_runtime = feed_web.FeedRuntime(
        settings=state.settings, engine=engine, renderer=FeedRenderer(state.settings),
        limits=limits,
    )  # fmt: skip


def test_feed_limits_are_shared_between_workers(settings: Settings, engine: sa.Engine) -> None:
    token, _ = issue(engine)
    first = client_for(app_settings(settings, per_minute=4), engine)
    second = client_for(app_settings(settings, per_minute=4), engine)
    for client in (first, second):
        shared_runtime(client, engine)
    polls = [c.get(f"/feeds/{token}.ics").status_code for c in (first, second) * 3]
    assert polls == [200, 200, 200, 200, 429, 429]  # one limit of 4 between the two
    # A guesser's misses on one worker close the other worker to the same address too.
    guess = f"/feeds/{'C' * 43}.ics"
    one = TestClient(first.app, base_url=BASE, client=("198.51.100.7", 1))
    two = TestClient(second.app, base_url=BASE, client=("198.51.100.7", 1))
    assert [c.get(guess).status_code for c in (one, two, one, two)] == [404] * 4
    assert two.get(f"/feeds/{token}.ics").status_code == 429
    with Session(engine) as session:
        keys = set(session.exec(select(m.RateLimit.key)))
    assert any(key.startswith("feed-miss:") for key in keys) and token not in str(keys)
