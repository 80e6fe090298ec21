"""Protocol-change governance (issue 15), through the real command line on both backends:
`surveil schedules diff` shows per rule whose next items move and how, `activate` needs a named
clinician's approval, replans with the reason "protocol 2027.1 activated" and is audited, and
`rollback` restores the version in force before. A refused command writes nothing at all.
"""

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from surveil.config import Settings
from surveil.core.vocab import Channel
from surveil.core.zones import today_in
from surveil.db import models as m
from surveil.db.protocol_models import ProtocolActivation
from surveil.db.session import read_scope
from surveil.services.actor import Actor
from surveil.services.planning.replan import replan_every_patient
from surveil.services.protocols import protocol_in_force
from surveil.services.registry import patients as registry
from surveil.services.registry.patients import PatientInput, TumourInput
from tests.cli.acting import CLINIC, Invoke, add_account

COVERED = frozenset(
    {
        "surveil.services.rollout.diff.diff_protocols",
        "surveil.services.rollout.activation.activate_protocol",
        "surveil.services.rollout.activation.rollback_protocol",
    }
)
SHELL_COVERED = frozenset(
    {"schedules diff", "schedules activate", "schedules rollback", "schedules history"}
)


def clinic_today() -> dt.date:
    """Today in the clinic, as the CLI reads it (asked afresh: a run may cross midnight)."""
    return today_in(Settings().clinic.timezone, dt.datetime.now(dt.UTC))


TODAY = clinic_today()
AGO = TODAY - dt.timedelta(days=150)

# mrn, site, size, state: a rectal NET 1-2 cm and a lung carcinoid move under 2027.1; a small
# pNET on surveillance stays as it was.
PATIENTS = [
    ("R15", "rectum", "15", "resected"),
    ("L1", "lung", "18", "resected"),
    ("P1", "pancreas", "12", "active_surveillance"),
]


@pytest.fixture
def world(engine: sa.Engine, fresh_cli: Invoke) -> Invoke:
    """Three patients planned under the baseline 2026.1, and the people who act."""
    add_account(engine, "ann", role="admin", clinic=CLINIC)
    add_account(engine, "dr.ada", role="clinician", clinic=CLINIC)
    add_account(engine, "dr.far", role="clinician", clinic="Elsewhere")
    add_account(engine, "nina", role="navigator", clinic=CLINIC)
    with Session(engine, expire_on_commit=False) as session:
        for mrn, site, size, state in PATIENTS:
            registry.enrol_patient(
                session,
                clinic=CLINIC,
                data=PatientInput(
                    mrn=mrn, given_name="Ada", family_name="Lovelace", birth_date="1962-03-14"
                ),
                tumour=TumourInput(site=site, ki67="1", size_mm=size, diagnosed_on=AGO.isoformat()),
                state_kind=state,
                since=AGO.isoformat(),
                resection="R0" if state == "resected" else None,
                today=TODAY,
            )
        session.commit()
    replan_every_patient(
        engine,
        actor=Actor.system(channel=Channel.CLI),
        settings=_with_url(engine),
        today=TODAY,
    )
    return fresh_cli


def _with_url(engine: sa.Engine) -> Settings:
    from surveil.config import DatabaseSettings

    url = engine.url.render_as_string(hide_password=False)
    return Settings(database=DatabaseSettings(url=url))


def snapshot(engine: sa.Engine) -> dict[str, int]:
    with read_scope(engine) as session:
        return {
            "activations": session.exec(select(func.count()).select_from(ProtocolActivation)).one(),
            "audit": session.exec(select(func.count()).select_from(m.AuditEvent)).one(),
            "items": session.exec(select(func.count()).select_from(m.FollowUpItem)).one(),
        }


def audit_rows(engine: sa.Engine, action: str) -> list[m.AuditEvent]:
    with Session(engine) as session:  # closing (not rolling back) keeps the rows loaded
        query = select(m.AuditEvent).where(m.AuditEvent.action == action)
        return list(session.exec(query.order_by(col(m.AuditEvent.id))).all())


def open_versions(engine: sa.Engine) -> dict[str, set[str]]:
    """Each patient's open planned items: the pack versions they came from."""
    with read_scope(engine) as session:
        rows = session.exec(
            select(m.Patient.mrn, m.FollowUpItem.pack_version)
            .join(m.FollowUpItem, col(m.FollowUpItem.patient_id) == m.Patient.id)
            .where(m.FollowUpItem.state == "planned", col(m.FollowUpItem.rule_id).is_not(None))
        ).all()
    out: dict[str, set[str]] = {}
    for mrn, version in rows:
        out.setdefault(mrn, set()).add(version)
    return out


def test_diff_reports_per_rule_who_moves_and_how(
    world: Invoke, engine: sa.Engine, tmp_path: Path
) -> None:
    before = snapshot(engine)
    path = tmp_path / "diff.csv"
    args = ("--as", "dr.ada", "schedules", "diff", "--from", "2026.1", "--to", "2027.1")
    result = world(*args, "--csv", str(path), "--json")
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = json.loads(result.output)
    assert out["from"] == "net-default 2026.1 default" and out["to"] == "net-default 2027.1 default"
    assert (out["patients"], out["changed_patients"]) == (3, 2)
    rules = out["rules"]
    assert rules["rectal-1-2cm"]["patients"] == ["R15"]
    assert rules["rectal-1-2cm"]["changes"]["new"] == 2  # endoscopy and rectal MRI/EUS
    # Both lose the generic CT/MRI and its CgA.
    assert rules["net-g1g2-resected"]["changes"] == {"gone": 4}
    assert rules["lung-type-unknown"]["patients"] == ["L1"]
    assert "pnet-small-surveillance" not in rules
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {(r["mrn"], r["item"], r["change"]) for r in rows} >= {
        ("R15", "endoscopy", "new"),
        ("R15", "mri:rectum", "new"),
        ("R15", "ct_or_mri", "gone"),
        ("L1", "ct_or_mri:chest", "new"),
    }
    # Nothing changed but one audit event for the run (it read every patient's record).
    after = snapshot(engine)
    assert after == {**before, "audit": before["audit"] + 1}
    [event] = audit_rows(engine, "protocol.diffed")
    assert event.actor == "dr.ada" and event.channel == "cli" and "2 of 3" in event.detail


def test_the_diff_of_a_profile_and_the_progress_bar(world: Invoke) -> None:
    args = ("--as", "dr.ada", "schedules", "diff", "--from", "2027.1", "--to", "2027.1")
    result = world(*args, "--profile", "nccn-2025", "--from-profile", "default")
    assert result.exit_code == 0, result.output
    assert "net-default 2027.1 default → net-default 2027.1 nccn-2025" in result.output
    assert "comparing" in result.output and "3/3" in result.output


@pytest.mark.parametrize(
    ("who", "approver", "extra", "message"),
    [
        ("ann", "nina", (), "--approved-by: nina is a navigator: a clinician must approve"),
        ("ann", "dr.far", (), "--approved-by: dr.far works for Elsewhere"),
        ("ann", "nobody", (), "--approved-by: 'nobody' is not an active user"),
        ("nina", "dr.ada", (), "--as: nina is a navigator"),
        ("ann", "dr.ada", ("--on", "2020-01-01"), "--on: 2020-01-01 is in the past"),
        ("ann", "dr.ada", ("--profile", "nccn"), "'nccn' is not a profile of net-default 2027.1"),
    ],
)
def test_a_refused_activation_writes_nothing(
    world: Invoke, engine: sa.Engine, who: str, approver: str, extra: tuple[str, ...], message: str
) -> None:
    before = snapshot(engine)
    result = world(
        "--as", who, "schedules", "activate", "2027.1", "--approved-by", approver, *extra
    )
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert snapshot(engine) == before


def test_activate_replans_audits_and_rolls_back(world: Invoke, engine: sa.Engine) -> None:
    settings = _with_url(engine)
    assert open_versions(engine) == {"R15": {"2026.1"}, "L1": {"2026.1"}, "P1": {"2026.1"}}
    result = world(
        "--as", "ann", "schedules", "activate", "2027.1", "--approved-by", "dr.ada", "--json"
    )
    assert result.exit_code == 0, result.output
    done = json.loads(result.output)
    assert (done["version"], done["profile"], done["approved_by"]) == (
        "2027.1",
        "default",
        "dr.ada",
    )
    assert done["previous"] == {"version": "2026.1", "profile": "default"}
    # Every stored item now names 2027.1 (P1's dates are the same: its items change provenance).
    assert done["replanned"] == {"patients": 3, "changed": 3}
    assert open_versions(engine) == {"R15": {"2027.1"}, "L1": {"2027.1"}, "P1": {"2027.1"}}
    [activated] = audit_rows(engine, "protocol.activated")
    assert activated.actor == "ann" and "approved by dr.ada" in activated.detail
    replanned = [e for e in audit_rows(engine, "plan.replanned") if "2027.1 activated" in e.detail]
    assert len(replanned) == 3 and all(e.patient_id for e in replanned)
    [run] = [e for e in audit_rows(engine, "plan.replanned_all") if "2027.1" in e.detail]
    assert run.detail.startswith("protocol 2027.1 activated: 3 patient(s), 3 changed")
    with Session(engine) as session:
        effective = dt.date.fromisoformat(done["effective_on"])
        pack, profile = protocol_in_force(session, settings, effective)
    assert (pack.version, profile.name) == ("2027.1", "default")

    # A stored patient's plan is shown under the protocol in force.
    shown = json.loads(world("--as", "nina", "plan", "--patient", "R15", "--json").output)
    assert shown["pack"] == {"id": "net-default", "version": "2027.1"}
    assert {i["rule"] for i in shown["items"]} == {"rectal-1-2cm"}

    # Already in force: refused, nothing written.
    before = snapshot(engine)
    again = world("--as", "ann", "schedules", "activate", "2027.1", "--approved-by", "dr.ada")
    assert again.exit_code == 2 and "2027.1 default is already in force" in again.output
    assert snapshot(engine) == before

    back = world("--as", "dr.ada", "schedules", "rollback", "--approved-by", "dr.ada")
    assert back.exit_code == 0, back.output
    assert "net-default 2026.1 default restored" in back.output
    assert open_versions(engine)["R15"] == {"2026.1"}
    [rolled] = audit_rows(engine, "protocol.rolled_back")
    assert "2027.1 default -> 2026.1 default" in rolled.detail

    history = json.loads(world("schedules", "history", "--json").output)
    assert [(h["action"], h["version"], h["approved_by"]) for h in history] == [
        ("activate", "2027.1", "dr.ada"),
        ("rollback", "2026.1", "dr.ada"),
    ]
    # Both in force the day they were made: applied at once by whoever ran the command.
    assert history[0]["status"].startswith("applied ") and history[0]["status"].endswith("by ann")
    assert history[1]["status"].endswith("by dr.ada")


def test_an_activation_dated_later_changes_nothing_today(world: Invoke, engine: sa.Engine) -> None:
    today = clinic_today()
    later = (today + dt.timedelta(days=30)).isoformat()
    result = world(
        "--as", "ann", "schedules", "activate", "2027.1", "--profile", "nccn-2025",
        "--approved-by", "dr.ada", "--on", later,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Takes effect later" in result.output
    assert open_versions(engine)["R15"] == {"2026.1"}
    settings = _with_url(engine)
    with Session(engine) as session:
        assert protocol_in_force(session, settings, today)[0].version == "2026.1"
        later_day = today + dt.timedelta(days=30)
        pack, profile = protocol_in_force(session, settings, later_day)
    assert (pack.version, profile.name) == ("2027.1", "nccn-2025")
    # Pending until the daemon applies it on that day (tests/daemon/test_protocol_applied.py).
    [row] = json.loads(world("schedules", "history", "--json").output)
    assert (row["effective_on"], row["status"]) == (later, "pending")
    assert "pending" in world("schedules", "history").output


def test_nothing_to_roll_back_is_said(world: Invoke, engine: sa.Engine) -> None:
    before = snapshot(engine)
    result = world("--as", "ann", "schedules", "rollback", "--approved-by", "dr.ada")
    assert result.exit_code == 2
    assert (
        "nothing to roll back: the baseline 2026.1 default has always been in force"
        in result.output
    )
    assert snapshot(engine) == before


def test_plan_of_a_stored_patient_under_another_version_is_a_what_if(
    world: Invoke, engine: sa.Engine
) -> None:
    """`surveil plan --patient R15 --pack-version 2027.1` plans R15's record under 2027.1 (not the
    stored 2026.1 items under a 2027.1 heading), says it is a what-if, and changes nothing."""
    before = snapshot(engine)
    args = ("--as", "nina", "plan", "--patient", "R15")
    stored = json.loads(world(*args, "--json").output)
    assert stored["pack"]["version"] == "2026.1" and stored["what_if"] is False
    assert {i["rule"] for i in stored["items"]} == {"net-g1g2-resected"}

    out = json.loads(world(*args, "--pack-version", "2027.1", "--json").output)
    assert out["pack"] == {"id": "net-default", "version": "2027.1"}
    assert out["what_if"] is True and out["stored_under"] == "net-default 2026.1 default"
    assert {i["rule"] for i in out["items"]} == {"rectal-1-2cm"}

    text = world(*args, "--pack-version", "2027.1")
    assert text.exit_code == 0, text.output
    assert "What-if: planned under net-default 2027.1 default" in text.output
    assert "the stored plan is under net-default 2026.1 default" in text.output
    assert "pack net-default 2027.1" in text.output

    # A read: the stored items are as they were; each view is audited, the what-if named.
    assert open_versions(engine)["R15"] == {"2026.1"}
    assert snapshot(engine) == {**before, "audit": before["audit"] + 3}
    viewed = audit_rows(engine, "plan.viewed")
    assert viewed[-1].detail.startswith("what-if plan as of")
    assert "net-default 2027.1:default" in viewed[-1].detail


def test_the_diff_table_keeps_its_counts_whole_on_a_narrow_terminal(
    world: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    result = world("--as", "dr.ada", "schedules", "diff", "--from", "2026.1", "--to", "2027.1")
    assert result.exit_code == 0, result.output
    assert "…" not in result.output  # no count or rule cut short
    assert "rect" in result.output  # the rule id folds over lines instead
