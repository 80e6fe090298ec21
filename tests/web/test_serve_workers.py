"""``surveil serve --workers 2``: two real uvicorn worker processes on one database (SQLite and
PostgreSQL) share the login throttle and the feed rate limit (issue 19, point 5). Requests go
over fresh connections, so the kernel hands them to either worker; the access log (each line
starts with the worker's process id) shows that both answered."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from surveil.db.session import session_scope
from tests.web.seed import PASSWORD, SECRET_KEY, make_user
from tests.web.test_feed_endpoint import issue

LOGIN_ATTEMPTS = 3
FEED_LIMIT = 4
ACCESS = re.compile(r'^\[(\d+)\] INFO: +[\d.]+:\d+ - "(GET|POST) (\S+) HTTP/1.1" (\d+)', re.M)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def serving(db_url: str, folder: Path, workers: int) -> Iterator[tuple[str, Path]]:
    config = folder / "surveil.toml"
    config.write_text(
        f'[database]\nurl = "{db_url}"\n\n[web]\nsecret_key = "{SECRET_KEY}"\n'
        f"login_attempts = {LOGIN_ATTEMPTS}\nfeed_requests_per_minute = {FEED_LIMIT}\n"
        "[security]\ntotp_required = false\n"
    )
    port, log = _free_port(), folder / "serve.log"
    command = [sys.executable, "-m", "surveil", "--config", str(config), "serve",
               "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]  # fmt: skip
    # The configuration file alone: `make test` exports SURVEIL_DATABASE_URL (the demo's),
    # which would otherwise outrank the file and serve another database.
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURVEIL_")}
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True, env=env)  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while log.read_text().count("Application startup complete") < workers:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}", log
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def answered(log: Path, method: str, path_start: str) -> list[tuple[int, int]]:
    """(worker pid, status) of each logged request, in order."""
    text = log.read_text()
    return [
        (int(pid), int(status))
        for pid, verb, path, status in ACCESS.findall(text)
        if verb == method and path.startswith(path_start)
    ]


def fresh_connections() -> httpx.Client:
    """A client that opens a new connection per request (cookies kept): each request may land
    on either worker."""
    return httpx.Client(limits=httpx.Limits(max_keepalive_connections=0), timeout=30)


def until_both_workers(
    send: Callable[[], int], log: Path, method: str, path: str, *, after: int = 0
) -> None:
    """Send until both workers have answered one of the requests logged after the first
    ``after``."""
    for _ in range(80):
        send()
        time.sleep(0.05)  # the access line is written after the answer
        if len({pid for pid, _ in answered(log, method, path)[after:]}) >= 2:
            return
    pytest.fail("the kernel never handed a request to the second worker")


def test_two_worker_processes_share_the_login_throttle_and_the_feed_limit(
    engine: sa.Engine, db_url: str, tmp_path: Path
) -> None:
    with session_scope(engine) as session:
        make_user(session, "nina")
    token, _ = issue(engine)
    with serving(db_url, tmp_path, workers=2) as (base, log), fresh_connections() as client:
        page = client.get(f"{base}/login").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert csrf is not None

        def login(password: str) -> int:
            data = {"username": "nina", "password": password, "csrf_token": csrf.group(1)}
            return client.post(f"{base}/login", data=data).status_code

        assert [login("wrong") for _ in range(LOGIN_ATTEMPTS)] == [401] * LOGIN_ATTEMPTS
        # Held by whichever worker answers, even with the right password.
        until_both_workers(lambda: login(PASSWORD), log, "POST", "/login", after=LOGIN_ATTEMPTS)
        posts = answered(log, "POST", "/login")
        refused = posts[LOGIN_ATTEMPTS:]
        assert {status for _, status in refused} == {429}, posts
        assert len({pid for pid, _ in refused}) == 2, posts

        # The feed: no more than FEED_LIMIT answers a minute from both workers together. The
        # shared counts are kept per minute: start early in one.
        if time.time() % 60 > 40:
            time.sleep(61 - time.time() % 60)
        path = f"/feeds/{token}.ics"
        until_both_workers(lambda: client.get(base + path).status_code, log, "GET", "/feeds/")
        for _ in range(2 * FEED_LIMIT):
            client.get(base + path)
        time.sleep(0.2)
        polls = answered(log, "GET", "/feeds/")
    served = [pid for pid, status in polls if status == 200]
    # Two workers counting alone would let through 2 x FEED_LIMIT; together at most one more
    # than the limit (a worker's first poll of a feed is decided on its own counts).
    assert FEED_LIMIT <= len(served) <= FEED_LIMIT + 1, polls
    assert {status for _, status in polls} == {200, 429}, polls
    assert len({pid for pid, status in polls if status == 429}) == 2 or len(set(served)) == 2
