"""Hypothesis properties of persisted plans: replanning twice changes nothing, and after any
sequence of plans the open items are exactly the latest plan's."""

import datetime as dt
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, delete, select

from surveil.core.facts import parse_facts
from surveil.core.plan import plan
from surveil.db import models as m
from surveil.db.engine import make_engine
from surveil.schedules import get_profile, load_packs
from surveil.services.planning.plans import Writes, reconcile, write_batch
from surveil.services.planning.stored_items import reconciled_items
from tests.core.test_plan import scenarios

PACKS = load_packs()


def _plan(raw: dict[str, Any], today: dt.date, profile: str) -> Any:
    pack, chosen = get_profile(PACKS, profile)
    return plan(parse_facts(raw, today=today), pack, chosen.name, today)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(first=scenarios(), second=scenarios(), profile=st.sampled_from(["default", "esmo-2020"]))
def test_replanning_is_idempotent_and_converges(
    sqlite_url: str,
    first: tuple[dict[str, Any], dt.date],
    second: tuple[dict[str, Any], dt.date],
    profile: str,
) -> None:
    engine = make_engine(sqlite_url)
    with Session(engine, expire_on_commit=False) as session:
        session.exec(delete(m.FollowUpItem))  # type: ignore[call-overload]
        session.exec(delete(m.Patient))  # type: ignore[call-overload]
        patient = m.Patient(
            clinic="C", mrn="H1", given_name="H", family_name="P", birth_date=dt.date(1950, 1, 1)
        )
        session.add(patient)
        session.flush()
        for raw, today in (first, second):
            new_plan = _plan(raw, today, profile)
            rows = reconciled_items(session, [patient.id or 0]).get(patient.id or 0, [])
            writes = Writes()
            reconcile(patient=patient, new_plan=new_plan, open_rows=rows, writes=writes)
            session.flush()
            write_batch(session, writes)
            again = reconcile(
                patient=patient,
                new_plan=new_plan,
                open_rows=reconciled_items(session, [patient.id or 0]).get(patient.id or 0, []),
                writes=Writes(),
            )
            assert again.created == 0 and again.superseded == 0
            stored = session.exec(
                select(m.FollowUpItem).where(m.FollowUpItem.state == m.ItemState.PLANNED)
            ).all()
            assert sorted((r.kind, r.region or "", r.target) for r in stored) == sorted(
                (i.kind.value, i.region or "", i.target) for i in new_plan.items
            )
        superseded = session.exec(
            select(m.FollowUpItem).where(m.FollowUpItem.state == m.ItemState.SUPERSEDED)
        ).all()
        assert all(row.superseded_reason for row in superseded)  # never silently replaced
        session.rollback()
    engine.dispose()
