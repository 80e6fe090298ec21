"""``surveil hl7 listen`` as a real subprocess on a loopback port, for crash and concurrency
tests (SIGKILL, two listeners on one PostgreSQL database)."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tests.hl7.conftest import hl7_settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment(db_url: str, pause_at: str = "") -> dict[str, str]:
    settings = hl7_settings(db_url).hl7
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURVEIL_")}
    env |= {
        "SURVEIL_DATABASE_URL": db_url,
        "SURVEIL_HL7_IDENTIFIER_AUTHORITY": settings.identifier_authority,
        "SURVEIL_HL7_LOCAL_CODES": settings.local_codes,
        "SURVEIL_HL7_APPOINTMENT_TYPES": settings.appointment_types,
    }
    if pause_at:
        env["SURVEIL_CRASH_TEST_HL7_PAUSE"] = pause_at
    return env


@contextmanager
def listener_process(
    db_url: str, pause_at: str = ""
) -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "surveil", "hl7", "listen", "--port", str(port)],
        env=environment(db_url, pause_at),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        _wait_for_port(port, process)
        yield process, port
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        if process.stderr:
            process.stderr.close()


def _wait_for_port(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"listener exited: {process.stderr.read() if process.stderr else ''}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the listener did not open its port")


def kill_9(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(10)
