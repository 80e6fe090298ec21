"""The navigator's worklist: what needs a human today, in sections, most urgent first.

Sections (each a query over the registry; counts are exact, rows are paged):

- ``triggers``   open or acknowledged triggers (a finding stays visible until resolved);
- ``overdue``    open items whose window closed before today, up to ``lost_after_days`` ago;
- ``due``        open items whose window contains today;
- ``booked_outside``   booked items whose appointment falls outside their window (with the
  coded reason given), until they are done, cancelled or missed;
- ``booked_no_result`` booked items whose appointment day passed ``no_result_grace_days`` ago
  or more with no result recorded (the patient may not have come);
- ``soon``       planned or ordered items whose window opens within ``soon_days``;
- ``booked``     booked items inside their window, appointment to come, window open or opening
  within ``soon_days`` (so a booked item is never out of sight);
- ``reminders``  reminders that failed (or whose fate is unknown after a crash);
- ``replies``    patients' answers to reminders that need a person (call me, not understood,
  STOP), until handled with a note (``replies.py``);
- ``no_plan``    living, not-discharged patients with no open item at all: the safety net;
- ``no_owner``   living, not-discharged patients with no navigator: nobody's, so everybody's
  (shown whichever navigator the page is filtered to);
- ``lost``       open items overdue beyond ``lost_after_days``: lost to follow-up;
- ``snoozed``    only when asked for by name: snoozed items with the reason and end date.

"Open" means planned, ordered or booked; a booked item only needs attention once its
appointment time has passed without a result (in overdue or due until the grace is over, then
in ``booked_no_result``; in ``lost`` whatever the grace). A snoozed item leaves the daily
sections until its snooze ends, but never leaves ``lost``: snoozing cannot hide a patient for
good.
"""

import dataclasses
import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from surveil.config import Settings
from surveil.core.vocab import ItemKind, ItemState, Site, StateKind
from surveil.core.zones import start_of_day_utc
from surveil.db import models as m
from surveil.db.indexed import indexed_alias, ordered_join
from surveil.errors import InvalidInput, Problem
from surveil.services.actor import Actor
from surveil.services.registry.search import patient_matches
from surveil.services.worklist import snoozed
from surveil.services.worklist.booked import (
    BookedSection,
    booking_specs,
    upcoming_booking_specs,
)
from surveil.services.worklist.contacts import latest_contacts
from surveil.services.worklist.replies import replies_spec
from surveil.services.worklist.rows import (
    WorkRow,
    closes_in,
    item_row,
    no_owner_row,
    no_plan_row,
    opens_in,
    reminder_row,
    trigger_row,
)
from surveil.services.worklist.snoozed import snoozed_spec

__all__ = ["Section", "WorkRow", "Worklist", "WorklistQuery", "build_worklist"]

OVERVIEW_ROWS = 10  # rows per section on the overview; "show all" pages through the rest
# The overview counts up to this many rows per section and then says "1000+": on a large
# registry an exact count of thousands of lost items costs more than the rest of the page, and
# nobody works through a thousand rows from the overview. A focused section counts exactly.
COUNT_CAP = 1000
# Up to this many patients, a page starts from them and looks up their own items; beyond it,
# each section walks its index (on the 100k registry the two cost the same near 5,000).
FEW_PATIENTS = 2000


def _table(model: Any, name: str, index: str | None = None) -> Any:
    table: sa.Table = model.__table__
    return indexed_alias(table, name, index) if index else table.alias(name)


# Core table aliases: short names keep the SQL readable, and rows come back as plain tuples.
ITEM, PATIENT, TRIGGER, REMINDER = (
    _table(m.FollowUpItem, "i"),
    _table(m.Patient, "p"),
    _table(m.Trigger, "t"),
    _table(m.Reminder, "r"),
)
TUMOUR = _table(m.Tumour, "u")
I, P, T, R, U = ITEM.c, PATIENT.c, TRIGGER.c, REMINDER.c, TUMOUR.c  # noqa: E741

# Each section reads its rows off the front of an index kept in the section's order (see the
# indexes in db/models.py); on SQLite the statement names it (db/indexed.py).
ITEMS_BY_URGENCY = _table(m.FollowUpItem, "i", "ix_followup_item_open_by_urgency")
ITEMS_BY_LATEST = _table(m.FollowUpItem, "i", "ix_followup_item_open_by_latest")
ITEMS_BY_EARLIEST = _table(m.FollowUpItem, "i", "ix_followup_item_open_by_earliest")
ITEMS_BY_PATIENT = _table(m.FollowUpItem, "i", "ix_followup_item_open_by_patient")
ITEMS_BOOKED = _table(m.FollowUpItem, "i", "ix_followup_item_booked")
TRIGGERS_BY_URGENCY = _table(m.Trigger, "t", "ix_trigger_open_by_urgency")
# ... unless the filter picks out a few patients: then start from them and look up their own.
ITEMS_OF_PATIENT = _table(m.FollowUpItem, "i", "ix_followup_item_patient_state")
TRIGGERS_OF_PATIENT = _table(m.Trigger, "t", "ix_trigger_patient_id")
DISCHARGED = _table(m.DiseaseState, "s", "ix_diseasestate_discharged")
NO_OWNER = _table(m.Patient, "p", "ix_patient_no_owner")


def _one_of(column: Any, values: Sequence[StrEnum]) -> Any:
    """``column IN ('a', 'b')`` with the values written into the SQL, in the order of the partial
    indexes' own predicates (models.in_sql): SQLite uses a partial index only for a query that
    repeats its predicate, and never matches a bound parameter against it."""
    return column.in_([sa.literal(v.value, literal_execute=True) for v in values])


@dataclass(frozen=True)
class WorklistQuery:
    """What the navigator asked for. ``section`` focuses one section and pages through it."""

    today: dt.date
    clinic: str | None = None
    navigator: str | None = None
    site: str | None = None
    kind: str | None = None
    search: str | None = None
    section: str | None = None
    page: int = 1


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    hint: str
    count: int
    rows: tuple[WorkRow, ...]
    page: int
    pages: int
    capped: bool = False  # count stopped at the cap: there are more than ``count``

    @property
    def truncated(self) -> bool:
        return self.count > len(self.rows)

    @property
    def count_text(self) -> str:
        return f"{self.count:,}+" if self.capped else f"{self.count:,}"


@dataclass(frozen=True)
class Worklist:
    query: WorklistQuery
    sections: tuple[Section, ...]

    @property
    def counts(self) -> dict[str, int]:
        return {s.key: s.count for s in self.sections}


@dataclass(frozen=True)
class _Spec:
    key: str
    title: str
    hint: str
    stmt: sa.Select[Any]
    order: tuple[Any, ...]
    to_row: Callable[[Any], WorkRow]
    # A capped count walks the rows in the page's order, down the same index as the page, and
    # stops at the cap. The safety net counts in patient order instead: its probes into the
    # open items' index then move forwards through it rather than jumping about.
    count_in_order: bool = True

    def count(self, cap: int | None) -> sa.Select[Any]:
        """``SELECT count(*)`` over the section, stopping after ``cap + 1`` rows when capped."""
        # Only a constant: SQLite would otherwise read every counted row's shown columns.
        inner: sa.Select[Any] = self.stmt.with_only_columns(sa.literal_column("1"))
        if cap is not None:
            inner = (inner.order_by(*self.order) if self.count_in_order else inner).limit(cap + 1)
        return sa.select(sa.func.count()).select_from(inner.subquery())

    def rows(self, offset: int, limit: int) -> sa.Select[Any]:
        return self.stmt.order_by(*self.order).offset(offset).limit(limit)


SECTION_KEYS = (
    "triggers",
    "overdue",
    "due",
    "booked_outside",
    "booked_no_result",
    "soon",
    "booked",
    "reminders",
    "replies",
    "no_plan",
    "no_owner",
    "lost",
    "snoozed",  # a view asked for by name, not on the overview (``snoozed``)
)


def build_worklist(
    session: Session,
    *,
    query: WorklistQuery,
    actor: Actor,
    settings: Settings,
    count_cap: int | None = None,
) -> Worklist:
    """Run every section's count and the rows to show. Non-admins see their own clinic only.
    With ``count_cap``, the overview's counts stop there (see COUNT_CAP)."""
    query = _checked(query, actor)
    focus = query.section
    cap = None if focus else count_cap
    sections = []
    db = session.connection()
    for spec in section_specs(session, query=query, settings=settings):
        if focus and spec.key != focus:
            continue
        size = settings.worklist.page_size if focus else OVERVIEW_ROWS
        # Core statements on the session's connection: the ORM has nothing to add to them.
        total = int(db.execute(spec.count(cap)).scalar_one())
        capped = cap is not None and total > cap
        total = min(total, cap) if cap is not None else total
        pages = max(1, math.ceil(total / size))
        page = min(max(query.page, 1), pages) if focus else 1
        found = db.execute(spec.rows((page - 1) * size, size)).all()
        rows = tuple(spec.to_row(r) for r in found)
        sections.append(Section(spec.key, spec.title, spec.hint, total, rows, page, pages, capped))
    return Worklist(query=query, sections=with_contacts(db, sections))


def with_contacts(db: sa.Connection, sections: list[Section]) -> tuple[Section, ...]:
    """Each row with the latest outreach to its patient (one query for every row shown)."""
    contacts = latest_contacts(db, [r.patient_id for s in sections for r in s.rows])
    if not contacts:
        return tuple(sections)
    return tuple(
        dataclasses.replace(
            s,
            rows=tuple(
                dataclasses.replace(r, last_contact=contacts.get(r.patient_id, "")) for r in s.rows
            ),
        )
        for s in sections
    )


def filter_problems(*, site: str | None, kind: str | None, section: str | None) -> list[Problem]:
    """What is wrong with the filters (all of it, so the page can say it at once)."""
    problems = []
    if site and site not in Site.__members__.values():
        problems.append(Problem("site", f"{site!r} is not a tumour site"))
    if kind and kind not in ItemKind.__members__.values():
        problems.append(Problem("kind", f"{kind!r} is not an item kind"))
    if section and section not in SECTION_KEYS:
        problems.append(Problem("section", f"{section!r} is not one of {', '.join(SECTION_KEYS)}"))
    return problems


def _checked(query: WorklistQuery, actor: Actor) -> WorklistQuery:
    problems = filter_problems(site=query.site, kind=query.kind, section=query.section)
    if problems:
        raise InvalidInput(problems, what="worklist filter")
    # Navigators and clinicians are held to their clinic whatever the URL says.
    clinic = query.clinic if actor.is_admin else actor.clinic
    search = (query.search or "").strip()[:100] or None
    return replace(query, clinic=clinic or None, search=search)


# --------------------------------------------------------------------------- the sections


def section_specs(session: Session, *, query: WorklistQuery, settings: Settings) -> list[_Spec]:
    """Each section's statement (filters applied, no ORDER BY) and its urgency order. Public so the
    benchmark can time the same statements bare."""
    today = query.today
    n = settings.worklist
    lost_before = today - dt.timedelta(days=n.lost_after_days)
    soon_until = today + dt.timedelta(days=n.soon_days)
    cutoff = start_of_day_utc(today, settings.clinic.timezone)
    patients, few = _patient_filter(session, query)
    # A filter that picks out a handful of patients (or none): start from them rather than walk
    # an index over every open item looking for theirs.
    by_urgency, by_latest, by_earliest, triggers = (
        (ITEMS_OF_PATIENT, ITEMS_OF_PATIENT, ITEMS_OF_PATIENT, TRIGGERS_OF_PATIENT)
        if few
        else (ITEMS_BY_URGENCY, ITEMS_BY_LATEST, ITEMS_BY_EARLIEST, TRIGGERS_BY_URGENCY)
    )
    iu, il, ie, t = by_urgency.c, by_latest.c, by_earliest.c, triggers.c
    by_booking = ITEMS_OF_PATIENT if few else ITEMS_BOOKED

    def joined(alias: Any) -> Any:
        # Which table drives is fixed too (SQLite would otherwise guess): the few patients,
        # or the section's index.
        on = P.id == alias.c.patient_id
        return ordered_join(PATIENT, alias, on) if few else ordered_join(alias, PATIENT, on)

    def items(alias: Any, *where: Any) -> sa.Select[Any]:
        i = alias.c
        kind = [i.kind == query.kind] if query.kind else []
        return (
            sa.select(*_item_columns(i))
            .select_from(joined(alias))
            .where(_one_of(i.state, m.OPEN_ITEM_STATES), *where, *kind, *patients)
        )

    def unattended(i: Any) -> Any:
        # A booked item needs nothing until its appointment has passed without a result.
        return sa.or_(i.state != ItemState.BOOKED, i.booked_at < cutoff)

    grace = dt.timedelta(days=settings.bookings.no_result_grace_days)
    no_result_before = start_of_day_utc(today - grace, settings.clinic.timezone)

    def missed_lately(i: Any) -> Any:
        # Overdue and due show a booked item from its appointment until the grace is over;
        # then it moves to "booked, no result" (booked.py). Lost keeps it whatever the grace.
        return sa.or_(
            i.state != ItemState.BOOKED,
            sa.and_(i.booked_at < cutoff, i.booked_at >= no_result_before),
        )

    def awake(i: Any) -> Any:
        return sa.or_(i.snoozed_until.is_(None), i.snoozed_until <= today)

    def any_urgency(i: Any) -> Any:
        # True of every row (urgent is never NULL), but it lets the database seek to the window
        # in both halves of the urgency index instead of stepping over every lost item first.
        return i.urgent.in_([True, False])

    when: dict[str, Any] = {"today": today, "settings": settings}
    return [
        _Spec(
            "triggers",
            "Open triggers",
            "Findings waiting for a clinician: acknowledge, then resolve with an outcome.",
            sa.select(*_trigger_columns(t))
            .select_from(joined(triggers))
            .where(_one_of(t.state, m.OPEN_TRIGGER_STATES), *patients),
            # Open before acknowledged: of the two, 'open' sorts last.
            (t.urgent.desc(), t.state.desc(), t.detected_on, t.id),
            lambda r: trigger_row(r, today),
        ),
        _Spec(
            "overdue",
            "Overdue",
            "The window has closed: order, book or record why not.",
            items(
                by_urgency,
                any_urgency(iu),
                iu.latest < today,
                iu.latest >= lost_before,
                missed_lately(iu),
                awake(iu),
            ),
            (iu.urgent.desc(), iu.latest, iu.id),
            lambda r: item_row("overdue", r, f"{(today - r.latest).days} days overdue"),
        ),
        _Spec(
            "due",
            "Due now",
            "The window is open today.",
            items(
                by_urgency,
                any_urgency(iu),
                iu.latest >= today,
                iu.earliest <= today,
                missed_lately(iu),
                awake(iu),
            ),
            (iu.urgent.desc(), iu.latest, iu.id),
            lambda r: item_row("due", r, closes_in(r.latest, today)),
        ),
        *map(_booked, booking_specs(items, by_booking, **when)),
        _Spec(
            "soon",
            f"Opening in the next {n.soon_days} days",
            "Order ahead so the appointment falls inside the window.",
            items(
                by_earliest,
                ie.state != ItemState.BOOKED,
                ie.earliest > today,
                ie.earliest <= soon_until,
                awake(ie),
            ),
            (ie.earliest, ie.id),
            lambda r: item_row("soon", r, opens_in(r.earliest, today)),
        ),
        *map(_booked, upcoming_booking_specs(items, by_booking, **when)),
        *(  # only when asked for: it walks every open item (``snoozed``)
            [_booked(snoozed_spec(items, by_earliest, today=today, lost_before=lost_before))]
            if query.section == snoozed.KEY
            else []
        ),
        _Spec(
            "reminders",
            "Reminders that failed",
            "The patient may not know: call them, or fix the address.",
            _reminders(query, patients),
            (R.send_after, R.id),
            reminder_row,
        ),
        _booked(replies_spec(PATIENT, ITEM, patients, query.kind)),
        _Spec(
            "no_plan",
            "Active patients with no future item",
            "Nobody is following these patients up: plan or discharge them.",
            _no_plan(patients),
            (P.family_name, P.given_name, P.id),
            no_plan_row,
            count_in_order=False,
        ),
        _Spec(
            "no_owner",
            "Active patients with no navigator",
            "Nobody is named to follow these patients up: assign a navigator.",
            _no_owner(session, query),
            (NO_OWNER.c.clinic, NO_OWNER.c.family_name, NO_OWNER.c.given_name, NO_OWNER.c.id),
            no_owner_row,
        ),
        _Spec(
            "lost",
            f"Lost to follow-up (over {n.lost_after_days} days overdue)",
            "Overdue for so long the patient may have left care: trace them.",
            items(by_latest, il.latest < lost_before, unattended(il)),
            (il.latest, il.id),
            lambda r: item_row("lost", r, f"{(today - r.latest).days} days overdue"),
        ),
    ]


def _booked(b: BookedSection) -> _Spec:
    return _Spec(b.key, b.title, b.hint, b.stmt, b.order, b.to_row)


_PATIENT_COLUMNS = (P.id.label("patient_id"), P.mrn, P.family_name, P.given_name)


def _item_columns(i: Any) -> tuple[Any, ...]:
    return (
        *_PATIENT_COLUMNS,
        i.id.label("item_id"),
        i.kind,
        i.state,
        i.urgent,
        i.earliest,
        i.target,
        i.latest,
        i.rule_id,
        i.booked_at,
        i.snoozed_until,
        P.timezone,  # a booking is shown in the patient's zone
    )


def _trigger_columns(t: Any) -> tuple[Any, ...]:
    return (
        *_PATIENT_COLUMNS,
        t.id.label("trigger_id"),
        t.kind,
        t.state,
        t.urgent,
        t.detected_on,
        t.explanation,
        t.confounded,
    )


def _patient_filter(session: Session, query: WorklistQuery) -> tuple[list[Any], bool]:
    """The conditions on patients, and whether they pick out only a few (or nobody).

    A few patients are looked up once and named by id, so each section starts from them and
    their own items; a crowd is left to each section's walk down its index."""
    where = _patient_conditions(session, query)
    # One pass (a search has to read every name): a crowd costs fetching 2,001 ids.
    found = session.execute(sa.select(P.id).where(*where).limit(FEW_PATIENTS + 1)).scalars()
    ids = list(found)
    if len(ids) > FEW_PATIENTS:
        return where, False
    # The conditions stay: the ids only tell the database where to start.
    return [*where, P.id.in_(ids)], True


def _patient_conditions(session: Session, query: WorklistQuery, p: Any = P) -> list[Any]:
    """Living patients, narrowed by the query's clinic, navigator, tumour site and search, on the
    patient columns ``p`` (the patient table's alias in the statement)."""
    where: list[Any] = [p.deceased_on.is_(None)]
    if query.clinic:
        where.append(p.clinic == query.clinic)
    if query.navigator:
        nav = session.exec(select(m.User.id).where(m.User.username == query.navigator)).first()
        # An unknown navigator matches nobody (not, via "= NULL", the unassigned patients).
        where.append(p.navigator_id == nav if nav is not None else sa.false())
    if query.site:
        # A probe per patient into the tumour's (unique) patient index, not an IN list built
        # from every tumour at the site for each of the page's statements.
        where.append(sa.exists().where(U.patient_id == p.id, U.site == query.site))
    if query.search:
        where.append(patient_matches(query.search, p))
    return where


def _reminders(query: WorklistQuery, patients: list[Any]) -> sa.Select[Any]:
    stmt = (
        sa.select(
            *_PATIENT_COLUMNS,
            R.id.label("reminder_id"),
            R.stage,
            R.channel,
            R.state,
            R.last_error,
            R.send_after,
            R.attempts,
            I.kind,
            P.timezone,
        )
        .select_from(REMINDER)
        .join(PATIENT, P.id == R.patient_id)
        .outerjoin(ITEM, I.id == R.item_id)
        .where((R.state).in_([m.ReminderState.FAILED, m.ReminderState.UNKNOWN]), *patients)
    )
    return stmt.where(I.kind == query.kind) if query.kind else stmt


def _no_owner(session: Session, query: WorklistQuery) -> sa.Select[Any]:
    """Living, not-discharged patients without a navigator, whichever navigator the page is
    filtered to. Read off the small partial index of such patients (db/models.py), then one
    probe each into the discharged index."""
    o, s = NO_OWNER.c, DISCHARGED.c
    discharged = sa.exists().where(
        s.patient_id == o.id,
        s.end_date.is_(None),
        s.kind == sa.literal(StateKind.DISCHARGED.value, literal_execute=True),
    )
    patients = _patient_conditions(session, replace(query, navigator=None), o)
    columns = (o.id.label("patient_id"), o.mrn, o.family_name, o.given_name)
    return (
        sa.select(*columns)
        .select_from(NO_OWNER)
        .where(o.navigator_id.is_(None), ~discharged, *patients)
    )


def _no_plan(patients: list[Any]) -> sa.Select[Any]:
    # Two probes per living patient, each into a small partial index (see db/models.py).
    i, s = ITEMS_BY_PATIENT.c, DISCHARGED.c
    has_open = sa.exists().where(i.patient_id == P.id, _one_of(i.state, m.OPEN_ITEM_STATES))
    discharged = sa.exists().where(
        s.patient_id == P.id,
        s.end_date.is_(None),
        s.kind == sa.literal(StateKind.DISCHARGED.value, literal_execute=True),
    )
    return (
        sa.select(*_PATIENT_COLUMNS).select_from(PATIENT).where(~has_open, ~discharged, *patients)
    )


def filter_choices(session: Session, *, actor: Actor) -> tuple[list[tuple[str, str]], list[str]]:
    """Navigators (username, name) the actor may filter by, and the clinics an admin may pick."""
    users = select(m.User.username, m.User.display_name).where(
        m.User.role == m.Role.NAVIGATOR,
        m.User.active == True,  # noqa: E712 - SQL, not Python
    )
    if not actor.is_admin:
        users = users.where(m.User.clinic == actor.clinic)
    navigators = [(u, n) for u, n in session.exec(users.order_by(m.User.display_name)).all()]
    clinics: list[str] = []
    if actor.is_admin:
        clinics = list(session.execute(sa.select(P.clinic).distinct().order_by(P.clinic)).scalars())
    return navigators, clinics
