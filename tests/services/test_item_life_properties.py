"""The issue-14 property (hypothesis; SQLite and PostgreSQL): after any history of item actions on
any dates, every open item of an active patient is in a worklist section, or its window opens
more than 14 days later, or it is snoozed with a reason until a date that has not passed.

A history is a list of actions (book inside or outside the window, cancel, no-show, done, done
late elsewhere, decline, not needed, snooze, a clinician's reopening), each on the MRI or the CgA
of a freshly enrolled patient, on a day that moves forward; an action the services refuse
(a closed item, a bad date) writes nothing and the history goes on. The worklist is then read on
any day from the last action to well over a year later."""

import contextlib
import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, col, select

from surveil.config import Settings
from surveil.db import models as m
from surveil.errors import SurveilError
from surveil.services.records import actions, bookings, late, reopen
from surveil.services.records.actions import DoneInput
from surveil.services.worklist.sections import WorklistQuery, build_worklist
from tests.services.item_life import DR, NINA, TODAY, open_items, seed_patient

HORIZON = 14  # days: an item whose window opens later than this need not be shown yet
MRNS = itertools.count(1)
ACTIONS = (
    "book",
    "cancel",
    "no_show",
    "done",
    "late",
    "decline",
    "not_needed",
    "snooze",
    "reopen",
)
Act = Callable[[sa.Engine, Settings, int, dt.date, int], object]


def _book(engine: sa.Engine, _s: Settings, item: int, day: dt.date, n: int) -> object:
    when = (day + dt.timedelta(days=n * 12)).isoformat()  # inside or far outside the window
    return actions.mark_booked(
        engine,
        item_id=item,
        actor=NINA,
        date=when,
        time="09:30",
        today=day,
        reason_code="no_slot",
    )


def _done(engine: sa.Engine, s: Settings, item: int, day: dt.date, n: int) -> object:
    data = DoneInput(completed_on=(day - dt.timedelta(days=n)).isoformat(), marker_value="20")
    return actions.mark_done(engine, item_id=item, actor=NINA, data=data, settings=s, today=day)


def _late(engine: sa.Engine, s: Settings, item: int, day: dt.date, n: int) -> object:
    data = DoneInput(completed_on=(day - dt.timedelta(days=n)).isoformat(), marker_value="20")
    return late.record_late_result(
        engine, item_id=item, actor=NINA, data=data, where="Leeds", on_paper=False,
        settings=s, today=day,
    )  # fmt: skip


def _snooze(engine: sa.Engine, s: Settings, item: int, day: dt.date, n: int) -> object:
    until = (day + dt.timedelta(days=1 + n % 28)).isoformat()
    return actions.snooze(
        engine, item_id=item, actor=NINA, until=until, reason="away", reason_code="patient_away",
        settings=s, today=day,
    )  # fmt: skip


def _act(name: str) -> Act:
    def call(engine: sa.Engine, s: Settings, item: int, day: dt.date, n: int) -> object:
        del n
        if name in ("cancel", "no_show"):
            unbook = bookings.cancel_booking if name == "cancel" else bookings.record_no_show
            return unbook(engine, item_id=item, actor=NINA, note="", settings=s, today=day)
        if name == "reopen":
            return reopen.reopen_item(
                engine, item_id=item, actor=DR, reason_code="other", reason="error",
                settings=s, today=day,
            )  # fmt: skip
        close = actions.mark_declined if name == "decline" else actions.mark_not_needed
        return close(engine, item_id=item, actor=NINA, reason="asked")

    return call


DO: dict[str, Act] = {
    "book": _book,
    "done": _done,
    "late": _late,
    "snooze": _snooze,
    **{name: _act(name) for name in ("cancel", "no_show", "reopen", "decline", "not_needed")},
}

steps = st.lists(
    st.tuples(
        st.sampled_from(ACTIONS),
        st.sampled_from(["mri", "cga", "any"]),
        st.integers(0, 60),  # days since the previous action
        st.integers(0, 40),  # the action's own number (how far, how long)
    ),
    max_size=7,
)


def _pick(engine: sa.Engine, patient: int, kind: str, n: int) -> int | None:
    """An item of the patient: an open one of ``kind``, or any item at all (closed ones too)."""
    with Session(engine) as session:
        if kind == "any":
            ids = session.exec(
                select(m.FollowUpItem.id)
                .where(m.FollowUpItem.patient_id == patient)
                .order_by(col(m.FollowUpItem.id))
            ).all()
            return ids[n % len(ids)] if ids else None
        found = [i.id for i in open_items(session, patient) if i.kind == kind]
        return found[0] if found else None


def _shown(engine: sa.Engine, s: Settings, mrn: str, day: dt.date) -> set[int]:
    with Session(engine) as session:
        shown: set[int] = set()
        for key in ("overdue", "due", "booked_outside", "booked_no_result", "soon", "booked"):
            query = WorklistQuery(today=day, search=mrn, section=key)
            found = build_worklist(session, query=query, actor=NINA, settings=s)
            shown |= {r.item_id for sec in found.sections for r in sec.rows if r.item_id}
        lost = build_worklist(
            session, query=WorklistQuery(today=day, search=mrn, section="lost"), actor=NINA,
            settings=s,
        )  # fmt: skip
        shown |= {r.item_id for sec in lost.sections for r in sec.rows if r.item_id}
        return shown


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=steps, look=st.integers(0, 420))
def test_no_open_item_of_an_active_patient_falls_out_of_sight(
    engine: sa.Engine, settings: Settings, history: list[Any], look: int
) -> None:
    mrn = f"H{next(MRNS)}"
    seed = seed_patient(engine, settings, mrn=mrn)
    day = TODAY
    for name, kind, gap, n in history:
        day += dt.timedelta(days=gap)
        item = _pick(engine, seed.patient, kind, n)
        if item is None:
            continue
        # A refusal writes nothing (the one-way-in tests prove it): the history goes on.
        with contextlib.suppress(SurveilError):
            DO[name](engine, settings, item, day, n)
    check_day = day + dt.timedelta(days=look)
    shown = _shown(engine, settings, mrn, check_day)
    with Session(engine) as session:
        for row in open_items(session, seed.patient):
            visible = row.id in shown
            later = row.earliest > check_day + dt.timedelta(days=HORIZON)
            snoozed = bool(
                row.snoozed_until and row.snoozed_until > check_day and row.snooze_reason
            )
            seen = (row.kind, row.state, row.earliest, row.latest, row.booked_at, check_day)
            assert visible or later or snoozed, seen
