"""No patient data in any log line, on SQLite and PostgreSQL.

A patient called "Zzphi Markerson" with MRN "PHI123456" is in the registry; every route of the
app (read from the app itself) is then driven with those markers in every query value and form
field, with a NUL byte and an escape sequence after them, with ids beyond 64 bits and with dates
out of range, through a real ``surveil serve`` (its real uvicorn access and error logs) and through
the app in process with logging set up as the entry points set it up. Every log line is then
searched for the markers, a password hash, the feed token and raw control characters; no answer
may be a 500 (on PostgreSQL a NUL used to be one, with the SQL parameters in the traceback).
"""

import datetime as dt
import io
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from surveil.config import DatabaseSettings, Settings, WebSettings
from surveil.db import models as m
from surveil.db.engine import make_engine
from surveil.logs import add_filter
from surveil.services.actor import Actor
from surveil.services.feeds import tokens as feeds
from surveil.services.registry import patients as registry
from surveil.web.app import create_app
from tests.web.live_server import surveil_serve
from tests.web.routes import RouteSpec, app_routes
from tests.web.seed import NO_TOTP, PASSWORD, SECRET_KEY, TODAY, make_item, make_patient, make_user

GIVEN, FAMILY, MRN = "Zzphi", "Markerson", "PHI123456"
SEARCH = f"{GIVEN} {FAMILY} {MRN}"
NOTE = "Zzphi-note-PHI123456"
NEW_PASSWORD = "PHI123456-passphrase"
MARKERS = (GIVEN, FAMILY, MRN, FAMILY.upper(), NEW_PASSWORD, "$argon2")
# Each text value is sent as is, then with a NUL, then with an escape sequence after it.
TAILS = ("", "\x00", "\x1b[2J")
EDGE_VALUES = ("9999-12-31", "0001-01-01", str(2**64))
HUGE_ID = str(2**63)
RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@pytest.fixture
def seeded(db_url: str) -> dict[str, str]:
    """The marked patient (with an item, a note and a feed), an admin, and the path values."""
    engine = make_engine(db_url)
    with Session(engine, expire_on_commit=False) as session:
        admin = make_user(session, "ada", role="admin", clinic="north")
        make_user(session, "nina", role="navigator", clinic="north")
        patient = make_patient(session, MRN, clinic="north", family=FAMILY, given=GIVEN)
        item = make_item(
            session,
            patient,
            earliest=TODAY - dt.timedelta(days=30),
            latest=TODAY + dt.timedelta(days=30),
        )
        trigger = m.Trigger(
            patient_id=patient.id,
            kind="symptoms",
            subject_key="symptoms",
            fingerprint="symptoms:1",
            detected_on=TODAY,
            explanation=NOTE,
        )
        session.add(trigger)
        issued = feeds.issue_feed(
            session,
            patient_id=patient.id,  # type: ignore[arg-type]
            label=f"{GIVEN}'s phone",
            actor=Actor.system(),
            base_url="https://x.example",
        )
        # The record-keeping routes' rows (issue 13 B-2): a therapy and a measurement.
        therapy = registry.add_therapy(
            session, patient=patient, kind="ssa", started_on="2025-01-02", today=TODAY
        )
        measured = registry.add_measurement(
            session, patient=patient, lesion="L1", date="2025-01-02", diameter_mm=9,
            modality="mri", today=TODAY,
        )  # fmt: skip
        session.commit()
        values = {
            "therapy_id": str(therapy.id),
            "row_id": str(measured.id),
            "patient_id": str(patient.id),
            "item_id": str(item.id),
            "trigger_id": str(trigger.id),
            "user_id": str(admin.id),
            "session_id": "1",  # a sessions page id (another user's or none: a neutral 303)
            "message_id": "1",  # an HL7 message (issue 17); none is stored here
            "reply_id": "1",  # a patient's reply (issue 18); none is stored here
            "public_id": issued.feed.public_id,
            "token": issued.urls.https.rsplit("/", 1)[1].removesuffix(".ics"),
        }
    engine.dispose()
    return values


def drive_every_route(client: httpx.Client, routes: list[RouteSpec], ids: dict[str, str]) -> int:
    """Log in as the admin, then send every route the markers; returns how many requests were
    made. Fails on any 500."""
    answers: list[tuple[str, str, int]] = []

    def send(method: str, url: str, **kwargs: object) -> None:
        response = client.request(method, url, follow_redirects=False, **kwargs)  # type: ignore[arg-type]
        answers.append((method, url, response.status_code))

    token = _csrf(client, "/login")
    send("POST", "/login", data={"csrf_token": token, "username": MRN, "password": NOTE})
    send("POST", "/login", data={"csrf_token": token, "username": "ada", "password": PASSWORD})
    token = _csrf(client, "/worklist")
    for route in routes:
        for tail in TAILS:
            marked = {name: SEARCH + tail for name in route.query_params}
            form = {name: NOTE + tail for name in route.form_fields}
            if route.method == "GET":
                send("GET", route.url(ids), params=marked)
            else:
                if "password" in form:
                    form["password"] = NEW_PASSWORD + tail
                send("POST", route.url(ids), params=marked, data={**form, "csrf_token": token})
        for edge in EDGE_VALUES:
            params = {name: edge for name in route.query_params}
            form = {name: edge for name in route.form_fields}
            send(route.method, route.url(ids), params=params, data=form or None)
        huge = {name: HUGE_ID for name in route.path_params if name != "public_id"}
        if huge:
            send(route.method, route.url({**ids, **huge}), data={"csrf_token": token})
    send("GET", f"/feeds/{ids['token']}.ics", params={"q": SEARCH})
    send("GET", f"/patients/{ids['patient_id']}%0d%0aINFO:%20forged%1b[2J")
    send("GET", "/worklist", params={"q": MRN, "date": "2026-02-30"})
    send("POST", "/admin/users", data={"csrf_token": token, "username": "x", "password": "short"})
    errors = [a for a in answers if a[2] >= 500]
    assert not errors, errors
    return len(answers)


def _csrf(client: httpx.Client, path: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert found, path
    return found.group(1)


def assert_clean(log: str, token: str) -> None:
    lines = log.splitlines()
    assert len(lines) > 10, log  # the log was captured at all
    for marker in (*MARKERS, token):
        hits = [line for line in lines if marker in line]
        assert not hits, (marker, hits[:5])
    raw = [line for line in lines if RAW_CONTROL.search(line)]
    assert not raw, raw[:5]


# --------------------------------------------------------------------------- a real server


@pytest.fixture
def served(
    db_url: str,
    seeded: dict[str, str],  # noqa: ARG001 - the patients exist before the server starts
    tmp_path: Path,
) -> Iterator[tuple[str, Path, subprocess.Popen[bytes]]]:
    """``surveil serve`` in a subprocess on a free loopback port; its stdout and stderr (the
    access log and the error log) go to one file."""
    log_file = tmp_path / "serve.log"
    settings = {
        "SURVEIL_DATABASE_URL": db_url,
        "SURVEIL_WEB_SECRET_KEY": SECRET_KEY,
        "SURVEIL_SECURITY_TOTP_REQUIRED": "false",
    }  # seed.NO_TOTP
    with surveil_serve(settings, log_file, cwd=tmp_path) as live:
        yield live.base, log_file, live.process


def test_a_real_server_logs_no_patient_data(
    served: tuple[str, Path, subprocess.Popen[bytes]], seeded: dict[str, str], db_url: str
) -> None:
    base, log_file, server = served
    app = create_app(_settings(db_url))
    # A new connection for every request: twice in loaded CI runs the server closed a
    # keep-alive connection, without an answer or a log line, on the request after a run of
    # redirects to the login page. Not the answers that leave a body unread: the server keeps
    # those connections (test_keep_alive.py). The only silent close found is uvicorn's 5 s idle
    # timeout, which httpx's own 5 s expiry races; cause still open. What this test checks,
    # the logs, does not depend on reusing connections.
    fresh = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=base, timeout=30, limits=fresh) as client:
        try:
            sent = drive_every_route(client, app_routes(app), seeded)
        except httpx.TransportError as error:
            # Seen once in a loaded CI run ("Server disconnected without sending a response"
            # on the 330th request of a keep-alive connection) and not reproduced since: the
            # server's exit status and its own log say whether it died, and why.
            tail = log_file.read_text(encoding="utf-8", errors="backslashreplace")[-4000:]
            status = "running" if server.poll() is None else f"exited {server.returncode}"
            raise AssertionError(
                f"{error!r}; the server is {status}; its log ends with:\n{tail}"
            ) from error
    time.sleep(0.5)  # the last access-log lines
    log = log_file.read_text(encoding="utf-8", errors="backslashreplace")
    assert log.count(' HTTP/1.1" ') >= sent  # every request reached the access log
    assert "/worklist?q=<redacted>" in log
    assert_clean(log, seeded["token"])


# --------------------------------------------------------------------------- in process


@pytest.mark.usefixtures("keep_logging")
def test_the_app_in_process_logs_no_patient_data(db_url: str, seeded: dict[str, str]) -> None:
    """Every logger at INFO into one captured handler carrying the filter, as ``serve`` and
    the daemon set it up, with the engine echoing every statement (``database.echo``)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    add_filter([handler])
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    engine = make_engine(db_url, echo=True)
    try:
        app = create_app(_settings(db_url), engine=engine)
        with TestClient(app, raise_server_exceptions=False) as client:
            drive_every_route(client, app_routes(app), seeded)
    finally:
        engine.dispose()
    log = stream.getvalue()
    assert "SELECT" in log and "parameters hidden" in log  # the echo was on, values hidden
    assert_clean(log, seeded["token"])


@pytest.mark.usefixtures("seeded")
def test_the_daemon_logs_no_patient_data(db_url: str) -> None:
    engine = make_engine(db_url)
    with Session(engine) as session:
        patient = session.exec(select(m.Patient).where(m.Patient.mrn == MRN)).one()
        patient.email = "zzphi.markerson@example.org"
        patient.phone = "+44 7700 900123"
        session.add(patient)
        session.commit()
    engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURVEIL_")}
    env |= {"SURVEIL_DATABASE_URL": db_url, "SURVEIL_DAEMON_EMAIL_CHANNEL": "log"}
    done = subprocess.run(
        [sys.executable, "-m", "surveil", "daemon", "--once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    log = done.stdout + done.stderr
    assert "dry run" in log or "planned" in log
    for marker in (*MARKERS, "zzphi.markerson", "900123"):
        assert marker not in log


def _settings(db_url: str) -> Settings:
    return Settings(
        database=DatabaseSettings(url=db_url),
        security=NO_TOTP,
        web=WebSettings(secret_key=SECRET_KEY, login_attempts=100),
    )


def test_markers_are_what_the_patient_is_called(db_url: str, seeded: dict[str, str]) -> None:
    """The search must be able to fail: the markers are really in the registry."""
    engine = make_engine(db_url)
    with engine.connect() as connection:
        row = connection.execute(
            sa.text("SELECT given_name, family_name, mrn FROM patient WHERE id = :id"),
            {"id": int(seeded["patient_id"])},
        ).one()
    engine.dispose()
    assert tuple(row) == (GIVEN, FAMILY, MRN)
