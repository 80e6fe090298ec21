"""Pack 2027.1's tumour details from the command line (issue #15): entered on ``patient add``
and ``patient update``, shown back, and bad values refused with every field named."""

import json

import pytest

from tests.cli.conftest import Invoke

pytestmark = pytest.mark.usefixtures("cli_user")

TOM = ["--mrn", "200", "--given", "Tom", "--family", "Lung", "--birth-date", "1958-05-02"]
LUNG = ["--site", "lung", "--diagnosed-on", "2026-09-01", "--state", "resected"]
LUNG += ["--since", "2026-10-01", "--resection", "R0"]


def _tumour(invoke: Invoke) -> dict[str, object]:
    shown = json.loads(invoke("patient", "show", "200", "--json").output)
    tumour: dict[str, object] = shown["tumour"]
    return tumour


def test_details_entered_on_add_and_update(surveil_cli: Invoke) -> None:
    added = surveil_cli("patient", "add", *TOM, *LUNG, "--carcinoid-type", "atypical")
    assert added.exit_code == 0, added.output
    assert _tumour(surveil_cli)["carcinoid_type"] == "atypical"
    updated = surveil_cli(
        "patient",
        "update",
        "200",
        "--node-status",
        "N1",
        "--adverse-histology",
        "muscularis,lvi",
        "--gastric-type",
        "type_2",
        "--carcinoid-heart-disease",
        "no",
    )
    assert updated.exit_code == 0, updated.output
    tumour = _tumour(surveil_cli)
    assert tumour["node_status"] == "N1"
    assert tumour["adverse_histology"] == "lvi,muscularis"
    assert tumour["gastric_type"] == "type_2"
    assert tumour["carcinoid_heart_disease"] is False
    assert tumour["carcinoid_type"] == "atypical"  # not given: unchanged
    assert surveil_cli("patient", "update", "200", "--carcinoid-type", "unknown").exit_code == 0
    assert _tumour(surveil_cli)["carcinoid_type"] is None


def test_bad_details_are_all_named_and_nothing_changes(surveil_cli: Invoke) -> None:
    assert surveil_cli("patient", "add", *TOM, *LUNG).exit_code == 0
    result = surveil_cli(
        "patient",
        "update",
        "200",
        "--node-status",
        "N3",
        "--adverse-histology",
        "perineural",
        "--carcinoid-type",
        "spindle",
        "--gastric-type",
        "type_4",
        "--carcinoid-heart-disease",
        "perhaps",
    )
    assert result.exit_code == 2
    for field in (
        "node_status:",
        "adverse_histology:",
        "carcinoid_type:",
        "gastric_type:",
        "carcinoid_heart_disease:",
    ):
        assert field in result.output
    tumour = _tumour(surveil_cli)
    assert (tumour["node_status"], tumour["carcinoid_type"]) == (None, None)


def test_help_shows_the_new_options_with_examples(surveil_cli: Invoke) -> None:
    text = surveil_cli("patient", "update", "--help").output
    assert "--carcinoid-type" in text and "--adverse-histology" in text
    assert "--carcinoid-type atypical --node-status N1" in text
