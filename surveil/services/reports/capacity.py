"""Capacity forecast (``/reports/capacity``, ``surveil forecast``): what the committed plans need
per month, or what another protocol profile would need (``core.capacity`` counts).

Committed plans are the open items (planned, ordered, booked) of living patients. A what-if
profile re-runs the pure planner over every living patient's facts and overrides with that
profile, and adds the open escalation items (tumour boards, urgent scans) that belong to
triggers rather than to any protocol. Counts carry no names: the forecast is not a read of any
one patient's record, so it is not audited.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from sqlmodel import Session, select

from surveil.config import Settings
from surveil.core.capacity import Forecast, Need, forecast, parse_by
from surveil.core.protocol import Pack, Profile
from surveil.core.vocab import ItemKind
from surveil.db import models as m
from surveil.db.queries import facts_for_patients
from surveil.db.session import read_scope
from surveil.errors import ConfigError, InvalidInput, Problem
from surveil.services.actor import Actor
from surveil.services.planning.plans import TRIGGER_RULE_PREFIX, compute_plan, overrides_for
from surveil.services.protocols import active_profile

MAX_MONTHS = 36
BATCH = 1000  # patients planned at a time for a what-if profile
ITEM, TUMOUR = m.FollowUpItem.__table__.c, m.Tumour.__table__.c  # type: ignore[attr-defined]
PATIENT = m.Patient.__table__.c  # type: ignore[attr-defined]


@dataclass(frozen=True)
class CapacityQuery:
    months: int = 12
    by: str = "resource,month"
    clinic: str | None = None
    profile: str | None = None  # "pack:profile" or a profile name: a what-if, not the active one


@dataclass(frozen=True)
class Capacity:
    query: CapacityQuery
    forecast: Forecast
    clinic: str | None
    profile: str  # the pack and profile the numbers come from, as "pack version:profile"
    what_if: bool


def capacity_forecast(
    engine: sa.Engine, *, actor: Actor, query: CapacityQuery, settings: Settings, today: dt.date
) -> Capacity:
    """The forecast ``actor`` may see: their own clinic unless they are an administrator."""
    by, wrong = parse_by(query.by)
    problems = [Problem("by", f"{w!r} is not one of resource, kind, site, month") for w in wrong]
    if not 1 <= query.months <= MAX_MONTHS:
        problems.append(Problem("months", f"must be 1 to {MAX_MONTHS}"))
    what_if = bool(query.profile)
    try:
        pack, profile = active_profile(_with_profile(settings, query.profile))
    except ConfigError as error:
        problems.append(Problem("profile", str(error.problems[0].message)))
    if problems:
        raise InvalidInput(problems, what="capacity forecast")
    clinic = query.clinic if actor.is_admin else actor.clinic
    before = _horizon_end(today, query.months)
    with read_scope(engine) as session:
        if what_if:
            needs = _planned(
                session, clinic, pack=pack, profile=profile, today=today, before=before
            )
        else:
            needs = _committed(session, clinic, before=before)
    result = forecast(needs, today=today, months=query.months, by=by)
    return Capacity(
        query=query,
        forecast=result,
        clinic=clinic,
        profile=f"{pack.id} {pack.version}:{profile.name}",
        what_if=what_if,
    )


def _horizon_end(today: dt.date, months: int) -> dt.date:
    """The first day after a horizon of ``months`` starting with today's month."""
    return today.replace(day=1) + relativedelta(months=months)


def _with_profile(settings: Settings, wanted: str | None) -> Settings:
    """The settings with ``pack:profile`` (or a profile of the clinic's pack) made active."""
    if not wanted:
        return settings
    pack, _, name = wanted.rpartition(":")
    clinic = replace(settings.clinic, pack=pack or settings.clinic.pack, profile=name)
    return replace(settings, clinic=clinic)


def _living(clinic: str | None) -> list[sa.ColumnElement[bool]]:
    where = [PATIENT.deceased_on.is_(None)]
    return [*where, PATIENT.clinic == clinic] if clinic else where


def _committed(
    session: Session, clinic: str | None, *, before: dt.date, escalations_only: bool = False
) -> list[Need]:
    """The open items counted in the database by kind, site and the months of their dates (the
    forecast only needs months): a few thousand groups, not every item of the registry. Items
    whose window opens on or after ``before`` (the horizon's end) count in no month: left out."""
    month = _month_of(session.connection().dialect.name)
    groups = [ITEM.kind, TUMOUR.site, month(ITEM.earliest), month(ITEM.target), month(ITEM.latest)]
    stmt = (
        sa.select(*groups, sa.func.count())
        .select_from(m.FollowUpItem.__table__)  # type: ignore[attr-defined]
        .join(m.Patient.__table__, PATIENT.id == ITEM.patient_id)  # type: ignore[attr-defined]
        .outerjoin(m.Tumour.__table__, TUMOUR.patient_id == ITEM.patient_id)  # type: ignore[attr-defined]
        .where(
            ITEM.state.in_([s.value for s in m.OPEN_ITEM_STATES]),
            ITEM.earliest < before,
            *_living(clinic),
        )
        .group_by(*groups)
    )
    if escalations_only:
        stmt = stmt.where(ITEM.rule_id.startswith(TRIGGER_RULE_PREFIX))
    firsts: dict[str, dt.date] = {}

    def day(text: str) -> dt.date:
        if text not in firsts:
            firsts[text] = dt.date(int(text[:4]), int(text[5:7]), 1)
        return firsts[text]

    return [
        Need(k, s or "unknown", day(e), day(t), day(la), count=int(n))
        for k, s, e, t, la, n in session.execute(stmt).all()
    ]


def _month_of(dialect: str) -> Callable[[sa.ColumnElement[Any]], sa.ColumnElement[str]]:
    """A date column's month as ``YYYY-MM``: one string per date to group by, which SQLite
    makes far more cheaply than year and month apart (it stores a date as ISO text, so the month
    is its first seven characters)."""
    if dialect == "sqlite":
        return lambda column: sa.func.substr(column, 1, 7, type_=sa.String)
    return lambda column: sa.func.to_char(column, "YYYY-MM", type_=sa.String)


def _planned(
    session: Session,
    clinic: str | None,
    *,
    pack: Pack,
    profile: Profile,
    today: dt.date,
    before: dt.date,
) -> list[Need]:
    """Every living patient planned afresh with another profile, plus the open escalations."""
    needs = _committed(session, clinic, before=before, escalations_only=True)
    query = select(m.Patient).where(*_living(clinic)).order_by(m.Patient.id)  # type: ignore[arg-type]
    patients = list(session.exec(query).all())
    sites = dict(session.execute(sa.select(TUMOUR.patient_id, TUMOUR.site)).all())
    for start in range(0, len(patients), BATCH):
        batch = patients[start : start + BATCH]
        ids = [p.id for p in batch if p.id is not None]
        facts = facts_for_patients(session, batch)
        overrides = overrides_for(session, ids, profile=profile)
        for pid in ids:
            plan = compute_plan(
                facts[pid],
                pack=pack,
                profile=profile,
                overrides=overrides.get(pid, []),
                today=today,
            )
            site = sites.get(pid) or "unknown"
            needs.extend(
                Need(ItemKind(i.kind).value, site, i.earliest, i.target, i.latest)
                for i in plan.items
            )
    return needs
