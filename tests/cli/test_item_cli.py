"""``surveil item ...`` and ``surveil report reasons``, run for real (click's runner on both
backends): each command leaves its audit rows by the user it acts as on channel ``cli``, a
navigator is refused a reopening with the reason, and bad input leaves nothing."""

import json

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.config import DatabaseSettings, Settings
from surveil.db import models as m
from surveil.db.engine import make_engine
from surveil.services.records import actions
from tests.cli.acting import CLINIC, add_account
from tests.cli.conftest import Invoke
from tests.services.item_life import NINA, TODAY, Seed, open_items, seed_patient

SHELL_COVERED: frozenset[str] = frozenset(
    {"item reopen", "item done-late", "item cancel-booking", "item no-show"}
)
NOT_AUDITED: dict[str, str] = {
    "item reasons": "lists the configured reason codes: reads no patient",
    "report reasons": "counts decisions by rule and reason: names no patient",
}


@pytest.fixture
def world(surveil_cli: Invoke, db_url: str) -> tuple[sa.Engine, Seed]:
    del surveil_cli  # asked for because it migrates the database
    engine = make_engine(db_url)
    seed = seed_patient(engine, Settings(database=DatabaseSettings(url=db_url)), clinic=CLINIC)
    add_account(engine, "nina", role="navigator", clinic=CLINIC)
    add_account(engine, "dr.okafor", role="clinician", clinic=CLINIC)
    return engine, seed


def audit_since(engine: sa.Engine, seen: int) -> list[tuple[str, str, str, str | None]]:
    with Session(engine) as session:
        rows = session.exec(
            select(m.AuditEvent).where(col(m.AuditEvent.id) > seen).order_by(col(m.AuditEvent.id))
        ).all()
        return [(e.action, e.actor, e.channel, e.os_user and "os") for e in rows]


def open_cga(engine: sa.Engine, patient_id: int) -> int:
    """The open CgA item (a replan on another day may have replaced the row)."""
    with Session(engine) as session:
        (cga,) = [i.id or 0 for i in open_items(session, patient_id) if i.kind == "cga"]
        return cga


def last_id(engine: sa.Engine) -> int:
    with Session(engine) as session:
        return int(session.exec(select(sa.func.max(m.AuditEvent.id))).one() or 0)


def test_reopen_is_a_clinicians_and_a_navigator_is_told_so(
    surveil_cli: Invoke, world: tuple[sa.Engine, Seed], db_url: str
) -> None:
    engine, seed = world
    settings = Settings(database=DatabaseSettings(url=db_url))
    actor = NINA.__class__("nina", "navigator", CLINIC)
    actions.mark_done(
        engine,
        item_id=seed.mri,
        actor=actor,
        data=actions.DoneInput(completed_on=TODAY.isoformat()),
        settings=settings,
        today=TODAY,
    )
    seen = last_id(engine)
    args = ("item", "reopen", str(seed.mri), "--reason-code", "recorded_in_error")
    refused = surveil_cli("--as", "nina", *args, "--reason", "typo")
    assert refused.exit_code == 2
    assert "only a clinician may reopen an item; nina is a navigator" in refused.output
    bad = surveil_cli("--as", "dr.okafor", *args, "--reason", " ")
    assert bad.exit_code == 2 and "reason" in bad.output
    assert audit_since(engine, seen) == []

    done = surveil_cli("--as", "dr.okafor", *args, "--reason", "typo")
    assert done.exit_code == 0, done.output
    assert "reopened (was done): recorded_in_error, typo" in done.output
    assert audit_since(engine, seen) == [("item.reopened", "dr.okafor", "cli", "os")]


def test_late_work_and_bookings_that_did_not_happen(
    surveil_cli: Invoke, world: tuple[sa.Engine, Seed]
) -> None:
    engine, seed = world
    nina = ("--as", "nina", "item")
    seen = last_id(engine)
    bad = surveil_cli(*nina, "done-late", str(seed.mri), "--on", "2026-11-05")
    assert bad.exit_code == 2 and "where" in bad.output
    assert audit_since(engine, seen) == []
    late = surveil_cli(*nina, "done-late", str(seed.mri), "--on", "2026-11-05", "--where", "Leeds")
    assert late.exit_code == 0, late.output
    assert "done elsewhere (Leeds) on 2026-11-05" in late.output
    assert audit_since(engine, seen) == [("item.done_late", "nina", "cli", "os")]

    for command, action in (
        ("cancel-booking", "booking.cancelled"),
        ("no-show", "booking.no_show"),
    ):
        cga = open_cga(engine, seed.patient)
        actions.mark_booked(
            engine,
            item_id=cga,
            actor=NINA.__class__("nina", "navigator", CLINIC),
            date="2027-01-10",
            time="09:00",
            today=TODAY,
            reason_code="patient_choice",  # used only if outside the window
        )
        seen = last_id(engine)
        result = surveil_cli(*nina, command, str(cga), "--note", "rang")
        assert result.exit_code == 0, result.output
        assert "due again: rang" in result.output
        assert audit_since(engine, seen) == [(action, "nina", "cli", "os")]


def test_report_reasons_counts_by_rule_and_reason(
    surveil_cli: Invoke, world: tuple[sa.Engine, Seed]
) -> None:
    engine, seed = world
    actor = NINA.__class__("nina", "navigator", CLINIC)
    actions.mark_declined(
        engine, item_id=seed.cga, actor=actor, reason="moving", reason_code="cannot_travel"
    )
    seen = last_id(engine)
    result = surveil_cli("--as", "nina", "report", "reasons", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [
        {
            "decision": "declined",
            "rule": "pnet-small-surveillance",
            "reason": "cannot_travel",
            "count": 1,
        }
    ]
    assert audit_since(engine, seen) == []
    listed = surveil_cli("item", "reasons")
    assert "reopened: recorded_in_error, patient_changed_mind" in listed.output
