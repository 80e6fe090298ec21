"""Issue 14 (no item out of sight): the worklist's ``snoozed`` view lists snoozed items with the
coded reason, the words and the day the snooze ends, soonest end first; an item whose snooze
has ended is back in the daily sections and off the view. Asked for by name only: the overview
does not run it. SQLite and PostgreSQL, through the services."""

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Session

from surveil.config import Settings
from surveil.services.records import actions
from surveil.services.worklist.sections import Worklist, WorklistQuery, build_worklist
from tests.services.item_life import CLINIC, NINA, TODAY, seed_patient


def _worklist(engine: sa.Engine, settings: Settings, day: dt.date, section: str | None) -> Worklist:
    with Session(engine) as session:
        query = WorklistQuery(today=day, clinic=CLINIC, section=section)
        return build_worklist(session, query=query, actor=NINA, settings=settings)


def test_snoozed_items_are_listed_with_their_reason_and_end(
    engine: sa.Engine, settings: Settings
) -> None:
    seed = seed_patient(engine, settings)
    actions.snooze(
        engine, item_id=seed.mri, actor=NINA, until="2026-12-20", reason="on holiday",
        reason_code="patient_away", settings=settings, today=TODAY,
    )  # fmt: skip
    actions.snooze(
        engine, item_id=seed.cga, actor=NINA, until="2026-12-01", reason="awaiting slot",
        reason_code="awaiting_slot", settings=settings, today=TODAY,
    )  # fmt: skip
    overview = _worklist(engine, settings, TODAY, None)
    assert "snoozed" not in [s.key for s in overview.sections]
    shown = {r.item_id for s in overview.sections for r in s.rows}
    assert not {seed.mri, seed.cga} & shown  # hidden from the day...

    (view,) = _worklist(engine, settings, TODAY, "snoozed").sections
    assert view.key == "snoozed" and view.count == 2
    assert [r.item_id for r in view.rows] == [seed.cga, seed.mri]  # soonest end first
    cga, mri = view.rows
    assert cga.timing == "snoozed until 2026-12-01 (8 days)"
    assert mri.detail.startswith("reason patient_away: on holiday; rule ")
    assert mri.detail.endswith("snoozed until 2026-12-20")

    # On 2026-12-02 the CgA's snooze is over: back in the day's sections, off the view.
    later = dt.date(2026, 12, 2)
    (view,) = _worklist(engine, settings, later, "snoozed").sections
    assert [r.item_id for r in view.rows] == [seed.mri]
    back = {r.item_id for s in _worklist(engine, settings, later, None).sections for r in s.rows}
    assert seed.cga in back and seed.mri not in back
