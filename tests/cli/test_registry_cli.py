"""The registry from the command line, and bad input: a clear message, exit 2, nothing written."""

import json

import pytest

from tests.cli.conftest import Invoke

# Every command here acts as the clinic's navigator (SURVEIL_USER, see tests/cli/conftest.py).
pytestmark = pytest.mark.usefixtures("cli_user")

ADA = ["--mrn", "100", "--given", "Ada", "--family", "Lovelace", "--birth-date", "1962-03-14"]
TUMOUR = [
    "--site",
    "pancreas",
    "--ki67",
    "2",
    "--size-mm",
    "14",
    "--diagnosed-on",
    "2025-01-10",
    "--state",
    "active_surveillance",
]


def _count(invoke: Invoke) -> int:
    return len(json.loads(invoke("patient", "list", "--json").output))


def test_enrol_show_update(surveil_cli: Invoke) -> None:
    result = surveil_cli("patient", "add", *ADA, *TUMOUR, "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(surveil_cli("patient", "show", "100", "--json").output)
    assert shown["tumour"]["grade"] == "G1"
    assert shown["states"][0]["kind"] == "active_surveillance"
    assert surveil_cli("patient", "update", "100", "--ki67", "7").exit_code == 0
    shown = json.loads(surveil_cli("patient", "show", "100", "--json").output)
    assert shown["tumour"]["grade"] == "G2"
    assert (
        surveil_cli(
            "state",
            "set",
            "100",
            "--kind",
            "resected",
            "--since",
            "2026-02-01",
            "--resection",
            "R0",
            "--reason",
            "Whipple",
        ).exit_code
        == 0
    )
    shown = json.loads(surveil_cli("patient", "show", "100", "--json").output)
    assert [s["kind"] for s in shown["states"]] == ["active_surveillance", "resected"]
    assert shown["states"][0]["end_date"] == "2026-02-01"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        (["--ki67", "-1"], "ki67"),
        (["--ki67", "101"], "ki67"),
        (["--ki67", "abc"], "ki67"),
        (["--site", "liver"], "site"),
        (["--timezone", "Mars/Olympus"], "timezone"),
        (["--diagnosed-on", "2025-02-30"], "diagnosed_on"),
        (["--diagnosed-on", "1950-01-01"], "diagnosed_on"),  # before birth
        (["--email", "not-an-address"], "email"),
    ],
)
def test_bad_enrolment_is_refused_and_writes_nothing(
    surveil_cli: Invoke, extra: list[str], field: str
) -> None:
    args = ["patient", "add", *ADA, "--site", "pancreas", "--diagnosed-on", "2025-01-10", *extra]
    result = surveil_cli(*args)
    assert result.exit_code == 2
    assert f"{field}:" in result.output
    assert _count(surveil_cli) == 0


def test_all_problems_reported_together(surveil_cli: Invoke) -> None:
    result = surveil_cli(
        "patient",
        "add",
        "--mrn",
        "1",
        "--given",
        "A",
        "--family",
        "B",
        "--birth-date",
        "13/01/1970",
        "--site",
        "liver",
        "--ki67",
        "abc",
        "--timezone",
        "Mars/Olympus",
    )
    assert result.exit_code == 2
    for field in ("birth_date:", "site:", "ki67:", "timezone:"):
        assert field in result.output


def test_duplicate_mrn(surveil_cli: Invoke) -> None:
    assert surveil_cli("patient", "add", *ADA).exit_code == 0
    result = surveil_cli("patient", "add", *ADA)
    assert result.exit_code == 2
    assert "mrn:" in result.output and "already exists" in result.output
    assert _count(surveil_cli) == 1


def test_unknown_patient(surveil_cli: Invoke) -> None:
    result = surveil_cli(
        "measurement", "add", "nope", "--lesion", "L1", "--date", "2025-01-01", "--mm", "10"
    )
    assert result.exit_code == 2
    assert "no patient with MRN 'nope'" in result.output


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--date", "2999-01-01", "--mm", "10"], "date"),
        (["--date", "1900-01-01", "--mm", "10"], "date"),  # before birth
        (["--date", "2025-13-01", "--mm", "10"], "date"),
        (["--date", "2025-01-01", "--mm", "0"], "diameter_mm"),
        (["--date", "2025-01-01", "--mm", "ten"], "diameter_mm"),
    ],
)
def test_bad_measurement(surveil_cli: Invoke, args: list[str], field: str) -> None:
    assert surveil_cli("patient", "add", *ADA, *TUMOUR).exit_code == 0
    result = surveil_cli("measurement", "add", "100", "--lesion", "L1", *args)
    assert result.exit_code == 2
    assert f"{field}:" in result.output
    shown = json.loads(surveil_cli("patient", "show", "100", "--json").output)
    assert shown["mrn"] == "100"


def test_marker_and_pathology(surveil_cli: Invoke) -> None:
    assert surveil_cli("patient", "add", *ADA, *TUMOUR).exit_code == 0
    ok = surveil_cli(
        "marker",
        "add",
        "100",
        "--name",
        "cga",
        "--value",
        "80",
        "--uln",
        "100",
        "--unit",
        "ng/mL",
        "--date",
        "2025-06-01",
        "--on-ppi",
    )
    assert ok.exit_code == 0, ok.output
    bad = surveil_cli("marker", "add", "100", "--name", "mri", "--value", "-3", "--date", "x")
    assert bad.exit_code == 2
    assert "name:" in bad.output and "value:" in bad.output and "date:" in bad.output
    # A higher Ki-67 on re-biopsy re-grades; a later lower one never downgrades.
    assert (
        surveil_cli("pathology", "add", "100", "--date", "2025-09-01", "--ki67", "25").exit_code
        == 0
    )
    assert (
        surveil_cli("pathology", "add", "100", "--date", "2025-10-01", "--ki67", "1").exit_code == 0
    )
    shown = json.loads(surveil_cli("patient", "show", "100", "--json").output)
    assert shown["tumour"]["grade"] == "G3"


def test_a_new_symptom_on_surveillance_is_recorded_and_opens_a_trigger(
    surveil_cli: Invoke,
) -> None:
    assert surveil_cli("patient", "add", *ADA, *TUMOUR).exit_code == 0
    ok = surveil_cli(
        "symptom", "add", "100", "--date", "2025-06-01", "--description", "flushing, diarrhoea"
    )
    assert ok.exit_code == 0 and "recorded symptom on 2025-06-01" in ok.output, ok.output
    listed = json.loads(surveil_cli("triggers", "list", "--json").output)
    assert [t["kind"] for t in listed] == ["symptoms"] and listed[0]["mrn"] == "100"
    bad = surveil_cli("symptom", "add", "100", "--date", "2999-01-01", "--description", " ")
    assert bad.exit_code == 2 and "date:" in bad.output and "description:" in bad.output
    assert len(json.loads(surveil_cli("triggers", "list", "--json").output)) == 1
