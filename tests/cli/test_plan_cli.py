"""`surveil plan --facts` and `surveil schedules check`, run through the real click group."""

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from surveil.cli import _register, cli

FACTS: dict[str, Any] = {
    "patient": {"id": "P1", "birth_date": "1960-01-15"},
    "tumour": {
        "site": "pancreas",
        "differentiation": "well",
        "ki67": 1.0,
        "size_mm": 14,
        "functional": "none",
        "sstr": "positive",
        "diagnosed_on": "2025-01-10",
    },
    "state": {"kind": "active_surveillance", "since": "2025-01-10"},
    "measurements": [{"lesion": "head", "date": "2025-03-02", "mm": 14, "modality": "mri"}],
    "markers": [],
    "therapies": [],
    "symptoms": [],
    "completed": [{"kind": "mri", "date": "2025-03-02"}],
}


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    _register()
    monkeypatch.delenv("SURVEIL_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # no ./surveil.toml: default settings
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return invoke


def write(tmp_path: Path, facts: Any) -> str:
    path = tmp_path / "facts.json"
    path.write_text(json.dumps(facts), encoding="utf-8")
    return str(path)


def test_plan_json_is_the_contract(run: Any, tmp_path: Path) -> None:
    result = run("plan", "--facts", write(tmp_path, FACTS), "--today", "2025-12-01", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["profile"] == "default" and out["pack"]["id"] == "net-default"
    mri = next(i for i in out["items"] if i["kind"] == "mri")
    assert (mri["earliest"], mri["latest"], mri["status"]) == ("2025-09-02", "2026-03-02", "due")
    assert mri["anchor"] == {"event": "last MRI", "date": "2025-03-02"}
    assert out["triggers"] == []


def test_plan_profile_option(run: Any, tmp_path: Path) -> None:
    facts = {**FACTS, "state": {"kind": "resected", "since": "2025-01-10", "resection": "R0"}}
    path = write(tmp_path, facts)
    default = json.loads(run("plan", "--facts", path, "--today", "2025-04-01", "--json").output)
    esmo = json.loads(
        run(
            "plan", "--facts", path, "--today", "2025-04-01", "--json", "--profile", "esmo-2020"
        ).output
    )
    assert esmo["profile"] == "esmo-2020"
    assert "sstr_pet" in {i["kind"] for i in default["items"]}
    assert "sstr_pet" not in {i["kind"] for i in esmo["items"]}


def test_plan_table_shows_status_and_reason(run: Any, tmp_path: Path) -> None:
    result = run("plan", "--facts", write(tmp_path, FACTS), "--today", "2026-04-01")
    assert result.exit_code == 0
    assert "overdue" in result.output and "pnet-small-surveillance" in result.output


def test_invalid_facts_name_every_field_and_exit_2(run: Any, tmp_path: Path) -> None:
    bad = json.loads(json.dumps(FACTS))
    bad["tumour"]["site"] = "liver"
    bad["tumour"]["ki67"] = 150
    bad["completed"][0]["kind"] = "xray"
    bad["state"]["since"] = "2025-02-30"
    bad["measurements"][0]["date"] = "2026-01-01"
    result = run("plan", "--facts", write(tmp_path, bad), "--today", "2025-12-01")
    assert result.exit_code == 2
    for field in (
        "tumour.site",
        "tumour.ki67",
        "completed[0].kind",
        "state.since",
        "measurements[0].date",
    ):
        assert field in result.output
    assert "5 problem(s)" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--today", "2025-13-01"), "--today"),
        (("--today", "2025-12-01", "--profile", "nccn"), "is not a known profile"),
    ],
)
def test_bad_options_exit_2(run: Any, tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    result = run("plan", "--facts", write(tmp_path, FACTS), *args)
    assert result.exit_code == 2 and message in result.output


def test_unreadable_facts_file(run: Any, tmp_path: Path) -> None:
    path = tmp_path / "facts.json"
    path.write_text("{not json", encoding="utf-8")
    result = run("plan", "--facts", str(path), "--today", "2025-12-01")
    assert result.exit_code == 2 and "not valid JSON" in result.output


def test_schedules_check_passes_on_the_shipped_packs(run: Any) -> None:
    result = run("schedules", "check")
    assert result.exit_code == 0 and "no problems" in result.output


def test_schedules_check_reports_every_problem_with_its_place(run: Any, tmp_path: Path) -> None:
    folder = tmp_path / "packs"
    folder.mkdir()
    (folder / "bad.toml").write_text(
        'id = "x"\nversion = "1"\ntitle = "X"\ncolour = 1\n[sources]\n[profiles]\n',
        encoding="utf-8",
    )
    result = run("schedules", "check", "--dir", str(folder))
    assert result.exit_code == 2
    assert "bad.toml: colour: unknown key" in result.output
    assert "bad.toml: profiles: needs at least one profile" in result.output
