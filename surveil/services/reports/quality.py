"""The quality page (``/reports/quality``): is surveillance happening on time, for a period and a
clinic, navigator, tumour site or rule (``core.quality`` does the arithmetic and says what each
figure means). Clinicians and administrators only: it lists reasons as staff typed them, so
opening it is an audited read.

Overdue and lost are counted from the items' state today for windows that closed by the period's
end (the worklist as it was, ``reports.as_of``, answers "what did it say then").
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import NamedTuple

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta

from surveil.config import Settings
from surveil.core import quality as q
from surveil.core.vocab import ItemKind, ItemState, Site
from surveil.db import models as m
from surveil.db.base import as_utc
from surveil.db.session import session_scope
from surveil.errors import InvalidInput, PermissionDenied, Problem
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.entry import audited_read

TREND_MONTHS = 24
ITEM, PATIENT = m.FollowUpItem.__table__.c, m.Patient.__table__.c  # type: ignore[attr-defined]
TRIGGER, REMINDER = m.Trigger.__table__.c, m.Reminder.__table__.c  # type: ignore[attr-defined]
TUMOUR, USER = m.Tumour.__table__.c, m.User.__table__.c  # type: ignore[attr-defined]
OVERRIDE = m.PlanOverride.__table__.c  # type: ignore[attr-defined]


@dataclass(frozen=True)
class QualityQuery:
    start: dt.date
    end: dt.date  # inclusive
    clinic: str | None = None
    navigator: str | None = None
    site: str | None = None
    rule: str | None = None


@dataclass(frozen=True)
class Quality:
    query: QualityQuery
    timeliness: q.Timeliness
    still_overdue: int
    lost_items: int
    lost_patients: int
    patients_with_open: int
    to_board: q.Interval
    to_resolution: q.Interval
    reminders_due: int
    reminders_sent: int
    reminders_failed: int
    declines: tuple[tuple[str, str, str, int], ...]
    trend: tuple[tuple[str, q.Timeliness], ...]  # month, figures: 24 months ending with the end

    @property
    def lost_rate(self) -> float | None:
        return q.pct(self.lost_patients, self.patients_with_open)

    @property
    def sent_pct(self) -> float | None:
        return q.pct(self.reminders_sent, self.reminders_due)

    @property
    def failed_pct(self) -> float | None:
        return q.pct(self.reminders_failed, self.reminders_due)


@audited_read("quality.viewed")
def quality_report(
    engine: sa.Engine, *, actor: Actor, query: QualityQuery, settings: Settings
) -> Quality:
    """The figures for ``query``; a navigator is refused, others see their own clinic."""
    if actor.role == m.Role.NAVIGATOR:
        raise PermissionDenied("The quality page is for clinicians and administrators.")
    _check(query)
    clinic = query.clinic if actor.is_admin else actor.clinic
    query = QualityQuery(query.start, query.end, clinic, query.navigator, query.site, query.rule)
    with session_scope(engine) as session:
        db = session.connection()
        patients = _patients(db, query)
        result = _figures(db, query, patients, settings)
        audit(
            session,
            actor=actor,
            action="quality.viewed",
            subject=f"clinic:{clinic}" if clinic else "clinic:all",
            detail=f"{query.start} to {query.end}",
        )
    return result


def _check(query: QualityQuery) -> None:
    problems = []
    if query.start > query.end:
        problems.append(Problem("start", "must be on or before the end"))
    if query.site and query.site not in Site.__members__.values():
        problems.append(Problem("site", f"{query.site!r} is not a tumour site"))
    if problems:
        raise InvalidInput(problems, what="quality period")


def _patients(db: sa.Connection, query: QualityQuery) -> sa.Select[tuple[int]]:
    """The ids of the patients the figures are about (a subquery)."""
    stmt = sa.select(PATIENT.id)
    if query.clinic:
        stmt = stmt.where(PATIENT.clinic == query.clinic)
    if query.navigator:
        nav = db.execute(sa.select(USER.id).where(USER.username == query.navigator)).scalar()
        stmt = stmt.where(PATIENT.navigator_id == nav if nav is not None else sa.false())
    if query.site:
        stmt = stmt.where(
            sa.exists().where(TUMOUR.patient_id == PATIENT.id, TUMOUR.site == query.site)
        )
    return stmt


def _figures(
    db: sa.Connection, query: QualityQuery, patients: sa.Select[tuple[int]], settings: Settings
) -> Quality:
    rule = [ITEM.rule_id == query.rule] if query.rule else []
    mine = [ITEM.patient_id.in_(patients), *rule]
    trend_start = (query.end.replace(day=1)) - relativedelta(months=TREND_MONTHS - 1)
    timeliness, trend = _timeliness(db, query, mine, trend_start)

    lost_before = query.end - dt.timedelta(days=settings.worklist.lost_after_days)
    open_items = _open_items(db, query, mine, lost_before)
    board, resolution = _trigger_intervals(db, query, patients)
    sent, failed, due = _reminders(db, query, patients)
    return Quality(
        query=query,
        timeliness=timeliness,
        still_overdue=open_items.overdue,
        lost_items=open_items.lost_items,
        lost_patients=open_items.lost_patients,
        patients_with_open=open_items.patients,
        to_board=q.intervals(board),
        to_resolution=q.intervals(resolution),
        reminders_due=due,
        reminders_sent=sent,
        reminders_failed=failed,
        declines=tuple(_declines(db, query, patients, mine)),
        trend=trend,
    )


class _OpenItems(NamedTuple):
    patients: int  # with an item still open
    overdue: int  # open items whose window closed before the period's end
    lost_items: int  # ... closed before ``lost_before``
    lost_patients: int


def _open_items(
    db: sa.Connection,
    query: QualityQuery,
    mine: list[sa.ColumnElement[bool]],
    lost_before: dt.date,
) -> _OpenItems:
    """Counted in the database in one pass: reading the open items (a third of a large
    registry's) into Python to count them took most of the page's time."""
    lost = ITEM.latest < lost_before
    row = db.execute(
        sa.select(
            sa.func.count(sa.distinct(ITEM.patient_id)),
            sa.func.count(sa.case((ITEM.latest < query.end, 1))),
            sa.func.count(sa.case((lost, 1))),
            sa.func.count(sa.distinct(sa.case((lost, ITEM.patient_id)))),
        ).where(
            ITEM.state.in_([s.value for s in m.OPEN_ITEM_STATES]),
            ITEM.created_at <= _end_instant(query.end),
            *mine,
        )
    ).one()
    return _OpenItems(*(int(n or 0) for n in row))


def _timeliness(
    db: sa.Connection,
    query: QualityQuery,
    mine: list[sa.ColumnElement[bool]],
    trend_start: dt.date,
) -> tuple[q.Timeliness, tuple[tuple[str, q.Timeliness], ...]]:
    """The period's figures and the 24 months' trend from one grouped count of the done items
    by day and timing (early, on time, late); a late item's group also keeps its window's end,
    so how late each was is known without reading the items one by one."""
    late = ITEM.completed_on > ITEM.latest
    timing = sa.case((ITEM.completed_on < ITEM.earliest, "early"), (late, "late"), else_="on_time")
    closed = sa.case((late, ITEM.latest), else_=sa.null()).label("closed")
    first = min(trend_start, query.start)
    grouped = db.execute(
        sa.select(ITEM.completed_on, timing, closed, sa.func.count())
        .where(
            ITEM.state == ItemState.DONE,
            *mine,
            ITEM.completed_on >= first,
            ITEM.completed_on <= query.end,
        )
        .group_by(ITEM.completed_on, timing, closed)
    ).all()
    per_month: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    counts: dict[str, int] = defaultdict(int)
    late_ones: list[q.DoneItem] = []
    for day, kind, latest, n in grouped:
        day = _as_date(day)
        if day >= trend_start:
            per_month[q.month_key(day)][kind] += n
        if day >= query.start:
            counts[kind] += n
            if kind == "late":
                closed_on = _as_date(latest)
                late_ones += [q.DoneItem(closed_on, closed_on, day)] * n
    late_only = q.timeliness(late_ones)
    period = q.Timeliness(
        done=sum(counts.values()),
        on_time=counts["on_time"],
        early=counts["early"],
        late=late_only.late,
        late_days_median=late_only.late_days_median,
        late_days_max=late_only.late_days_max,
    )
    months = [q.month_key(trend_start + relativedelta(months=n)) for n in range(TREND_MONTHS)]
    trend = tuple((mk, _month_figures(per_month.get(mk, {}))) for mk in months)
    return period, trend


def _as_date(value: dt.date | str) -> dt.date:
    """A CASE over a date column comes back as text from SQLite."""
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def _month_figures(counts: dict[str, int]) -> q.Timeliness:
    return q.Timeliness(
        done=sum(counts.values()),
        on_time=counts.get("on_time", 0),
        early=counts.get("early", 0),
        late=counts.get("late", 0),
        late_days_median=None,
        late_days_max=None,
    )


def _start_instant(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def _end_instant(day: dt.date) -> dt.datetime:
    return _start_instant(day + dt.timedelta(days=1))


def _trigger_intervals(
    db: sa.Connection, query: QualityQuery, patients: sa.Select[tuple[int]]
) -> tuple[list[int], list[int]]:
    rows = db.execute(
        sa.select(
            TRIGGER.detected_on, TRIGGER.resolved_at, ITEM.kind, ITEM.state, ITEM.completed_on
        )
        .select_from(m.Trigger.__table__)  # type: ignore[attr-defined]
        .outerjoin(m.FollowUpItem.__table__, ITEM.id == TRIGGER.item_id)  # type: ignore[attr-defined]
        .where(
            TRIGGER.detected_on >= query.start,
            TRIGGER.detected_on <= query.end,
            TRIGGER.patient_id.in_(patients),
        )
    ).all()
    board = [
        (r.completed_on - r.detected_on).days
        for r in rows
        if r.kind == ItemKind.TUMOUR_BOARD and r.state == ItemState.DONE and r.completed_on
    ]
    resolution = [
        (as_utc(r.resolved_at).date() - r.detected_on).days for r in rows if r.resolved_at
    ]
    return board, resolution


def _reminders(
    db: sa.Connection, query: QualityQuery, patients: sa.Select[tuple[int]]
) -> tuple[int, int, int]:
    rows = db.execute(
        sa.select(REMINDER.state, sa.func.count())
        .where(
            REMINDER.send_after >= _start_instant(query.start),
            REMINDER.send_after < _end_instant(query.end),
            REMINDER.patient_id.in_(patients),
            REMINDER.state != m.ReminderState.SUPPRESSED,
        )
        .group_by(REMINDER.state)
    ).all()
    counts = {state: int(n) for state, n in rows}
    return (
        counts.get(m.ReminderState.SENT, 0),
        counts.get(m.ReminderState.FAILED, 0),
        sum(counts.values()),
    )


def _declines(
    db: sa.Connection,
    query: QualityQuery,
    patients: sa.Select[tuple[int]],
    mine: list[sa.ColumnElement[bool]],
) -> list[tuple[str, str, str, int]]:
    """Items declined or found not needed, and plan overrides, made in the period."""
    start, end = _start_instant(query.start), _end_instant(query.end)
    closed = db.execute(
        sa.select(ITEM.state, ITEM.rule_id, ITEM.outcome_note).where(
            ITEM.state.in_([ItemState.DECLINED, ItemState.NOT_NEEDED]),
            ITEM.updated_at >= start,
            ITEM.updated_at < end,
            *mine,
        )
    ).all()
    rows = [(str(s).replace("_", " "), r, (n or "").strip()) for s, r, n in closed]
    if not query.rule:
        overrides = db.execute(
            sa.select(OVERRIDE.kind, OVERRIDE.reason).where(
                OVERRIDE.created_at >= start,
                OVERRIDE.created_at < end,
                OVERRIDE.patient_id.in_(patients),
            )
        ).all()
        rows += [("override", f"{k} interval", (r or "").strip()) for k, r in overrides]
    return q.by_reason(rows)
