"""One way in, from the command line, for the clinical record: every command that changes or shows
a patient, run for real (click's runner on both backends), leaves exactly its audit rows, by the
user it acts as (``--as`` / SURVEIL_USER), on channel ``cli``, with the OS account recorded;
surveil's own consequences (a trigger, the state change it causes) as ``system`` on that channel.
A command without a user, or with bad input, leaves no row at all."""

import getpass
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select

from surveil.db import models as m
from surveil.db.engine import make_engine
from tests.cli.conftest import CLI_USER, SMALL_PNET, Invoke, add_cli_user
from tests.cli.test_plan_cli import FACTS

# Every command path of this area that reads or writes a patient's record, all walked below.
SHELL_COVERED: frozenset[str] = frozenset(
    {
        "patient add",
        "patient update",
        "patient show",
        "patient list",
        "state set",
        "measurement add",
        "marker add",
        "pathology add",
        "therapy add",
        "symptom add",
        "override add",
        "override list",
        "override end",
        "triggers list",
        "triggers ack",
        "triggers resolve",
        "plan",
        "replan",
    }
)
NOT_AUDITED: dict[str, str] = {
    "plan --facts": "a what-if from a facts file: reads no patient and writes nothing",
}

Row = tuple[str, str, str | None, int | None]  # action, actor, os_user, patient


class Audit:
    """The audit rows each command adds, read back after it has run."""

    def __init__(self, db_url: str) -> None:
        self.engine = make_engine(db_url)
        self.seen = 0

    def new(self) -> list[m.AuditEvent]:
        with Session(self.engine) as session:
            rows = list(
                session.exec(
                    select(m.AuditEvent)
                    .where(col(m.AuditEvent.id) > self.seen)
                    .order_by(col(m.AuditEvent.id))
                ).all()
            )
        if rows:
            self.seen = rows[-1].id or self.seen
        return rows

    def patient_id(self, mrn: str) -> int:
        with Session(self.engine) as session:
            found = session.exec(select(m.Patient.id).where(m.Patient.mrn == mrn)).one()
        assert found is not None
        return found


@pytest.fixture
def audit(
    db_url: str,
    cli_user: str,  # noqa: ARG001 - the acting user exists before the watcher starts
) -> Iterator[Audit]:
    watcher = Audit(db_url)
    yield watcher
    watcher.engine.dispose()


def nurse(action: str, patient: int | None) -> Row:
    return (action, CLI_USER, getpass.getuser(), patient)


def system(action: str, patient: int) -> Row:
    return (action, "system", None, patient)


def run(invoke: Invoke, audit: Audit, *args: str, expect: list[Row]) -> str:
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    rows = audit.new()
    shown = [(r.action, r.actor, r.os_user, r.patient_id) for r in rows]
    if args[:2] == ("patient", "add"):  # the new patient's id is only known now
        expect = [(*row[:3], audit.patient_id("100")) for row in expect]
    assert shown == expect, args
    assert {r.channel for r in rows} <= {"cli"}
    return result.output


def enrol(invoke: Invoke, audit: Audit) -> int:
    """``patient add`` for MRN 100; its one audit row names the new patient."""
    run(invoke, audit, "patient", "add", *SMALL_PNET, expect=[nurse("patient.enrolled", None)])
    return audit.patient_id("100")


def refused(invoke: Invoke, audit: Audit, *args: str) -> str:
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert audit.new() == []
    return result.output


def test_every_clinical_record_command_leaves_its_audit_rows(
    surveil_cli: Invoke, audit: Audit, tmp_path: Path
) -> None:
    cli = surveil_cli
    pid = enrol(cli, audit)
    run(
        cli, audit, "patient", "update", "100", "--email", "ada@example.org", "--size-mm", "13",
        expect=[nurse("patient.updated", pid), nurse("tumour.updated", pid)],
    )  # fmt: skip
    run(cli, audit, "patient", "show", "100", "--json", expect=[nurse("patient.viewed", pid)])
    run(cli, audit, "patient", "list", "--json", expect=[nurse("patients.viewed", None)])
    run(
        cli, audit, "state", "set", "100", "--kind", "active_surveillance", "--since",
        "2025-04-01", "--reason", "seen in clinic",
        expect=[nurse("state.set", pid)],
    )  # fmt: skip
    run(
        cli, audit, "symptom", "add", "100", "--date", "2025-06-01", "--description", "flushing",
        expect=[nurse("symptom.recorded", pid), system("trigger.fired", pid)],
    )  # fmt: skip
    run(
        cli, audit, "measurement", "add", "100", "--lesion", "L1", "--date", "2025-03-02",
        "--mm", "12",
        expect=[nurse("measurement.recorded", pid)],
    )  # fmt: skip
    run(
        cli, audit, "measurement", "add", "100", "--lesion", "L1", "--date", "2025-11-20",
        "--mm", "18",
        expect=[
            nurse("measurement.recorded", pid),
            system("trigger.fired", pid),  # leaving surveillance is only proposed
        ],
    )  # fmt: skip
    run(
        cli, audit, "marker", "add", "100", "--name", "cga", "--value", "50", "--uln", "100",
        "--date", "2025-12-01",
        expect=[nurse("marker.recorded", pid)],
    )  # fmt: skip
    run(
        cli, audit, "pathology", "add", "100", "--date", "2025-12-02", "--ki67", "2",
        expect=[nurse("pathology.recorded", pid)],
    )  # fmt: skip
    run(
        cli, audit, "therapy", "add", "100", "--kind", "surgery", "--started-on", "2026-01-05",
        expect=[nurse("therapy.recorded", pid)],
    )  # fmt: skip
    run(
        cli, audit, "override", "add", "100", "--kind", "cga", "--every", "3",
        "--reason", "anxious", "--author", "dr.okafor",
        expect=[nurse("override.added", pid)],
    )  # fmt: skip
    listed = run(
        cli, audit, "override", "list", "100", "--json", expect=[nurse("overrides.viewed", pid)]
    )
    (override,) = json.loads(listed)
    run(
        cli, audit, "override", "end", "100", str(override["id"]),
        expect=[nurse("override.ended", pid)],
    )  # fmt: skip
    run(cli, audit, "triggers", "list", "--json", expect=[nurse("triggers.viewed", None)])
    shown = run(
        cli, audit, "triggers", "list", "--patient", "100", "--open", "--json",
        expect=[nurse("triggers.viewed", pid)],
    )  # fmt: skip
    first, second = (str(t["id"]) for t in json.loads(shown))
    run(cli, audit, "triggers", "ack", first, expect=[nurse("trigger.acknowledged", pid)])
    # Clinical findings wait for a clinician (tests/cli/test_trigger_decisions_cli.py).
    refused(cli, audit, "triggers", "resolve", second, "--by", CLI_USER, "--outcome", "reviewed")
    run(cli, audit, "plan", "--patient", "100", "--json", expect=[nurse("plan.viewed", pid)])
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps(FACTS), encoding="utf-8")
    run(cli, audit, "plan", "--facts", str(facts), "--today", "2026-03-01", expect=[])
    run(cli, audit, "replan", "--patient", "100", expect=[nurse("plan.replanned", pid)])
    run(cli, audit, "replan", "--all", "--json", expect=[nurse("plan.replanned_all", None)])


def test_without_a_user_or_with_bad_input_nothing_is_written(
    surveil_cli: Invoke, audit: Audit, monkeypatch: pytest.MonkeyPatch
) -> None:
    enrol(surveil_cli, audit)
    before = _counts(audit.engine)
    monkeypatch.delenv("SURVEIL_USER")
    no_user = refused(surveil_cli, audit, "symptom", "add", "100", "--date", "2025-06-01",
                      "--description", "flushing")  # fmt: skip
    assert "--as USER" in no_user
    assert "no active surveil user" in refused(
        surveil_cli, audit, "--as", "ghost", "patient", "show", "100"
    )
    monkeypatch.setenv("SURVEIL_USER", CLI_USER)
    bad = refused(
        surveil_cli, audit, "measurement", "add", "100", "--lesion", "L1", "--date", "2999-01-01",
        "--mm", "0",
    )  # fmt: skip
    assert "date:" in bad and "diameter_mm:" in bad
    refused(surveil_cli, audit, "patient", "update", "100", "--ki67", "101")
    refused(surveil_cli, audit, "override", "end", "100", "99")
    refused(surveil_cli, audit, "replan", "--all", "--chunk", "0")
    assert _counts(audit.engine) == before


def test_a_trigger_is_reviewed_by_the_acting_user_only(
    surveil_cli: Invoke, audit: Audit, db_url: str
) -> None:
    """``--by`` may no longer name someone else: the record and its audit row name the account."""
    pid = enrol(surveil_cli, audit)
    run(
        surveil_cli, audit, "symptom", "add", "100", "--date", "2025-06-01",
        "--description", "flushing",
        expect=[nurse("symptom.recorded", pid), system("trigger.fired", pid)],
    )  # fmt: skip
    (trigger,) = json.loads(surveil_cli("triggers", "list", "--json").output)
    audit.new()
    tid = str(trigger["id"])
    assert "--by:" in refused(surveil_cli, audit, "triggers", "ack", tid, "--by", "dr.okafor")
    add_cli_user(db_url, "dr.okafor", role="clinician")
    run(
        surveil_cli, audit, "--as", "dr.okafor", "triggers", "ack", tid, "--by", "dr.okafor",
        expect=[("trigger.acknowledged", "dr.okafor", getpass.getuser(), pid)],
    )  # fmt: skip
    (trigger,) = json.loads(surveil_cli("triggers", "list", "--json").output)
    assert trigger["acknowledged_by"] == "dr.okafor"


def test_another_clinics_navigator_sees_and_changes_nothing(
    surveil_cli: Invoke, audit: Audit, db_url: str
) -> None:
    enrol(surveil_cli, audit)
    add_cli_user(db_url, "sam", clinic="Northern NET Centre")
    before = _counts(audit.engine)
    for args in (
        ("patient", "show", "100"),
        ("patient", "list"),
        ("plan", "--patient", "100"),
        ("marker", "add", "100", "--name", "cga", "--value", "5", "--date", "2025-06-01"),
        ("patient", "add", "--mrn", "101", "--given", "A", "--family", "B",
         "--birth-date", "1970-01-01"),
    ):  # fmt: skip
        result = surveil_cli("--as", "sam", *args)
        assert result.exit_code == 2, result.output
    assert audit.new() == [] and _counts(audit.engine) == before


def _counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table.name: connection.execute(
                sa.select(sa.func.count()).select_from(table)
            ).scalar_one()
            for table in SQLModel.metadata.sorted_tables
        }
