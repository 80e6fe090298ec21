"""Overrides from the command line: they win over the pack, say so, and can be ended."""

import json

import pytest

from tests.cli.conftest import SMALL_PNET, Invoke

# Every command here acts as the clinic's navigator (SURVEIL_USER, see tests/cli/conftest.py).
pytestmark = pytest.mark.usefixtures("cli_user")

ADA = SMALL_PNET


def _mri(invoke: Invoke) -> dict[str, object]:
    plan = json.loads(invoke("plan", "--patient", "100", "--json").output)
    (mri,) = [i for i in plan["items"] if i["kind"] in ("mri", "ct")]
    return mri  # type: ignore[no-any-return]


def test_override_interval_then_end(surveil_cli: Invoke) -> None:
    assert surveil_cli("patient", "add", *ADA).exit_code == 0
    before = _mri(surveil_cli)
    added = surveil_cli(
        "override",
        "add",
        "100",
        "--kind",
        "mri",
        "--every",
        "3-4",
        "--reason",
        "patient anxious",
        "--author",
        "dr.okafor",
    )
    assert added.exit_code == 0, added.output
    after = _mri(surveil_cli)
    assert after["target"] == "2025-06-02" and after["target"] < before["target"]
    assert "dr.okafor" in str(after["reason"]) and "override" in str(after["rule"])
    (row,) = json.loads(surveil_cli("override", "list", "100", "--json").output)
    assert surveil_cli("override", "end", "100", str(row["id"])).exit_code == 0
    assert _mri(surveil_cli)["target"] == before["target"]


def test_modality_override(surveil_cli: Invoke) -> None:
    assert surveil_cli("patient", "add", *ADA).exit_code == 0
    result = surveil_cli(
        "override",
        "add",
        "100",
        "--kind",
        "mri",
        "--modality",
        "ct",
        "--reason",
        "pacemaker",
        "--author",
        "dr.okafor",
    )
    assert result.exit_code == 0, result.output
    assert _mri(surveil_cli)["kind"] == "ct"


def test_bad_override_lists_every_problem(surveil_cli: Invoke) -> None:
    assert surveil_cli("patient", "add", *ADA).exit_code == 0
    result = surveil_cli(
        "override",
        "add",
        "100",
        "--kind",
        "xray",
        "--every",
        "6-3",
        "--unit",
        "fortnights",
        "--reason",
        " ",
        "--author",
        "x",
    )
    assert result.exit_code == 2
    for field in ("kind:", "every:", "unit:", "reason:"):
        assert field in result.output
    assert json.loads(surveil_cli("override", "list", "100", "--json").output) == []
