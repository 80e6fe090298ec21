"""``surveil triggers resolve --outcome-code`` for real (both backends): a bad code is refused
(exit 2, nothing written), measurement_error undoes the trigger's state change and is kept as a
coded reason that ``surveil report reasons`` counts by trigger kind."""

import json
from collections.abc import Iterator

import pytest
from sqlmodel import Session, select

from surveil.db import models as m
from tests.cli.conftest import Invoke, add_cli_user
from tests.cli.test_one_way_in_records_shells import Audit, enrol, refused, run
from tests.cli.test_trigger_decisions_cli import DOCTOR, _states, doctor


@pytest.fixture
def audit(
    db_url: str,
    cli_user: str,  # noqa: ARG001 - the acting navigator exists before the watcher starts
) -> Iterator[Audit]:
    watcher = Audit(db_url)
    yield watcher
    watcher.engine.dispose()


def test_a_coded_outcome_on_the_command_line(
    surveil_cli: Invoke, audit: Audit, db_url: str
) -> None:
    cli = surveil_cli
    add_cli_user(db_url, DOCTOR, role="clinician")
    pid = enrol(cli, audit)
    for day, mm in (("2025-03-02", "12"), ("2025-11-20", "18")):
        cli("measurement", "add", "100", "--lesion", "L1", "--date", day, "--mm", mm)
    shown = cli("triggers", "list", "--patient", "100", "--json").output
    (growth,) = (str(t["id"]) for t in json.loads(shown) if t["kind"] == "growth_rate")
    assert cli("--as", DOCTOR, "triggers", "confirm", growth).exit_code == 0
    assert _states(audit, pid) == ["advanced"]
    audit.new()

    output = refused(
        cli, audit, "--as", DOCTOR, "triggers", "resolve", growth, "--outcome-code", "looked_ok"
    )
    assert "outcome_code" in output and "measurement_error" in output
    output = run(
        cli, audit, "--as", DOCTOR, "triggers", "resolve", growth,
        "--outcome-code", "measurement_error", "--outcome", "re-measured on the same plane",
        expect=[doctor("state.reverted", pid), doctor("trigger.resolved", pid)],
    )  # fmt: skip
    assert "measurement error: re-measured on the same plane" in output
    assert _states(audit, pid) == ["active_surveillance"]
    with Session(audit.engine) as session:
        coded = session.exec(select(m.CodedReason)).one()
    assert (coded.action, coded.rule_id, coded.code) == (
        "trigger.resolved", "growth_rate", "measurement_error",
    )  # fmt: skip
    report = json.loads(cli("--as", DOCTOR, "report", "reasons", "--json").output)
    assert any(
        r["rule"] == "growth_rate" and r["reason"] == "measurement_error" and r["count"] == 1
        for r in report
    ), report
    assert "trigger_outcome: confirmed_progression" in cli("item", "reasons").output
    assert "--outcome-code" in cli("triggers", "resolve", "--help").output
