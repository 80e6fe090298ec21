"""The worklist as it was (issue 20, point 4): a snapshot taken at a moment equals the worklist
reconstructed for that moment after many later changes, made through the real entry points."""

import datetime as dt
import time

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from surveil.config import Settings
from surveil.core.zones import today_in
from surveil.db import models as m
from surveil.errors import InvalidInput
from surveil.services.actor import Actor
from surveil.services.records import actions, keeping, trigger_review
from surveil.services.reports.as_of import parse_moment, worklist_as_of
from surveil.services.triggers import review
from surveil.services.worklist.sections import (
    OVERVIEW_ROWS,
    Worklist,
    WorklistQuery,
    build_worklist,
)
from tests.web.seed import make_item, make_patient, make_trigger, make_user

NAV = Actor(username="nina", role="navigator", clinic="north")
DAY = dt.timedelta(days=1)
# The audit's actions for the one-way-in register (tests/test_one_way_in.py).
COVERED = {"surveil.services.reports.as_of.worklist_as_of"}
SHELL_COVERED: set[str] = set()
NOT_AUDITED: set[str] = set()

Shown = dict[str, list[tuple[object, ...]]]


def shown(worklist: Worklist) -> Shown:
    """Every row of every reconstructed section as a nurse reads it."""
    return {
        s.key: [
            (r.mrn, r.item_id, r.trigger_id, r.what, r.state, r.timing, r.detail) for r in s.rows
        ]
        for s in worklist.sections
        if s.key != "reminders"
    } | {"counts": [(s.key, s.count) for s in worklist.sections if s.key != "reminders"]}


def seed(session: Session, today: dt.date) -> dict[str, int]:
    make_user(session, "nina")
    make_user(session, "oscar")
    ids: dict[str, int] = {}

    def item(mrn: str, earliest: int, latest: int, **kw: object) -> None:
        p = make_patient(session, mrn, family=mrn.title(), navigator=kw.pop("nav", "nina"))  # type: ignore[arg-type]
        i = make_item(
            session, p, earliest=today + earliest * DAY, latest=today + latest * DAY, **kw
        )  # type: ignore[arg-type]
        ids[mrn], ids[f"{mrn}-patient"] = i.id or 0, p.id or 0

    item("overdue", -40, -5)
    item("due", -5, 20)
    item("due-booked", -5, 20, state="booked", booked_at=dt.datetime.now(dt.UTC) - 3 * DAY)
    item("soon", 5, 40)
    item("lost", -400, -300)
    item("snoozable", -10, 10)
    item("declinable", -10, 10, urgent=True)
    item("replanned", -10, 10, nav=None)  # no navigator: reassigned (and replanned) later
    p = make_patient(session, "triggered", family="Triggered", navigator="nina")
    ids["open-trigger"] = make_trigger(session, p, detected_on=today - 3 * DAY).id or 0
    ids["acked-trigger"] = (
        make_trigger(session, p, kind="size", detected_on=today - 9 * DAY, urgent=True).id or 0
    )
    ids["triggered-patient"] = p.id or 0
    session.commit()
    return ids


def later_changes(
    engine: sa.Engine, settings: Settings, today: dt.date, ids: dict[str, int]
) -> None:
    actions.mark_ordered(engine, item_id=ids["overdue"], actor=NAV)
    actions.mark_booked(
        engine, item_id=ids["due"], actor=NAV, date=str(today + 3 * DAY), time="09:30", today=today
    )
    actions.mark_done(
        engine,
        item_id=ids["due-booked"],
        actor=NAV,
        data=actions.DoneInput(completed_on=str(today)),
        settings=settings,
        today=today,
    )
    actions.snooze(
        engine,
        item_id=ids["snoozable"],
        actor=NAV,
        until=str(today + 7 * DAY),
        reason="patient abroad",
        settings=settings,
        today=today,
    )
    actions.mark_declined(engine, item_id=ids["declinable"], actor=NAV, reason="patient declined")
    now = dt.datetime.now(dt.UTC)
    review.acknowledge_trigger(engine, trigger_id=ids["acked-trigger"], actor=NAV, now=now)
    trigger_review.resolve_trigger(
        engine,
        trigger_id=ids["open-trigger"],
        actor=Actor(username="dora", role="clinician", clinic="north"),  # a clinician's decision
        outcome="tumour board: watch",
        settings=settings,
        today=today,
        now=now,
    )
    keeping.reassign_navigator(
        engine,
        actor=Actor(username="root", role="admin", clinic="north"),
        patient_id=ids["replanned-patient"],
        navigator="oscar",
        settings=settings,
        today=today,
    )
    keeping.change_state(
        engine,
        actor=NAV,
        patient_id=ids["triggered-patient"],
        kind="discharged",
        since=str(today),
        resection=None,
        reason="discharged to GP",
        settings=settings,
        today=today,
    )


def test_the_reconstructed_worklist_equals_the_snapshot_taken_then(
    engine: sa.Engine, session: Session, settings: Settings
) -> None:
    today = today_in(settings.clinic.timezone, dt.datetime.now(dt.UTC))
    ids = seed(session, today)
    queries = [
        WorklistQuery(today=today, clinic="north"),
        WorklistQuery(today=today, navigator="nina"),
        WorklistQuery(today=today, section="due"),
        WorklistQuery(today=today, kind="mri", search="due"),
    ]
    snapshots = [build_worklist(session, query=q, actor=NAV, settings=settings) for q in queries]
    session.commit()
    time.sleep(0.01)
    moment = dt.datetime.now(dt.UTC)
    time.sleep(0.01)

    later_changes(engine, settings, today, ids)
    with Session(engine) as s:  # someone enrolled after the moment is not on the old list
        make_item(s, make_patient(s, "newcomer", navigator="nina"), earliest=today, latest=today)
        s.commit()
    now = build_worklist(session, query=queries[0], actor=NAV, settings=settings)
    session.commit()
    assert shown(now) != shown(snapshots[0])  # the changes did move the worklist
    states = set(session.exec(select(m.FollowUpItem.state)).all())
    session.commit()
    # Audited actions and the unaudited replan (a supersession) both have to be undone.
    assert {"ordered", "booked", "done", "declined", "superseded"} <= states

    for query, snapshot in zip(queries, snapshots, strict=True):
        result = worklist_as_of(engine, actor=NAV, query=query, moment=moment, settings=settings)
        assert shown(result.worklist) == shown(snapshot), query
        assert result.worklist.query.today == today
    assert "(Europe/London)" in result.local
    # The overview's counts stop at a cap, as the live overview's do.
    capped = worklist_as_of(
        engine, actor=NAV, query=queries[0], moment=moment, settings=settings, count_cap=1
    )
    for then, now_then in zip(capped.worklist.sections, snapshots[0].sections, strict=True):
        assert (then.count, then.capped) == (min(now_then.count, 1), now_then.count > 1)
        assert then.rows == now_then.rows[:OVERVIEW_ROWS]
    reviewed = session.exec(
        select(m.AuditEvent).where(m.AuditEvent.action == "worklist.as_of_viewed")
    ).all()
    assert len(reviewed) == len(queries) + 1 and reviewed[0].actor == "nina"


def test_a_moment_is_parsed_in_the_clinic_zone_and_must_be_past() -> None:
    now = dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.UTC)
    moment = parse_moment("2026-07-02T09:00", "Europe/London", now=now)
    assert moment == dt.datetime(2026, 7, 2, 8, 0, tzinfo=dt.UTC)  # BST
    with pytest.raises(InvalidInput) as bad:
        parse_moment("yesterday", "Europe/London", now=now)
    assert bad.value.problems[0].field == "as_of"
    with pytest.raises(InvalidInput):
        parse_moment("2027-01-01T09:00", "Europe/London", now=now)
