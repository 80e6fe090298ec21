"""``surveil item decline`` and ``surveil item not-needed`` for real (both backends): the clinic's
own ``[reasons]`` lists reach the command line as they reach the web: a code of the clinic's
list is kept with the item and its audit row, a code only the built-in list has is refused
naming the field (exit 2, nothing written)."""

import dataclasses
import json

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from surveil.config import DatabaseSettings, Settings
from surveil.db import models as m
from surveil.services.records import actions
from tests.cli.acting import CLINIC
from tests.cli.conftest import Invoke
from tests.cli.test_item_cli import audit_since, last_id, world
from tests.services.item_life import NINA, TODAY, Seed

SHELL_COVERED: frozenset[str] = frozenset({"item decline", "item not-needed"})
NOT_AUDITED: dict[str, str] = {}
NURSE = dataclasses.replace(NINA, clinic=CLINIC)  # nina of the configured clinic
__all__ = ["world"]  # the fixture, shared with the item commands' tests


def _coded(engine: sa.Engine, item_id: int) -> tuple[str, str]:
    with Session(engine) as session:
        row = session.exec(
            select(m.CodedReason).where(m.CodedReason.subject == f"item:{item_id}")
        ).one()
        return row.code, row.note


@pytest.mark.parametrize(
    ("command", "kind", "state", "action"),
    [
        ("decline", "DECLINED", "declined", "item.declined"),
        ("not-needed", "NOT_NEEDED", "not_needed", "item.not_needed"),
    ],
)
def test_the_clinics_reason_list_reaches_the_command_line(
    surveil_cli: Invoke,
    world: tuple[sa.Engine, Seed],
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    kind: str,
    state: str,
    action: str,
) -> None:
    engine, seed = world
    monkeypatch.setenv(f"SURVEIL_REASONS_{kind}", "seen_at_gp, other")
    args = ("--as", "nina", "item", command, str(seed.mri))
    seen = last_id(engine)
    for code in ("patient_choice", "clinician_decision"):  # the built-in lists' codes
        refused = surveil_cli(*args, "--reason-code", code, "--reason", "x")
        assert refused.exit_code == 2, refused.output
        assert "reason_code" in refused.output and "seen_at_gp" in refused.output
    assert audit_since(engine, seen) == []

    done = surveil_cli(*args, "--reason-code", "seen_at_gp", "--reason", "GP did it")
    assert done.exit_code == 0, done.output
    assert audit_since(engine, seen) == [(action, "nina", "cli", "os")]
    assert _coded(engine, seed.mri) == ("seen_at_gp", "GP did it")
    with Session(engine) as session:
        assert session.get_one(m.FollowUpItem, seed.mri).state == state
    assert "Example:" in surveil_cli("item", command, "--help").output


def test_the_snoozed_view_on_the_command_line(
    surveil_cli: Invoke, world: tuple[sa.Engine, Seed], db_url: str
) -> None:
    engine, seed = world
    actions.snooze(
        engine, item_id=seed.mri, actor=NURSE, until="2026-12-20", reason="on holiday",
        reason_code="patient_away", settings=Settings(database=DatabaseSettings(url=db_url)),
        today=TODAY,
    )  # fmt: skip
    assert "--section snoozed" in surveil_cli("worklist", "--help").output
    args = ("--as", "nina", "worklist", "--date", TODAY.isoformat(), "--json")
    shown = surveil_cli(*args, "--section", "snoozed")
    assert shown.exit_code == 0, shown.output
    (section,) = json.loads(shown.output)["sections"]
    (row,) = section["rows"]
    assert (section["key"], row["item_id"]) == ("snoozed", seed.mri)
    assert row["detail"].startswith("reason patient_away: on holiday")
    overview = json.loads(surveil_cli(*args).output)["sections"]
    assert seed.mri not in [r["item_id"] for s in overview for r in s["rows"]]
