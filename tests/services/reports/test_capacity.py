"""The capacity forecast on a small registry (SQLite and PostgreSQL), each figure by hand, and
the what-if profile checked against the committed plans it should reproduce."""

import datetime as dt
import json

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlmodel import Session

from surveil.cli import _register, cli
from surveil.config import Settings
from surveil.errors import InvalidInput
from surveil.services.actor import Actor
from surveil.services.planning.plans import replan_patients
from surveil.services.reports.capacity import CapacityQuery, capacity_forecast
from surveil.services.reports.capacity_export import capacity_csv
from tests.web.seed import TODAY, make_item, make_patient, make_user

NAV = Actor(username="nina", role="navigator", clinic="north")
ADMIN = Actor(username="root", role="admin", clinic="north")
D = dt.date.fromisoformat
# The one-way-in register (tests/test_one_way_in.py).
COVERED: set[str] = set()
SHELL_COVERED: set[str] = set()
NOT_AUDITED = {"forecast": "counts per month, resource and site: no patient is named or read"}


def seed(session: Session) -> None:
    north = make_patient(session, "N1", site="pancreas")
    bowel = make_patient(session, "N2", site="small_bowel")
    south = make_patient(session, "S1", clinic="south")
    dead = make_patient(session, "N3")
    dead.deceased_on = TODAY
    session.add(dead)
    make_item(
        session, north, earliest=D("2026-06-20"), latest=D("2026-08-05"), target=D("2026-07-10")
    )
    make_item(
        session,
        north,
        kind="ct",
        earliest=D("2026-04-01"),
        latest=D("2026-05-20"),
        target=D("2026-05-01"),
        state="booked",
    )
    make_item(
        session,
        bowel,
        kind="cga",
        earliest=D("2026-07-01"),
        latest=D("2026-07-30"),
        target=D("2026-07-15"),
    )
    make_item(
        session,
        bowel,
        kind="mri",
        earliest=D("2026-06-01"),
        latest=D("2026-06-30"),
        target=D("2026-06-10"),
        state="done",
    )
    make_item(
        session, south, earliest=D("2026-06-20"), latest=D("2026-08-05"), target=D("2026-07-10")
    )
    make_item(
        session, dead, earliest=D("2026-06-20"), latest=D("2026-08-05"), target=D("2026-07-10")
    )
    session.commit()


def test_the_committed_plans_counted_by_hand(
    engine: sa.Engine, session: Session, settings: Settings
) -> None:
    seed(session)
    query = CapacityQuery(months=3, by="resource,site,month")
    result = capacity_forecast(engine, actor=NAV, query=query, settings=settings, today=TODAY)
    table = {key: c.as_tuple() for key, c in result.forecast.rows}
    # (earliest, target, latest, possible): north's MRI spans June-August, its booked CT is
    # overdue (needed now, June); N2's CgA is a July blood test; done, dead and south: nothing.
    assert table == {
        ("MRI", "pancreas", "2026-06"): (1, 0, 0, 1),
        ("MRI", "pancreas", "2026-07"): (0, 1, 0, 1),
        ("MRI", "pancreas", "2026-08"): (0, 0, 1, 1),
        ("CT", "pancreas", "2026-06"): (1, 1, 1, 1),
        ("Blood tests", "small_bowel", "2026-07"): (1, 1, 1, 1),
    }
    assert result.clinic == "north" and not result.what_if
    everyone = capacity_forecast(
        engine,
        actor=ADMIN,
        query=CapacityQuery(months=3, by="resource"),
        settings=settings,
        today=TODAY,
    )
    assert {k: c.target for k, c in everyone.forecast.rows} == {
        ("MRI",): 2,
        ("CT",): 1,
        ("Blood tests",): 1,
    }
    assert capacity_csv(result).splitlines()[:2] == [
        "resource,site,month,target,earliest,latest,possible",
        "MRI,pancreas,2026-06,0,1,0,1",
    ]


def test_a_what_if_with_the_active_profile_reproduces_the_committed_plans(
    engine: sa.Engine, session: Session, settings: Settings
) -> None:
    patients = [
        make_patient(session, f"P{n}", site=site)
        for n, site in enumerate(("pancreas", "small_bowel", "rectum"))
    ]
    replan_patients(session, patients=patients, settings=settings, today=TODAY)
    session.commit()
    query = CapacityQuery(months=24, by="kind,month")
    committed = capacity_forecast(engine, actor=NAV, query=query, settings=settings, today=TODAY)
    assert committed.forecast.rows  # the planner did plan something
    what_if = capacity_forecast(
        engine,
        actor=NAV,
        query=CapacityQuery(months=24, by="kind,month", profile="net-default:default"),
        settings=settings,
        today=TODAY,
    )
    assert what_if.what_if and what_if.forecast.rows == committed.forecast.rows


def test_bad_input_names_every_field(engine: sa.Engine, settings: Settings) -> None:
    with pytest.raises(InvalidInput) as refused:
        capacity_forecast(
            engine,
            actor=NAV,
            query=CapacityQuery(months=0, by="kind,colour", profile="net-default:nope"),
            settings=settings,
            today=TODAY,
        )
    assert sorted(p.field for p in refused.value.problems) == ["by", "months", "profile"]


def test_surveil_forecast_json(
    session: Session, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(session)
    make_user(session, "nina")
    session.commit()
    _register()
    monkeypatch.setenv("SURVEIL_DATABASE_URL", db_url)
    monkeypatch.delenv("SURVEIL_CONFIG", raising=False)
    runner = CliRunner()
    shown = runner.invoke(
        cli,
        ["--as", "nina", "forecast", "--months", "36", "--by", "kind,site,month", "--json"],
        catch_exceptions=False,
    )
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.output)
    assert data["by"] == ["kind", "site", "month"] and len(data["months"]) == 36
    # Run on the real clock (after the seeded windows): every open item is needed now.
    now = data["months"][0]
    assert data["rows"] == [
        {
            "kind": k,
            "site": site,
            "month": now,
            "earliest": 1,
            "target": 1,
            "latest": 1,
            "possible": 1,
        }
        for k, site in (("cga", "small_bowel"), ("ct", "pancreas"), ("mri", "pancreas"))
    ]
    table = runner.invoke(
        cli, ["--as", "nina", "forecast", "--by", "resource"], catch_exceptions=False
    )
    assert "Capacity" in table.output and "Target" in table.output
    bad = runner.invoke(cli, ["--as", "nina", "forecast", "--by", "colour"])
    assert bad.exit_code != 0 and "by" in bad.output
