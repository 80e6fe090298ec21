"""``surveil serve`` in a subprocess, for the tests that need a real server: real uvicorn, its
own access and error logs, real sockets."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class LiveServer:
    base: str  # http://127.0.0.1:port
    port: int
    process: subprocess.Popen[bytes]


@contextmanager
def surveil_serve(
    settings: Mapping[str, str], log_file: Path, *, cwd: Path | None = None
) -> Iterator[LiveServer]:
    """The server, once its login page answers; stopped on leaving.
    It is configured by ``settings`` (``SURVEIL_*`` variables) alone: none of the caller's
    ``SURVEIL_*`` variables reach it (``make test`` exports a database URL, for one). Its
    stdout and stderr go to ``log_file``."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURVEIL_")} | dict(settings)
    command = [sys.executable, "-m", "surveil", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log_file.open("wb") as sink:
        server = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=cwd)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/login", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, log_file.read_text()
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        yield LiveServer(base, port, server)
    finally:
        server.terminate()
        server.wait(timeout=30)
