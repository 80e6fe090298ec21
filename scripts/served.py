"""Real servers for the benchmarks: ``surveil serve``, a bare ASGI app under the same uvicorn, and
Radicale, each a subprocess listening on a loopback port (not a benchmark itself: no ``run``).

Every server is started with ``start(...)`` and stopped by the context manager that returns it,
so a failed benchmark never leaves a server behind. Their output goes to a log file under the
scratch folder given, read back only when a server fails to start.
"""

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

PYTHON = sys.executable
HOST = "127.0.0.1"


@dataclass(frozen=True)
class Server:
    base: str  # http://127.0.0.1:<port>
    pid: int

    def cpu_seconds(self) -> float:
        """CPU time used so far by the server process and its workers (Linux ``/proc``)."""
        pids = [self.pid, *_children(self.pid)]
        total = 0.0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except FileNotFoundError:
                continue
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total


def _children(pid: int) -> list[int]:
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return []
    return [int(child) for child in found]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def start(
    command: list[str],
    *,
    scratch: Path,
    name: str,
    ready_path: str,
    port: int,
    env: Mapping[str, str] | None = None,
    timeout: float = 120.0,
) -> Iterator[Server]:
    """Run ``command`` until the block ends; yields it once ``ready_path`` answers."""
    log = (scratch / f"{name}.log").open("wb")
    # The server's own configuration file says everything: a SURVEIL_* variable inherited from
    # the caller would override it (``make bench`` exports SURVEIL_DATABASE_URL for the demo
    # database, and the served benchmarks then read an empty one).
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("SURVEIL_")}
    process = subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**inherited, **(env or {})},
        start_new_session=True,  # its workers are stopped with it (one process group)
    )
    base = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited: {(scratch / f'{name}.log').read_text()[-2000:]}"
                )
            try:
                httpx.get(base + ready_path, timeout=2.0)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not answer within {timeout:.0f} s") from None
                time.sleep(0.2)
        yield Server(base=base, pid=process.pid)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


def surveil_config(
    scratch: Path,
    db_url: str,
    *,
    base_url: str,
    feed_limit: int,
    prepared_statements: bool = False,
) -> Path:
    """A configuration file for ``surveil serve`` on ``db_url`` (a fresh signing key);
    ``prepared_statements`` is ``[database] prepared_statements`` (PostgreSQL connected to
    directly, as here)."""
    key = scratch / "secret_key"
    key.write_text(secrets.token_urlsafe(48))
    key.chmod(0o600)
    config = scratch / "surveil.toml"
    config.write_text(
        textwrap.dedent(f"""\
            [database]
            url = {json.dumps(db_url)}
            prepared_statements = {json.dumps(prepared_statements)}

            [web]
            base_url = {json.dumps(base_url)}
            secret_key_file = {json.dumps(str(key))}
            feed_requests_per_minute = {feed_limit}
            """)
    )
    return config


@contextmanager
def surveil_serve(
    scratch: Path, config: Path, *, workers: int = 1, env: Mapping[str, str] | None = None
) -> Iterator[Server]:
    """``surveil serve`` as an operator runs it (uvicorn, its access log, ``workers``)."""
    port = free_port()
    command = [PYTHON, "-m", "surveil", "--config", str(config), "serve", "--host", HOST,
               "--port", str(port), "--workers", str(workers)]  # fmt: skip
    with start(command, scratch=scratch, name=f"surveil-{workers}", port=port,
               ready_path="/login", env=env) as server:  # fmt: skip
        yield server


BARE_APP = '''\
"""A bare ASGI app: the bodies of a JSON file {path: latin-1 text}, nothing else."""
import json, os
BODIES = {path: text.encode("latin-1")
          for path, text in json.load(open(os.environ["BARE_BODIES"])).items()}
HEADERS = [(b"content-type", b"text/calendar; charset=utf-8")]

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = BODIES.get(scope["path"])
    status = 200 if body is not None else 404
    body = body if body is not None else b"Not found.\\n"
    await send({"type": "http.response.start", "status": status,
                "headers": [*HEADERS, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
'''


@contextmanager
def bare_asgi(scratch: Path, bodies: Mapping[str, bytes]) -> Iterator[Server]:
    """The same uvicorn (same settings as ``surveil serve``: no server header) serving fixed
    bytes per path from a raw ASGI callable: the floor for the HTTP part of a request."""
    (scratch / "bare_feed_app.py").write_text(BARE_APP)
    data = scratch / "bare_bodies.json"
    data.write_text(json.dumps({path: body.decode("latin-1") for path, body in bodies.items()}))
    port = free_port()
    command = [PYTHON, "-m", "uvicorn", "bare_feed_app:app", "--host", HOST, "--port",
               str(port), "--no-server-header", "--app-dir", str(scratch)]  # fmt: skip
    with start(command, scratch=scratch, name="bare-asgi", port=port, ready_path="/ready",
               env={"BARE_BODIES": str(data)}) as server:  # fmt: skip
        yield server


@contextmanager
def radicale(scratch: Path) -> Iterator[Server]:
    """Radicale (CalDAV) with its file storage under ``scratch``, anyone may read and write."""
    rights = scratch / "radicale-rights"
    rights.write_text("[everyone]\nuser: .*\ncollection: .*\npermissions: RrWw\n")
    port = free_port()
    command = [PYTHON, "-m", "radicale", "--server-hosts", f"{HOST}:{port}",
               "--storage-filesystem-folder", str(scratch / "radicale"),
               "--auth-type", "none", "--rights-type", "from_file",
               "--rights-file", str(rights), "--logging-level", "warning"]  # fmt: skip
    with start(command, scratch=scratch, name="radicale", port=port, ready_path="/") as server:
        yield server
