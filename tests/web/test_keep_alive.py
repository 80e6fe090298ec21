"""A real ``surveil serve`` keeps a connection usable after answering without reading the body.

Suspected cause of a rare "Server disconnected without sending a response" in the real-server
log test (tests/web/test_logs_phi.py): an answer given before or without reading the request's
body (a 405, a redirect to the login page, a GET that carries a form) would leave the server
unable to reuse the connection, so it would close it silently and the client's next request on
it would find it gone. Checked here on raw sockets, one request written after the other as a
keep-alive client does: the next request on the same connection must be answered, and the first
answer must not announce a close. uvicorn's httptools protocol (what ``surveil serve`` runs)
parses a body nobody read and drops it, so none of these cases closes the connection; the test
keeps it that way through a server, protocol or app change.
"""

import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.web.live_server import surveil_serve
from tests.web.seed import SECRET_KEY

FORM = b"csrf_token=%s&note=" + b"z" * 200


@dataclass(frozen=True)
class Server:
    port: int
    log: Path


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[Server]:
    log = tmp_path / "serve.log"
    settings = {"SURVEIL_DATABASE_URL": db_url, "SURVEIL_WEB_SECRET_KEY": SECRET_KEY}
    with surveil_serve(settings, log) as live:
        yield Server(live.port, log)


def request(method: str, path: str, *, body: bytes = b"", cookie: bytes = b"") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode()
    if cookie:
        head += b"Cookie: " + cookie + b"\r\n"
    if body:
        head += b"Content-Type: application/x-www-form-urlencoded\r\n"
        head += b"Content-Length: %d\r\n" % len(body)
    return head + b"\r\n" + body


def answer(connection: socket.socket) -> tuple[bytes, bytes]:
    """One whole answer (head, body); AssertionError if the server closes the connection first."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += _receive(connection, data)
    head, body = data.split(b"\r\n\r\n", 1)
    length = re.search(rb"(?im)^content-length: *(\d+)", head)
    assert length, head  # every answer here has a length; a chunked one would need more
    while len(body) < int(length.group(1)):
        body += _receive(connection, head)
    return head, body


def _receive(connection: socket.socket, so_far: bytes) -> bytes:
    chunk = connection.recv(65536)
    assert chunk, f"the server closed the connection without answering (after {so_far[:80]!r})"
    return chunk


def anonymous_session(port: int) -> tuple[bytes, bytes]:
    """The cookie and CSRF token of a session that is not logged in (the login page's)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request("GET", "/login"))
        head, body = answer(connection)
    cookie = re.search(rb"(?im)^set-cookie: *([^;\r\n]+)", head)
    token = re.search(rb'name="csrf_token" value="([^"]+)"', body)
    assert cookie and token, head
    return cookie.group(1), token.group(1)


def test_an_answer_that_leaves_the_body_unread_keeps_the_connection(server: Server) -> None:
    cookie, token = anonymous_session(server.port)
    form = FORM % token
    cases = {
        # A POST to a page that only answers GET: the 405 is written before anyone reads the form.
        "405 to a form": (request("POST", "/worklist", body=form), b"405", 0.0),
        # The same with the body a moment behind the headers: the answer leaves first.
        "405 before the body arrives": (request("POST", "/worklist", body=form), b"405", 0.3),
        # A GET carrying a form (test_logs_phi sends some) from a browser not logged in.
        "GET with a body, to login": (request("GET", "/patients/1", body=form), b"303", 0.0),
        # A form posted after the session expired: sent back to the login page.
        "POST to login": (
            request("POST", "/items/1/done", body=form, cookie=cookie),
            b"303",
            0.0,
        ),
    }
    for name, (raw, status, delay) in cases.items():
        split = raw.index(b"\r\n\r\n") + 4 if delay else len(raw)
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
            try:
                connection.sendall(raw[:split])
                time.sleep(delay)
                connection.sendall(raw[split:])
                head, _ = answer(connection)
                assert head.split(b" ")[1] == status, (name, head)
                # A server that means to close says so; httpx would then not reuse it.
                assert not re.search(rb"(?im)^connection: *close", head), (name, head)
                connection.sendall(request("GET", "/login"))
                again, _ = answer(connection)
            except OSError as error:  # a reset or broken pipe: the server dropped the connection
                raise AssertionError(f"{name}: {error!r}") from error
            assert again.startswith(b"HTTP/1.1 200"), (name, again)
    log = server.log.read_text()
    assert log.count('"GET /login HTTP/1.1" 200') >= 1 + len(cases), log
