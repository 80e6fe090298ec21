"""`surveil plan --facts` after issue 15: non-numbers and huge numbers are field errors (exit 2,
no traceback), a death after --today is refused, --pack-version plans under 2027.1."""

import json
from pathlib import Path
from typing import Any

from tests.cli.test_plan_cli import FACTS, run, write

__all__ = ["run"]


def test_nan_and_huge_numbers_are_field_errors(run: Any, tmp_path: Path) -> None:
    text = (
        json.dumps(FACTS)
        .replace('"ki67": 1.0', '"ki67": NaN')
        .replace('"size_mm": 14', '"size_mm": ' + "9" * 5000)
    )
    path = tmp_path / "facts.json"
    path.write_text(text, encoding="utf-8")
    result = run("plan", "--facts", str(path), "--today", "2026-06-01")
    assert result.exit_code == 2
    assert "tumour.ki67: nan is not a finite number" in result.output
    assert "tumour.size_mm: inf is not a finite number" in result.output


def test_a_death_after_today_is_refused(run: Any, tmp_path: Path) -> None:
    facts = {**FACTS, "patient": {**FACTS["patient"], "deceased_on": "2026-07-01"}}
    result = run("plan", "--facts", write(tmp_path, facts), "--today", "2026-06-01")
    assert result.exit_code == 2
    assert "patient.deceased_on: 2026-07-01 is after today (2026-06-01)" in result.output
    assert "contact the patient" not in result.output


def test_plan_under_2027_with_its_new_profile(run: Any, tmp_path: Path) -> None:
    facts = {**FACTS, "tumour": {**FACTS["tumour"], "site": "lung", "carcinoid_type": "typical"}}
    facts["state"] = {"kind": "resected", "since": "2026-01-15", "resection": "R0"}
    args = ("plan", "--facts", write(tmp_path, facts), "--today", "2026-06-01", "--json")
    out = json.loads(run(*args, "--pack-version", "2027.1", "--profile", "nccn-2025").output)
    assert out["pack"] == {"id": "net-default", "version": "2027.1"}
    assert out["profile"] == "nccn-2025"
    assert ("ct_or_mri", "chest", "lung-typical") in [
        (i["kind"], i["region"], i["rule"]) for i in out["items"]
    ]
    unknown = run(*args, "--pack-version", "1999.9")
    assert unknown.exit_code == 2 and "'1999.9' is not a shipped pack version" in unknown.output


def test_the_end_of_the_programme_is_shown(run: Any, tmp_path: Path) -> None:
    facts = {**FACTS, "state": {"kind": "resected", "since": "2015-03-01", "resection": "R0"}}
    facts["completed"] = [{"kind": "ct", "date": "2024-12-01"}]
    facts["tumour"] = {**FACTS["tumour"], "sstr": "unknown"}
    facts["measurements"] = []
    result = run("plan", "--facts", write(tmp_path, facts), "--today", "2026-06-01")
    assert result.exit_code == 0, result.output
    assert "Programme complete: resected NET G1/G2 (net-g1g2-resected)" in result.output
