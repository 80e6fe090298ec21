"""Login throttling through two instances of the app (two web workers) on one database, SQLite
and PostgreSQL: the counts are shared, and one address posting wrong passwords does not lock
the user out from another address (issue 21, point 5)."""

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from fastapi.testclient import TestClient

from surveil.web.app import create_app
from tests.web.conftest import BASE, csrf_of
from tests.web.seed import PASSWORD
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
