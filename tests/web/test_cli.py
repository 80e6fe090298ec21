"""The CLI twins: ``surveil user``, ``surveil worklist`` and ``surveil serve``'s access log."""

import datetime as dt
import json
import logging
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlmodel import Session

from surveil.config import DatabaseSettings, Settings, WebSettings
from surveil.db.session import make_engine
from surveil.logs import RedactPatientData, scrub, uvicorn_log_config
from surveil.web.app import create_app
from tests.cli.conftest import Invoke, surveil_cli  # noqa: F401 - the fixture
from tests.web.seed import SECRET_KEY, TODAY, make_item, make_patient, make_trigger


def test_user_add_list_and_refusals(surveil_cli: Invoke, tmp_path: Path) -> None:  # noqa: F811
    secret = tmp_path / "pw"
    secret.write_text("a long enough passphrase\n")
    added = surveil_cli(
        "user", "add", "Nina", "--role", "navigator", "--clinic", "north",
        "--name", "Nina Patel", "--password-file", str(secret), "--email", "nina@example.org",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    bad_email = surveil_cli(
        "user",
        "add",
        "tom",
        "--role",
        "navigator",
        "--email",
        "tom at x",
        "--password-file",
        str(secret),
    )
    assert bad_email.exit_code == 2 and "email:" in bad_email.output
    assert "added nina (navigator, north)" in added.output
    again = surveil_cli("user", "add", "nina", "--role", "admin", "--password-file", str(secret))
    assert again.exit_code == 2 and "already exists" in again.output
    secret.write_text("short")
    weak = surveil_cli("user", "add", "tim", "--role", "admin", "--password-file", str(secret))
    assert weak.exit_code == 2 and "password: must be at least 8 characters" in weak.output
    listed = json.loads(surveil_cli("user", "list", "--json").output)
    assert [(u["username"], u["role"], u["clinic"], u["email"]) for u in listed] == [
        ("nina", "navigator", "north", "nina@example.org")
    ]
    assert surveil_cli("user", "deactivate", "nina").exit_code == 0
    assert json.loads(surveil_cli("user", "list", "--json").output)[0]["active"] is False


def test_worklist_cli_prints_the_same_sections(
    surveil_cli: Invoke,  # noqa: F811
    db_url: str,
) -> None:
    engine = make_engine(db_url)
    with Session(engine) as session:
        patient = make_patient(session, "N-1", clinic="Neuroendocrine Tumour Clinic")
        make_item(
            session,
            patient,
            earliest=TODAY - 40 * dt.timedelta(days=1),
            latest=TODAY - dt.timedelta(days=3),
        )
        make_trigger(session, patient)
        session.commit()
    engine.dispose()
    data = json.loads(surveil_cli("worklist", "--date", TODAY.isoformat(), "--json").output)
    counts = {s["key"]: s["count"] for s in data["sections"]}
    assert counts == {
        "triggers": 1,
        "overdue": 1,
        "due": 0,
        "soon": 0,
        "reminders": 0,
        "no_plan": 0,
        "lost": 0,
    }
    assert data["sections"][1]["rows"][0]["timing"] == "3 days overdue"
    text = surveil_cli("worklist", "--date", TODAY.isoformat()).output
    assert "Overdue (1)" in text and "OKAFOR, Ada" in text and "3 days overdue" in text
    bad = surveil_cli("worklist", "--date", "tomorrow")
    assert bad.exit_code == 2 and "--date" in bad.output


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/feeds/AbC-123_x.ics", "/feeds/<redacted>.ics"),
        ("/feeds/AbC-123_x.ics?v=2", "/feeds/<redacted>.ics?v=<redacted>"),
        ("/feeds/AbC-123_x", "/feeds/<redacted>"),
        ("/worklist?q=feeds", "/worklist?q=<redacted>"),
    ],
)
def test_feed_tokens_are_redacted(path: str, logged: str) -> None:
    assert scrub(path) == logged
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", path, "1.1", 200), None,
    )  # fmt: skip
    RedactPatientData().filter(record)
    assert record.getMessage() == f'127.0.0.1:5000 - "GET {logged} HTTP/1.1" 200'


def test_a_real_uvicorn_access_log_never_shows_the_token(
    sqlite_url: str, capfd: pytest.CaptureFixture[str], keep_logging: None
) -> None:
    settings = Settings(
        database=DatabaseSettings(url=sqlite_url), web=WebSettings(secret_key=SECRET_KEY)
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_config=uvicorn_log_config()
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    token = "s3cr3t-T0ken-value"
    httpx.get(f"http://127.0.0.1:{port}/feeds/{token}.ics")
    server.should_exit = True
    thread.join(5)
    output = capfd.readouterr()
    logs = output.out + output.err
    assert "/feeds/<redacted>.ics" in logs
    assert token not in logs
