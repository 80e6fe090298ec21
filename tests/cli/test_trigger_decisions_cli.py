"""``surveil triggers confirm / resolve --false-alarm / reopen`` for real (both backends): a
clinician's decisions leave their audit rows; the navigator is refused each one (exit 2, no row,
no change), because the role rule is the service's, the same as on the web."""

import getpass
import json
from collections.abc import Iterator

import pytest
from sqlmodel import Session, col, select

from surveil.db import models as m
from tests.cli.conftest import SMALL_PNET, Invoke, add_cli_user
from tests.cli.test_one_way_in_records_shells import Audit, enrol, nurse, refused, run

SHELL_COVERED: frozenset[str] = frozenset(
    {"triggers confirm", "triggers reopen", "triggers resolve", "triggers note"}
)
NOT_AUDITED: dict[str, str] = {}
DOCTOR = "dora"


@pytest.fixture
def audit(
    db_url: str,
    cli_user: str,  # noqa: ARG001 - the acting navigator exists before the watcher starts
) -> Iterator[Audit]:
    watcher = Audit(db_url)
    yield watcher
    watcher.engine.dispose()


def doctor(action: str, patient: int | None) -> tuple[str, str, str | None, int | None]:
    return (action, DOCTOR, getpass.getuser(), patient)


def _states(audit: Audit, patient: int) -> list[str]:
    with Session(audit.engine) as session:
        return list(
            session.exec(
                select(m.DiseaseState.kind)
                .where(m.DiseaseState.patient_id == patient, col(m.DiseaseState.end_date).is_(None))
            ).all()
        )  # fmt: skip


def test_a_clinician_confirms_undoes_and_reopens_and_a_navigator_cannot(
    surveil_cli: Invoke, audit: Audit, db_url: str
) -> None:
    cli = surveil_cli
    add_cli_user(db_url, DOCTOR, role="clinician")
    assert SMALL_PNET[:2] == ["--mrn", "100"]
    pid = enrol(cli, audit)
    for day, mm in (("2025-03-02", "12"), ("2025-11-20", "18")):
        cli("measurement", "add", "100", "--lesion", "L1", "--date", day, "--mm", mm)
    audit.new()
    shown = run(
        cli, audit, "triggers", "list", "--patient", "100", "--json",
        expect=[nurse("triggers.viewed", pid)],
    )  # fmt: skip
    (growth,) = (str(t["id"]) for t in json.loads(shown) if t["kind"] == "growth_rate")

    run(
        cli, audit, "triggers", "note", growth, "--text", "patient called",
        expect=[nurse("trigger.noted", pid)],
    )  # fmt: skip
    refused(cli, audit, "triggers", "note", growth, "--text", " ")
    # The navigator: refused, nothing written.
    refused(cli, audit, "triggers", "confirm", growth)
    refused(cli, audit, "triggers", "resolve", growth, "--outcome", "benign", "--false-alarm")

    run(
        cli, audit, "--as", DOCTOR, "triggers", "confirm", growth,
        expect=[doctor("state.set", pid), doctor("trigger.confirmed", pid)],
    )  # fmt: skip
    assert _states(audit, pid) == ["advanced"]
    output = run(
        cli, audit, "--as", DOCTOR, "triggers", "resolve", growth, "--false-alarm",
        "--outcome", "measurement error",
        expect=[doctor("state.reverted", pid), doctor("trigger.resolved", pid)],
    )  # fmt: skip
    assert "false alarm" in output
    assert _states(audit, pid) == ["active_surveillance"]

    refused(cli, audit, "triggers", "reopen", growth, "--reason", "second look")
    refused(cli, audit, "--as", DOCTOR, "triggers", "reopen", growth, "--reason", " ")
    run(
        cli, audit, "--as", DOCTOR, "triggers", "reopen", growth, "--reason", "re-read: real",
        expect=[doctor("trigger.reopened", pid)],
    )  # fmt: skip
    result = cli("triggers", "reopen", "--help")
    assert "Example:" in result.output
