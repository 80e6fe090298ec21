"""The quality figures on a small registry (SQLite and PostgreSQL), each worked out by hand."""

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from surveil.config import Settings
from surveil.core.quality import Interval, Timeliness
from surveil.db import models as m
from surveil.errors import InvalidInput, PermissionDenied
from surveil.services.actor import Actor
from surveil.services.reports.quality import QualityQuery, quality_report
from tests.web.seed import make_item, make_patient, make_trigger, make_user

CLINICIAN = Actor(username="cleo", role="clinician", clinic="north")
NAV = Actor(username="nina", role="navigator", clinic="north")
D = dt.date.fromisoformat
PERIOD = QualityQuery(start=D("2026-01-01"), end=D("2026-06-30"))
# The one-way-in register (tests/test_one_way_in.py).
COVERED = {"surveil.services.reports.quality.quality_report"}
SHELL_COVERED: set[str] = set()
NOT_AUDITED: set[str] = set()


def at(day: str) -> dt.datetime:
    return dt.datetime.combine(D(day), dt.time(9), tzinfo=dt.UTC)


def done(session: Session, p: m.Patient, window: tuple[str, str], on: str) -> None:
    item = make_item(session, p, earliest=D(window[0]), latest=D(window[1]), state="done")
    item.completed_on = D(on)
    session.add(item)


def seed(session: Session) -> None:
    make_user(session, "nina")
    one = make_patient(session, "P1", navigator="nina")
    two = make_patient(session, "P2", site="small_bowel")
    done(session, one, ("2026-02-01", "2026-03-01"), "2026-02-15")  # on time
    done(session, one, ("2026-02-01", "2026-03-01"), "2026-03-11")  # 10 days late
    done(session, one, ("2026-04-01", "2026-05-01"), "2026-05-31")  # 30 days late
    done(session, one, ("2026-05-01", "2026-06-01"), "2026-04-20")  # early
    done(session, one, ("2025-10-01", "2025-10-31"), "2025-10-10")  # before the period: trend only
    late = make_item(session, two, earliest=D("2026-05-01"), latest=D("2026-06-10"))  # overdue
    lost = make_item(session, two, earliest=D("2025-12-01"), latest=D("2026-01-15"))  # >90 days
    late.created_at = lost.created_at = at("2025-11-01")  # planned before the period
    session.add_all([late, lost])
    # Planned after the period: not counted as overdue in it.
    make_item(session, two, earliest=D("2026-05-01"), latest=D("2026-06-10"))
    declined = make_item(session, two, earliest=D("2026-03-01"), latest=D("2026-04-01"))
    declined.state, declined.outcome_note = "declined", "patient declined"
    declined.updated_at = at("2026-03-05")
    session.add(declined)
    board = make_item(
        session,
        one,
        kind="tumour_board",
        earliest=D("2026-03-01"),
        latest=D("2026-03-21"),
        state="done",
    )
    board.completed_on = D("2026-03-15")
    t1 = make_trigger(session, one, detected_on=D("2026-03-01"))
    t1.item_id, t1.state, t1.resolved_at = board.id, "resolved", at("2026-03-20")
    t2 = make_trigger(session, two, kind="size", detected_on=D("2026-04-01"))
    t2.state, t2.resolved_at = "resolved", at("2026-04-11")
    make_trigger(session, two, kind="recist", detected_on=D("2025-12-01"))  # before the period
    session.add_all([board, t1, t2])
    for n, state in enumerate(("sent", "sent", "failed", "suppressed", "pending")):
        session.add(
            m.Reminder(
                idempotency_key=f"q:{n}",
                patient_id=one.id,
                stage="window-open",
                channel="email",
                template="window-open",
                state=state,
                send_after=at("2026-02-10"),
            )
        )
    session.add(
        m.PlanOverride(
            patient_id=two.id,
            kind="mri",
            interval_min=3,
            interval_max=6,
            interval_unit="months",
            reason="renal impairment",
            author="cleo",
            created_at=at("2026-02-02"),
        )
    )
    session.commit()


def test_every_figure_by_hand(engine: sa.Engine, session: Session, settings: Settings) -> None:
    seed(session)
    r = quality_report(engine, actor=CLINICIAN, query=PERIOD, settings=settings)
    # Five done in the period: the tumour board and one scan on time, one early, two late by
    # 10 and 30 days.
    assert r.timeliness == Timeliness(
        done=5, on_time=2, early=1, late=2, late_days_median=20, late_days_max=30
    )
    assert r.timeliness.on_time_pct == 40.0
    # P2's two open items closed before 30 June; the one closed 15 January is over 90 days.
    assert (r.still_overdue, r.lost_items, r.lost_patients, r.patients_with_open) == (2, 1, 1, 1)
    assert r.lost_rate == 100.0
    assert r.to_board == Interval(count=1, median_days=14, max_days=14)  # 1 → 15 March
    assert r.to_resolution == Interval(count=2, median_days=14.5, max_days=19)  # 19 and 10 days
    # Five reminders due; the suppressed one is not a delivery: 2 sent, 1 failed of 4.
    assert (r.reminders_due, r.reminders_sent, r.reminders_failed) == (4, 2, 1)
    assert (r.sent_pct, r.failed_pct) == (50.0, 25.0)
    assert r.declines == (
        ("declined", "pnet-small-surveillance", "patient declined", 1),
        ("override", "mri interval", "renal impairment", 1),
    )
    trend = dict(r.trend)
    assert len(r.trend) == 24 and r.trend[-1][0] == "2026-06" and r.trend[0][0] == "2024-07"
    assert trend["2025-10"].on_time_pct == 100.0 and trend["2026-02"].done == 1
    assert trend["2026-03"].done == 2 and trend["2026-03"].late == 1
    events = session.exec(select(m.AuditEvent).where(m.AuditEvent.action == "quality.viewed")).all()
    assert [(e.actor, e.subject) for e in events] == [("cleo", "clinic:north")]


def test_filters_narrow_the_figures(
    engine: sa.Engine, session: Session, settings: Settings
) -> None:
    seed(session)
    mine = quality_report(
        engine,
        actor=CLINICIAN,
        query=QualityQuery(PERIOD.start, PERIOD.end, navigator="nina"),
        settings=settings,
    )
    assert (mine.timeliness.done, mine.still_overdue, mine.reminders_due) == (5, 0, 4)
    bowel = quality_report(
        engine,
        actor=CLINICIAN,
        query=QualityQuery(PERIOD.start, PERIOD.end, site="small_bowel"),
        settings=settings,
    )
    assert (bowel.timeliness.done, bowel.still_overdue, bowel.to_resolution.count) == (0, 2, 1)
    ruled = quality_report(
        engine,
        actor=CLINICIAN,
        query=QualityQuery(PERIOD.start, PERIOD.end, rule="nope"),
        settings=settings,
    )
    assert ruled.timeliness.done == 0 and ruled.declines == ()


def test_navigators_are_refused_and_bad_periods_named(
    engine: sa.Engine, settings: Settings
) -> None:
    with pytest.raises(PermissionDenied):
        quality_report(engine, actor=NAV, query=PERIOD, settings=settings)
    with pytest.raises(InvalidInput) as bad:
        quality_report(
            engine,
            actor=CLINICIAN,
            query=QualityQuery(D("2026-07-01"), D("2026-01-01"), site="moon"),
            settings=settings,
        )
    assert sorted(p.field for p in bad.value.problems) == ["site", "start"]
