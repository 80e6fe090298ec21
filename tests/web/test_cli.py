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
from surveil.db.engine import make_engine
from surveil.logs import RedactPatientData, scrub, uvicorn_log_config
from surveil.web.app import create_app
from tests.cli import acting
from tests.cli.acting import Invoke, add_account
from tests.web.seed import SECRET_KEY, TODAY, make_item, make_patient, make_trigger


@pytest.fixture
def fresh_cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    return acting.fresh_invoke(db_url, monkeypatch)


def test_user_add_list_and_refusals(fresh_cli: Invoke, tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("a long enough passphrase\n")
    first = ["--password-file", str(secret)]
    # On an empty registry the first account needs no --as, and must be an administrator.
    navigator = fresh_cli("user", "add", "nina", "--role", "navigator", *first)
    assert navigator.exit_code == 2 and "must be an administrator" in navigator.output
    boss = fresh_cli("user", "add", "ada", "--role", "admin", "--clinic", "north", *first)
    assert boss.exit_code == 0 and "added ada (admin, north)" in boss.output
    nobody = fresh_cli("user", "add", "tom", "--role", "navigator", *first)
    assert nobody.exit_code == 2 and "--as USER" in nobody.output
    added = fresh_cli(
        "--as", "ada", "user", "add", "Nina", "--role", "navigator", "--clinic", "north",
        "--name", "Nina Patel", "--password-file", str(secret), "--email", "nina@example.org",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "added nina (navigator, north)" in added.output
    as_ada = ("--as", "ada", "user", "add")
    bad_email = fresh_cli(*as_ada, "tom", "--role", "navigator", "--email", "tom at x", *first)
    assert bad_email.exit_code == 2 and "email:" in bad_email.output
    again = fresh_cli(*as_ada, "nina", "--role", "admin", *first)
    assert again.exit_code == 2 and "already exists" in again.output
    not_admin = fresh_cli("--as", "nina", "user", "add", "tim", "--role", "navigator", *first)
    assert not_admin.exit_code == 2 and "only an administrator" in not_admin.output
    secret.write_text("short")
    weak = fresh_cli(*as_ada, "tim", "--role", "admin", "--password-file", str(secret))
    assert weak.exit_code == 2 and "password: must be at least 12 characters" in weak.output
    listed = json.loads(fresh_cli("user", "list", "--json").output)  # no --as: no patient data
    assert [(u["username"], u["role"], u["clinic"], u["email"]) for u in listed] == [
        ("ada", "admin", "north", None),
        ("nina", "navigator", "north", "nina@example.org"),
    ]
    assert fresh_cli("user", "deactivate", "nina").exit_code == 2  # nobody named
    assert fresh_cli("--as", "ada", "user", "deactivate", "nina").exit_code == 0
    assert json.loads(fresh_cli("user", "list", "--json").output)[1]["active"] is False


def test_worklist_cli_prints_the_same_sections(fresh_cli: Invoke, db_url: str) -> None:
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
    add_account(engine, "nell", role="navigator", clinic="Neuroendocrine Tumour Clinic")
    engine.dispose()
    day = ("--date", TODAY.isoformat())
    assert fresh_cli("worklist", *day).exit_code == 2  # it shows patients: say who you are
    data = json.loads(fresh_cli("--as", "nell", "worklist", *day, "--json").output)
    counts = {s["key"]: s["count"] for s in data["sections"]}
    assert counts == {
        "triggers": 1,
        "overdue": 1,
        "due": 0,
        "booked_outside": 0,
        "booked_no_result": 0,
        "soon": 0,
        "booked": 0,
        "reminders": 0,
        "replies": 0,
        "no_plan": 0,
        "no_owner": 1,  # enrolled without a navigator
        "lost": 0,
    }
    assert data["sections"][1]["rows"][0]["timing"] == "3 days overdue"
    text = fresh_cli("--as", "nell", "worklist", *day).output
    assert "Overdue (1)" in text and "OKAFOR, Ada" in text and "3 days overdue" in text
    bad = fresh_cli("--as", "nell", "worklist", "--date", "tomorrow")
    assert bad.exit_code == 2 and "--date" in bad.output


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/feeds/AbC-123_x.ics", "/feeds/<redacted>.ics"),
        ("/feeds/AbC-123_x.ics?v=2", "/feeds/<redacted>.ics?v=<redacted>"),
        ("/feeds/AbC-123_x", "/feeds/<redacted>"),
        ("/worklist?q=feeds", "/worklist?q=<redacted>"),  # what was searched for is PHI
        ("/patients?q=Okafor%20Ada&page=2", "/patients?q=<redacted>&page=2"),
        ("/patients?page=2&q=1960-02-29", "/patients?page=2&q=<redacted>"),
        ("/login?next=/patients%3Fq%3Dokafor", "/login?next=<redacted>"),
        ("/worklist?section=overdue", "/worklist?section=overdue"),
    ],
)
def test_feed_tokens_and_searches_are_redacted(path: str, logged: str) -> None:
    assert scrub(path) == logged
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", path, "1.1", 200), None,
    )  # fmt: skip
    RedactPatientData().filter(record)
    assert record.getMessage() == f'127.0.0.1:5000 - "GET {logged} HTTP/1.1" 200'


@pytest.mark.usefixtures("keep_logging")
def test_a_real_uvicorn_access_log_never_shows_the_token(
    sqlite_url: str, capfd: pytest.CaptureFixture[str]
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
    searched = "Zebedee-Quillfield"
    httpx.get(f"http://127.0.0.1:{port}/patients?q={searched}")
    httpx.get(f"http://127.0.0.1:{port}/login?next=/patients%3Fq%3D{searched}")
    server.should_exit = True
    thread.join(5)
    output = capfd.readouterr()
    logs = output.out + output.err
    assert "/feeds/<redacted>.ics" in logs
    assert token not in logs
    assert "/patients?q=<redacted>" in logs and "/login?next=<redacted>" in logs
    assert searched not in logs
