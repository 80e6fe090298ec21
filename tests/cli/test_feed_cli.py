"""``surveil feed ...`` against a real database: URLs printed once, tokens never listed."""

import json
import re

import pytest

from tests.cli.conftest import Invoke

# `patient add` acts as a surveil user (SURVEIL_USER, see tests/cli/conftest.py).
pytestmark = pytest.mark.usefixtures("cli_user")

ADA = ["--mrn", "100", "--given", "Ada", "--family", "Lovelace", "--birth-date", "1962-03-14"]
URL = re.compile(r"(webcal|https?)://\S+/feeds/([A-Za-z0-9_-]{43})\.ics")


def test_issue_list_rotate_revoke(nina_cli: Invoke) -> None:
    surveil_cli = nina_cli  # every command acts as the navigator nina (--as nina)
    assert surveil_cli("patient", "add", *ADA).exit_code == 0
    issued = surveil_cli("feed", "issue", "100", "--label", "iPhone", "--no-qr")
    assert issued.exit_code == 0, issued.output
    tokens = {match[1] for match in URL.findall(issued.output)}
    schemes = {match[0] for match in URL.findall(issued.output)}
    assert len(tokens) == 1 and schemes == {"webcal", "http"}  # the test base_url is http
    token = tokens.pop()

    listed = surveil_cli("feed", "list", "100", "--json")
    rows = json.loads(listed.output)
    assert [(r["label"], r["created_by"], r["active"]) for r in rows] == [("iPhone", "nina", True)]
    assert token not in listed.output and token not in surveil_cli("feed", "list", "100").output

    rotated = surveil_cli("feed", "rotate", rows[0]["id"], "--no-qr")
    assert rotated.exit_code == 0, rotated.output
    new_token = URL.findall(rotated.output)[0][1]
    assert new_token != token
    rows = json.loads(surveil_cli("feed", "list", "100", "--json").output)
    assert [r["active"] for r in rows] == [True, False]  # active first

    assert surveil_cli("feed", "revoke", rows[0]["id"]).exit_code == 0
    rows = json.loads(surveil_cli("feed", "list", "100", "--json").output)
    assert not any(r["active"] for r in rows)


def test_clear_errors_for_unknown_patient_and_feed(nina_cli: Invoke) -> None:
    surveil_cli = nina_cli
    unknown = surveil_cli("feed", "issue", "nobody")
    assert unknown.exit_code == 2 and "no patient with MRN 'nobody'" in unknown.output
    assert surveil_cli("patient", "add", *ADA).exit_code == 0
    missing = surveil_cli("feed", "revoke", "0123456789abcdef")
    assert missing.exit_code == 2 and "no calendar feed" in missing.output
    long_label = surveil_cli("feed", "issue", "100", "--label", "x" * 65)
    assert long_label.exit_code == 2 and "label" in long_label.output
    assert json.loads(surveil_cli("feed", "list", "100", "--json").output) == []
