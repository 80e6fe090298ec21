"""``surveil export fhir`` on SQLite and PostgreSQL: Bulk Data style ndjson that parses back
into valid R4, one patient or a whole clinic (never another clinic's), audited once, and
refused cleanly when asked wrongly."""

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from surveil.db import models as m
from surveil.db.engine import make_engine
from tests.cli.conftest import SMALL_PNET, Invoke
from tests.fhir_checks import check_references, validate_resource

TYPES = ("Patient", "Condition", "CarePlan", "ServiceRequest", "Task", "Observation")
CLINIC = "Neuroendocrine Tumour Clinic"  # clinic.name by default: where `patient add` enrols


@pytest.fixture
def clinic(surveil_cli: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """Nina works at the default clinic; it has patients 100 (growing, with a CgA) and 101;
    patient 900 is at another clinic."""
    secret = tmp_path / "password"
    secret.write_text("a long enough passphrase\n", encoding="utf-8")
    for name, role in (("root", "admin"), ("nina", "navigator")):
        added = surveil_cli("user", "add", name, "--role", role, "--password-file", str(secret))
        assert added.exit_code == 0, added.output
        # The first administrator needs no --as; then she adds nina and enrols in both clinics.
        monkeypatch.setenv("SURVEIL_USER", "root")
    for mrn in ("100", "101"):
        assert surveil_cli("patient", "add", *_with_mrn(mrn), "--navigator", "nina").exit_code == 0
    for day, mm in [("2025-03-10", "12"), ("2026-03-10", "18")]:
        args = ["100", "--lesion", "L1", "--date", day, "--mm", mm, "--modality", "mri"]
        assert surveil_cli("measurement", "add", *args).exit_code == 0
    marker = ["100", "--name", "cga", "--value", "240", "--unit", "ug/L", "--date", "2026-03-02"]
    assert surveil_cli("marker", "add", *marker).exit_code == 0
    monkeypatch.setenv("SURVEIL_CLINIC_NAME", "South Clinic")
    assert surveil_cli("patient", "add", *_with_mrn("900")).exit_code == 0
    monkeypatch.delenv("SURVEIL_CLINIC_NAME")
    monkeypatch.delenv("SURVEIL_USER")
    return surveil_cli


def _with_mrn(mrn: str) -> list[str]:
    args = list(SMALL_PNET)
    args[args.index("--mrn") + 1] = mrn
    return args


def read_export(folder: Path) -> dict[str, list[dict[str, Any]]]:
    """Every line of every file, parsed and validated; the six files are all there, private."""
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{t}.ndjson" for t in TYPES)
    out: dict[str, list[dict[str, Any]]] = {}
    for kind in TYPES:
        path = folder / f"{kind}.ndjson"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        out[kind] = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        for resource in out[kind]:
            assert resource["resourceType"] == kind
            validate_resource(resource)
    check_references([r for resources in out.values() for r in resources])
    return out


def export_events(db_url: str) -> list[m.AuditEvent]:
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            query = select(m.AuditEvent).where(m.AuditEvent.action == "patient.exported.fhir")
            return list(session.exec(query))
    finally:
        engine.dispose()


def test_one_patient_as_valid_ndjson_audited_once(
    clinic: Invoke, tmp_path: Path, db_url: str
) -> None:
    out = tmp_path / "export"
    result = clinic(
        "--as", "nina", "export", "fhir", "--patient", "100", "--out", str(out), "--json"
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    exported = read_export(out)
    assert summary["patients"] == 1
    assert summary["resources"] == {kind: len(exported[kind]) for kind in TYPES}
    assert [p["identifier"][0]["value"] for p in exported["Patient"]] == ["100"]
    assert len(exported["ServiceRequest"]) == len(exported["Task"]) >= 1
    codes = {c["code"] for o in exported["Observation"] for c in o["code"]["coding"]}
    assert {"9811-1", "33728-7", "growth-rate"} <= codes
    [event] = export_events(db_url)
    assert (event.actor, event.channel, event.subject) == (
        "nina",
        "cli",
        f"Patient/{event.patient_id}",
    )
    assert event.os_user  # the operating-system account behind --as
    assert json.loads(event.after or "{}")["patients"] == 1


def test_all_is_every_patient_of_her_clinic_and_replaces_an_earlier_export(
    clinic: Invoke, tmp_path: Path, db_url: str
) -> None:
    out = tmp_path / "export"
    result = clinic("--as", "nina", "export", "fhir", "--all", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "exported 2 patient(s)" in result.output
    exported = read_export(out)
    assert sorted(p["identifier"][0]["value"] for p in exported["Patient"]) == ["100", "101"]
    assert {p["identifier"][0]["assigner"]["display"] for p in exported["Patient"]} == {CLINIC}
    [event] = export_events(db_url)
    assert (event.patient_id, event.subject) == (None, "all patients")
    assert json.loads(event.after or "{}")["patients"] == 2
    again = clinic("--as", "nina", "export", "fhir", "--patient", "101", "--out", str(out))
    assert again.exit_code == 0, again.output
    exported = read_export(out)
    assert [p["identifier"][0]["value"] for p in exported["Patient"]] == ["101"]
    assert exported["Observation"] == []  # 100's results went with the earlier files
    assert len(export_events(db_url)) == 2


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--as", "nina", "export", "fhir"], "either --patient MRN or --all"),
        (["--as", "nina", "export", "fhir", "--all", "--patient", "100"], "either --patient"),
        (["export", "fhir", "--all"], "--as USER"),
        (["--as", "ghost", "export", "fhir", "--all"], "no active surveil user"),
        (["--as", "nina", "export", "fhir", "--patient", "900"], "no patient with MRN '900'"),
    ],
)
def test_a_wrong_request_exports_nothing(
    clinic: Invoke,
    tmp_path: Path,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    says: str,
) -> None:
    monkeypatch.delenv("SURVEIL_USER", raising=False)
    out = tmp_path / "export"
    result = clinic(*args, "--out", str(out))
    assert result.exit_code == 2
    assert says in result.output
    assert not out.exists() or list(out.iterdir()) == []
    assert export_events(db_url) == []


def test_a_folder_that_cannot_be_made_is_a_clear_error(
    clinic: Invoke, tmp_path: Path, db_url: str
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    out = blocker / "export"
    result = clinic("--as", "nina", "export", "fhir", "--all", "--out", str(out))
    assert result.exit_code == 1
    assert f"cannot write to {out}" in result.output
    assert export_events(db_url) == []


# The one-way-in register (tests/test_one_way_in.py): the command's audit row is asserted above.
SHELL_COVERED = frozenset({"export fhir"})
