"""`surveil plan --patient`, `surveil triggers` and `surveil replan` on a stored patient."""

import json

import pytest

from tests.cli.conftest import SMALL_PNET, Invoke, add_cli_user

# Every command here acts as the clinic's navigator (SURVEIL_USER, see tests/cli/conftest.py).
pytestmark = pytest.mark.usefixtures("cli_user")

ADA = SMALL_PNET


def test_growth_shows_in_plan_and_trigger_lifecycle(surveil_cli: Invoke, db_url: str) -> None:
    assert surveil_cli("patient", "add", *ADA).exit_code == 0
    before = json.loads(surveil_cli("plan", "--patient", "100", "--json").output)
    assert before["triggers"] == [] and {"mri", "cga"} <= {i["kind"] for i in before["items"]}
    for day, mm in (("2025-03-02", "12"), ("2025-11-20", "18")):
        result = surveil_cli(
            "measurement", "add", "100", "--lesion", "L1", "--date", day, "--mm", mm
        )
        assert result.exit_code == 0, result.output
    after = json.loads(surveil_cli("plan", "--patient", "100", "--json").output)
    (trigger,) = after["triggers"]
    assert trigger["kind"] == "growth_rate" and trigger["value"] == 8.33
    assert trigger["threshold"] == 5.0 and trigger["unit"] == "mm/year"
    assert "12 → 18 mm" in trigger["explanation"]
    assert "tumour_board" in {i["kind"] for i in after["items"]}
    listed = json.loads(surveil_cli("triggers", "list", "--open", "--json").output)
    assert [t["id"] for t in listed] == [trigger["id"]]
    tid = str(trigger["id"])
    assert surveil_cli("triggers", "ack", tid, "--by", "nurse").exit_code == 0
    assert json.loads(surveil_cli("triggers", "list", "--open", "--json").output)
    missing = surveil_cli("triggers", "resolve", tid, "--outcome", "")
    assert missing.exit_code == 2 and "outcome:" in missing.output
    # A growth finding is a clinical decision: the navigator is refused, a clinician resolves.
    refused = surveil_cli("triggers", "resolve", tid, "--outcome", "referred to surgery")
    assert refused.exit_code == 2 and "clinician" in refused.output
    add_cli_user(db_url, "dr.okafor", role="clinician")
    done = surveil_cli(
        "--as", "dr.okafor", "triggers", "resolve", tid, "--outcome", "referred to surgery"
    )
    assert done.exit_code == 0, done.output
    assert json.loads(surveil_cli("triggers", "list", "--open", "--json").output) == []


def test_replan_all_is_idempotent(surveil_cli: Invoke) -> None:
    assert surveil_cli("patient", "add", *ADA).exit_code == 0
    first = json.loads(surveil_cli("replan", "--all", "--json").output)
    second = json.loads(surveil_cli("replan", "--all", "--json").output)
    assert first["patients"] == second["patients"] == 1
    assert second["created"] == 0 and second["superseded"] == 0
    assert surveil_cli("replan").exit_code == 2  # neither --patient nor --all


def test_replan_all_skips_the_unchanged_and_full_skips_none(surveil_cli: Invoke) -> None:
    assert surveil_cli("patient", "add", *ADA).exit_code == 0
    for _ in range(2):  # planned, then found stable
        assert surveil_cli("replan", "--all").exit_code == 0
    routine = surveil_cli("replan", "--all")
    assert routine.exit_code == 0, routine.output
    said = " ".join(routine.output.split())  # the console wraps long lines
    assert "(1 unchanged since the last run, not planned again)" in said
    full = json.loads(surveil_cli("replan", "--all", "--full", "--json").output)
    assert full["skipped"] == 0 and full["created"] == 0 and full["patients"] == 1
    one = surveil_cli("replan", "--patient", "100", "--full")
    assert one.exit_code == 2 and "--full go with --all" in " ".join(one.output.split())
    assert "surveil replan --all --full" in surveil_cli("replan", "--help").output
