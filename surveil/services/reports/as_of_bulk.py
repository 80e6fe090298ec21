"""The worklist as it was, for the rows that did not change since the moment: in the database.

Most of a registry did not change between the moment and now: an item that was created by then,
has not been updated since (``updated_at``), has no audited change and no withdrawn trigger
since, and belongs to a patient whose navigator, death and disease state were not recorded
since, stood then exactly as it stands now. Those rows are counted and paged by SQL, by the
same rules as ``core.as_of.section_of``; the few that did change (``Changed``) are rewound one
by one in ``as_of`` and merged in. Reading every open item of a 100,000-patient registry into
Python to rewind it took tens of seconds.
"""

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from surveil.core.as_of import Horizon
from surveil.core.vocab import ItemState, StateKind
from surveil.db import models as m
from surveil.db.indexed import ordered_join
from surveil.services.worklist.sections import (
    DISCHARGED,
    ITEMS_BY_EARLIEST,
    ITEMS_BY_LATEST,
    ITEMS_BY_PATIENT,
    ITEMS_BY_URGENCY,
    NO_OWNER,
    TRIGGERS_BY_URGENCY,
    WorklistQuery,
    _one_of,
    _patient_conditions,
)
from surveil.services.worklist.sections import PATIENT as WORKLIST_PATIENT

T: Any = m.Trigger.__table__.c  # type: ignore[attr-defined]
A, S = m.AuditEvent.__table__.c, m.DiseaseState.__table__.c  # type: ignore[attr-defined]
WP = WORKLIST_PATIENT.c
OPEN = [s.value for s in m.OPEN_ITEM_STATES]
ITEM_FIELDS = (
    "id",
    "patient_id",
    "kind",
    "state",
    "urgent",
    "earliest",
    "target",
    "latest",
    "rule_id",
    "booked_at",
    "snoozed_until",
)


@dataclass(frozen=True)
class Changed:
    """What changed after the moment: items to rewind one by one, and patients whose navigator,
    death or disease state was recorded since (all their rows are reconstructed one by one)."""

    items: dict[int, list[dict[str, Any]]]  # item id -> audited changes' ``before``, newest first
    withdrawn: set[int]  # items whose trigger was withdrawn (resolved) after the moment
    patients: set[int]


def changed_since(db: sa.Connection, at: dt.datetime) -> Changed:
    events = db.execute(
        sa.select(A.subject, A.before)
        .where(A.at > at, A.subject.like("item:%"))
        .order_by(A.at.desc(), A.id.desc())
    ).all()
    items: dict[int, list[dict[str, Any]]] = {}
    for subject, before in events:
        items.setdefault(int(subject.split(":", 1)[1]), []).append(json.loads(before or "{}"))
    withdrawn = set(
        db.execute(sa.select(T.item_id).where(T.item_id.is_not(None), T.resolved_at > at)).scalars()
    )
    patients = set(
        db.execute(
            sa.select(A.patient_id).where(
                A.at > at,
                A.patient_id.is_not(None),
                sa.or_(
                    A.action == "navigator.reassigned",
                    A.after.like('%"deceased_on": "%'),
                ),
            )
        ).scalars()
    )
    patients |= set(db.execute(sa.select(S.patient_id).where(S.created_at > at)).scalars())
    return Changed(items, withdrawn, patients)


def _not_in(column: Any, values: set[int]) -> list[Any]:
    return [column.not_in(sorted(values))] if values else []


@dataclass(frozen=True)
class Bulk:
    """The unchanged rows' statements for one query at one moment. They walk the live
    worklist's own indexes in the section's order (``worklist.sections``), so a capped count
    or a page stops early, as the live page's do."""

    session: Session
    query: WorklistQuery
    at: dt.datetime
    changed: Changed

    def patients(self, p: Any = WP, *, navigator: bool = True) -> list[Any]:
        """Unchanged patients enrolled by then who match the query (``navigator``: its
        navigator filter too), on the patient columns ``p``. Living now is living then for
        them: a death recorded later made the patient a changed one."""
        query = self.query if navigator else replace(self.query, navigator=None)
        return [
            *_patient_conditions(self.session, query, p),
            p.created_at <= self.at,
            *_not_in(p.id, self.changed.patients),
        ]

    def unchanged_open(self, i: Any) -> list[Any]:
        """Items (columns ``i``) open now and unchanged since the moment: open then."""
        touched = set(self.changed.items) | self.changed.withdrawn
        return [
            _one_of(i.state, m.OPEN_ITEM_STATES),
            i.created_at <= self.at,
            i.updated_at <= self.at,
            *_not_in(i.id, touched),
        ]

    def items(self, key: str, day: Horizon) -> tuple[sa.Select[Any], tuple[Any, ...]]:
        """One item section (overdue, due, soon, lost) of unchanged items, and its order: the
        rules of ``core.as_of.section_of``."""
        alias = {"lost": ITEMS_BY_LATEST, "soon": ITEMS_BY_EARLIEST}.get(key, ITEMS_BY_URGENCY)
        i = alias.c
        unattended = sa.or_(
            i.state != ItemState.BOOKED,
            sa.and_(i.booked_at.is_not(None), i.booked_at < day.start_of_day),
        )
        awake = sa.or_(i.snoozed_until.is_(None), i.snoozed_until <= day.today)
        # The urgency index's two halves, sought into in both (see worklist.sections).
        any_urgency = i.urgent.in_([True, False])
        where: dict[str, list[Any]] = {
            "lost": [i.latest < day.lost_before, unattended],
            "overdue": [
                any_urgency,
                i.latest >= day.lost_before,
                i.latest < day.today,
                unattended,
                awake,
            ],
            "due": [any_urgency, i.latest >= day.today, i.earliest <= day.today, unattended, awake],
            "soon": [
                i.state != ItemState.BOOKED,
                i.earliest > day.today,
                i.earliest <= day.soon_until,
                awake,
            ],
        }
        kind = [i.kind == self.query.kind] if self.query.kind else []
        columns = [getattr(i, name) for name in ITEM_FIELDS]
        stmt = (
            sa.select(*columns, *_patient_columns(WP)[1:])
            .select_from(ordered_join(alias, WORKLIST_PATIENT, WP.id == i.patient_id))
            .where(*self.unchanged_open(i), *where[key], *kind, *self.patients())
        )
        order = {
            "lost": (i.latest, i.id),
            "soon": (i.earliest, i.id),
        }.get(key, (i.urgent.desc(), i.latest, i.id))
        return stmt, order

    def triggers(self) -> tuple[sa.Select[Any], tuple[Any, ...]]:
        """Unchanged patients' triggers raised by then, neither acknowledged nor resolved since
        (their state then is their state now), in the live order."""
        t = TRIGGERS_BY_URGENCY.c
        stmt = (
            sa.select(
                *_patient_columns(WP),
                t.id.label("trigger_id"),
                t.kind,
                t.state,
                t.urgent,
                t.detected_on,
                t.explanation,
                t.confounded,
            )
            .select_from(ordered_join(TRIGGERS_BY_URGENCY, WORKLIST_PATIENT, WP.id == t.patient_id))
            .where(
                _one_of(t.state, m.OPEN_TRIGGER_STATES),
                t.created_at <= self.at,
                sa.or_(t.acknowledged_at.is_(None), t.acknowledged_at <= self.at),
                *self.patients(),
            )
        )
        return stmt, (t.urgent.desc(), t.state.desc(), t.detected_on, t.id)

    def no_plan(self, open_elsewhere: set[int]) -> tuple[sa.Select[Any], tuple[Any, ...]]:
        """Unchanged, undischarged patients with no open item then (``open_elsewhere``: the
        patients with a changed item that was open then)."""
        i = ITEMS_BY_PATIENT.c
        has_open = sa.exists().where(i.patient_id == WP.id, *self.unchanged_open(i))
        stmt = (
            sa.select(*_patient_columns(WP))
            .select_from(WORKLIST_PATIENT)
            .where(~has_open, ~_discharged(WP), *self.patients(), *_not_in(WP.id, open_elsewhere))
        )
        return stmt, (WP.family_name, WP.given_name, WP.id)

    def no_owner(self) -> tuple[sa.Select[Any], tuple[Any, ...]]:
        """Unchanged, undischarged patients with no navigator, whatever the navigator filter."""
        o = NO_OWNER.c
        stmt = (
            sa.select(*_patient_columns(o), o.clinic)
            .select_from(NO_OWNER)
            .where(o.navigator_id.is_(None), ~_discharged(o), *self.patients(o, navigator=False))
        )
        return stmt, (o.clinic, o.family_name, o.given_name, o.id)

    def lookup(self, ids: Sequence[int], *, navigator: bool = True) -> dict[int, Any]:
        """The rows of these unchanged patients who match the query then."""
        wanted = sorted(set(ids) - self.changed.patients)
        out: dict[int, Any] = {}
        db = self.session.connection()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            stmt = (
                sa.select(*_patient_columns(WP), WP.clinic)
                .select_from(WORKLIST_PATIENT)
                .where(WP.id.in_(chunk), *self.patients(navigator=navigator))
            )
            out.update((r.patient_id, r) for r in db.execute(stmt))
        return out


def _patient_columns(p: Any) -> tuple[Any, ...]:
    return (p.id.label("patient_id"), p.mrn, p.family_name, p.given_name, p.timezone)


def _discharged(p: Any) -> Any:
    """Discharged now (an open "discharged" episode), as the live sections say: for a patient
    with no disease state recorded since the moment, as it was then."""
    s = DISCHARGED.c
    return sa.exists().where(
        s.patient_id == p.id,
        s.end_date.is_(None),
        s.kind == sa.literal(StateKind.DISCHARGED.value, literal_execute=True),
    )


def count_rows(
    db: sa.Connection, stmt: sa.Select[Any], order: tuple[Any, ...], *, cap: int | None
) -> int:
    """How many rows, stopping after ``cap + 1`` when capped: walked in the section's order,
    except the patients with no plan, counted in patient order as the live page does."""
    inner: sa.Select[Any] = stmt.with_only_columns(sa.literal_column("1"))
    if cap is not None:
        in_order = order[-1] is not WP.id
        inner = (inner.order_by(*order) if in_order else inner).limit(cap + 1)
    return int(db.execute(sa.select(sa.func.count()).select_from(inner.subquery())).scalar_one())


def first_rows(
    db: sa.Connection, stmt: sa.Select[Any], order: tuple[Any, ...], limit: int
) -> list[Any]:
    return list(db.execute(stmt.order_by(*order).limit(limit)))
