"""``surveil run-demo`` (what ``make run`` starts): the real web worklist and daemon in
subprocesses; the banner with the address and every demo login comes after their start-up lines."""

import datetime as dt
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from surveil.config import DatabaseSettings, Settings
from surveil.core.vocab import Channel
from surveil.db.engine import make_engine
from surveil.demo import generate as demo
from surveil.demo.people import DEMO_USERS
from surveil.services.actor import Actor
from surveil.services.planning.replan import replan_every_patient

BANNER_END = "Ctrl-C stops everything"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def lines_of(process: subprocess.Popen[str]) -> "queue.Queue[str | None]":
    """The process's output, line by line, on a queue (None at the end), read by a thread so
    the test can wait with a deadline."""
    out: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            out.put(line.rstrip("\n"))
        out.put(None)

    threading.Thread(target=read, daemon=True).start()
    return out


def read_until(lines: "queue.Queue[str | None]", marker: str, seconds: float) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line)
        if marker in line:
            return seen
    raise AssertionError(f"no {marker!r} within {seconds} s; output so far:\n" + "\n".join(seen))


def test_banner_follows_the_start_up_lines_and_names_every_demo_login(
    sqlite_url: str, tmp_path: Path
) -> None:
    engine = make_engine(sqlite_url)
    now = dt.datetime.now(dt.UTC)
    today = now.date()
    demo.generate_demo(
        engine,
        patients=20,
        seed=7,
        clinic="Neuroendocrine Tumour Clinic",
        timezone="Europe/London",
        today=today,
        now=now,
    )
    replan_every_patient(
        engine,
        actor=Actor.system(channel=Channel.CLI),
        settings=Settings(database=DatabaseSettings(url=sqlite_url)),
        today=today,
    )
    engine.dispose()
    port = free_port()
    env = {**os.environ, "SURVEIL_DATABASE_URL": sqlite_url}
    env.pop("SURVEIL_CONFIG", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "surveil", "run-demo", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        lines = lines_of(process)
        before = read_until(lines, BANNER_END, seconds=90)
        page = httpx.get(f"http://127.0.0.1:{port}/login", timeout=10)
        process.send_signal(signal.SIGTERM)  # as `kill` or a service manager would stop it
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert page.status_code == 200
    text = "\n".join(before)
    banner_at = next(i for i, line in enumerate(before) if "surveil is running" in line)
    banner = "\n".join(before[banner_at:])
    # The start-up lines of both children come first, the banner last.
    started = [
        i
        for i, line in enumerate(before)
        if "surveil.daemon: daemon" in line or "Uvicorn running" in line
    ]
    assert len(started) == 2 and max(started) < banner_at, text
    assert f"http://127.0.0.1:{port}/" in banner
    for user in DEMO_USERS:
        assert f"{user.username} / {user.password}" in banner, banner
    assert "Northern NET Centre" in banner
