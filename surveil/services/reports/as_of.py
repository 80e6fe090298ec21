"""The worklist as it was at a past moment, for incident review (``/worklist?as_of=``).

Reconstructed from history, never from a stored copy: the patients enrolled by then, each item
created by then rewound through the audited changes made since (``core.as_of``), the triggers by
their own timestamps, the navigator as the audited reassignments say, the disease state as the
episodes recorded by then say, each reminder's state, attempts and error replayed from its
delivery ledger and the audited retries (``as_of_reminders``). Then the same rules as the live
sections place each row.

Only what changed since the moment is rewound here, row by row: items with an audited change,
a withdrawn trigger or a later ``updated_at``, triggers acknowledged or resolved since, and
every row of a patient whose navigator, death or disease state was recorded since. Everything
else stood then as it stands now, and is counted and paged in the database down the live
sections' indexes (``as_of_bulk``); the two are merged in the live order. On the 100k registry
that is 0.13 s of CPU for the overview instead of 10 s.
"""

import datetime as dt
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlmodel import Session

from surveil.config import Settings
from surveil.core.as_of import Horizon, ItemThen, rewind, section_of, trigger_state_then
from surveil.core.vocab import StateKind
from surveil.core.zones import start_of_day_utc, today_in
from surveil.db import models as m
from surveil.db.session import session_scope
from surveil.errors import InvalidInput, Problem
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.entry import audited_read
from surveil.services.reports.as_of_bulk import OPEN, Bulk, changed_since, count_rows, first_rows
from surveil.services.reports.as_of_reminders import reminders_then
from surveil.services.worklist.rows import (
    WorkRow,
    closes_in,
    item_row,
    no_owner_row,
    no_plan_row,
    opens_in,
    trigger_row,
)
from surveil.services.worklist.sections import (
    OVERVIEW_ROWS,
    SECTION_KEYS,
    Section,
    Worklist,
    WorklistQuery,
    _checked,
    _patient_conditions,
    section_specs,
    with_contacts,
)

ITEM_TABLE = m.FollowUpItem.__table__  # type: ignore[attr-defined]
P, ITEM, T = m.Patient.__table__.c, m.FollowUpItem.__table__.c, m.Trigger.__table__.c  # type: ignore[attr-defined]
A, S, U = m.AuditEvent.__table__.c, m.DiseaseState.__table__.c, m.User.__table__.c  # type: ignore[attr-defined]


@dataclass(frozen=True)
class AsOf:
    """The worklist at ``moment`` (aware UTC), shown as ``local`` in the clinic's zone."""

    moment: dt.datetime
    local: str
    worklist: Worklist


def parse_moment(text: str, timezone: str, *, now: dt.datetime) -> dt.datetime:
    """``2026-11-02T09:00`` (the clinic's wall clock) as an aware UTC instant, not in the future."""
    from zoneinfo import ZoneInfo

    try:
        local = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            Problem("as_of", f"{text!r} is not a moment as YYYY-MM-DDTHH:MM"), what="worklist"
        ) from None
    if local.tzinfo is None:
        local = local.replace(tzinfo=ZoneInfo(timezone))
    moment = local.astimezone(dt.UTC)
    if moment > now or local.year < 1900:
        raise InvalidInput(
            Problem("as_of", "must be a past moment (the worklist as it was)"), what="worklist"
        )
    return moment


@audited_read("worklist.as_of_viewed")
def worklist_as_of(
    engine: sa.Engine,
    *,
    actor: Actor,
    query: WorklistQuery,
    moment: dt.datetime,
    settings: Settings,
    count_cap: int | None = None,
) -> AsOf:
    """What the worklist showed at ``moment`` for ``query`` (its ``today`` is ignored: the day is
    the moment's date in the clinic's zone). With ``count_cap`` the overview's counts stop
    there, as the live overview's do. Reviewing a past worklist is audited."""
    zone = settings.clinic.timezone
    day = today_in(zone, moment)
    query = _checked(replace(query, today=day), actor)
    with session_scope(engine) as session:
        titles = {
            s.key: (s.title, s.hint) for s in section_specs(session, query=query, settings=settings)
        }
        cap = None if query.section else count_cap
        sections = _sections(session, query, moment, settings, titles, cap)
        worklist = Worklist(query=query, sections=with_contacts(session.connection(), sections))
        audit(
            session,
            actor=actor,
            action="worklist.as_of_viewed",
            subject=f"clinic:{query.clinic}" if query.clinic else "clinic:all",
            detail=f"as of {moment.isoformat(timespec='minutes')}",
        )
    local = moment.astimezone(_zone(zone)).strftime("%Y-%m-%d %H:%M %Z")
    return AsOf(moment=moment, local=f"{local} ({zone})", worklist=worklist)


def _zone(name: str) -> dt.tzinfo:
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def _utc(value: Any) -> dt.datetime | None:
    """A stored timestamp, or the text of one in an audit value, as an aware UTC instant."""
    if value is None or value == "":
        return None
    stamp = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return stamp.replace(tzinfo=dt.UTC) if stamp.tzinfo is None else stamp.astimezone(dt.UTC)


def _date(value: Any) -> dt.date | None:
    if value is None or value == "":
        return None
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


# --------------------------------------------------------------------------- reconstruction


class _Patient(NamedTuple):
    patient_id: int
    mrn: str
    family_name: str
    given_name: str
    timezone: str
    clinic: str


Pairs = list[tuple[tuple[Any, ...], WorkRow]]
ITEM_SECTIONS = ("overdue", "due", "soon", "lost")


def _sections(
    session: Session,
    query: WorklistQuery,
    moment: dt.datetime,
    settings: Settings,
    titles: dict[str, tuple[str, str]],
    cap: int | None,
) -> list[Section]:
    """Each section at ``moment``: the unchanged rows counted and paged in the database
    (``as_of_bulk``), the changed ones rewound here and merged in, in the live order."""
    db = session.connection()
    at = moment.astimezone(dt.UTC)  # the columns are UTCDateTime: aware on both backends
    n = settings.worklist
    day = Horizon(
        today=query.today,
        start_of_day=start_of_day_utc(query.today, settings.clinic.timezone),
        lost_before=query.today - dt.timedelta(days=n.lost_after_days),
        soon_until=query.today + dt.timedelta(days=n.soon_days),
    )
    bulk = Bulk(session, query, at, changed_since(db, at))
    changed = _changed_rows(session, bulk, moment, day)
    size = n.page_size if query.section else OVERVIEW_ROWS
    sections = []
    for key, (title, hint) in titles.items():
        if query.section and key != query.section:
            continue
        extra = sorted(changed.rows[key], key=lambda pair: pair[0])
        in_db = _in_db(bulk, key, day, changed.open_then)
        total = len(extra)
        if in_db is not None:
            total += count_rows(db, *in_db, cap=cap)
        capped = cap is not None and total > cap
        total = min(total, cap) if cap is not None else total
        pages = max(1, math.ceil(total / size))
        page = min(max(query.page, 1), pages) if query.section else 1
        found = extra
        if in_db is not None:
            found = sorted(
                extra + _pairs(key, first_rows(db, *in_db, page * size), day),
                key=lambda pair: pair[0],
            )
        shown = tuple(row for _, row in found[(page - 1) * size : page * size])
        sections.append(Section(key, title, hint, total, shown, page, pages, capped))
    return sections


def _in_db(
    bulk: Bulk, key: str, day: Horizon, open_then: set[int]
) -> tuple[sa.Select[Any], tuple[Any, ...]] | None:
    """The statement and order of a section's unchanged rows; None where all are read here."""
    if key in ITEM_SECTIONS:
        return bulk.items(key, day)
    if key == "no_plan":
        return bulk.no_plan(open_then)
    if key == "no_owner":
        return bulk.no_owner()
    if key == "triggers":
        return bulk.triggers()
    return None


def _pairs(key: str, rows: list[Any], day: Horizon) -> Pairs:
    """Unchanged rows from the database as (sort key, row), as the changed ones are made."""
    out: dict[str, Pairs] = {key: []}
    for r in rows:
        patient = _Patient(r.patient_id, r.mrn, r.family_name, r.given_name, r.timezone, "")
        if key in ITEM_SECTIONS:
            then = {"state": r.state, "booked_at": r.booked_at, "snoozed_until": r.snoozed_until}
            _place(r, then, patient, day, out)
            continue
        if key == "triggers":
            order = (not r.urgent, r.state != "open", r.detected_on, r.trigger_id)
            out[key].append((order, trigger_row(r, day.today)))
            continue
        name_key = (r.family_name, r.given_name, r.patient_id)
        if key == "no_plan":
            out[key].append((name_key, no_plan_row(r)))
        else:
            out[key].append(((r.clinic, *name_key), no_owner_row(r)))
    return out[key]


@dataclass(frozen=True)
class _Changed:
    rows: dict[str, Pairs]  # each section's rows from changed items and patients, and triggers
    open_then: set[int]  # patients with a changed item open at the moment


def _changed_rows(session: Session, bulk: Bulk, moment: dt.datetime, day: Horizon) -> _Changed:
    """The rows of what changed since the moment, rewound one by one; the triggers (read by
    their own timestamps) and the failed reminders (replayed from their ledger)."""
    db, at, query, changed = session.connection(), bulk.at, bulk.query, bulk.changed
    navigators = _navigators_then(db, at, changed.patients)
    everyone = _patients_then(session, db, at, query, changed.patients)
    patients = everyone
    if query.navigator:
        nav_id = db.execute(sa.select(U.id).where(U.username == query.navigator)).scalar()
        mine = {p for p in everyone if nav_id is not None and navigators.get(p) == nav_id}
        patients = {p: everyone[p] for p in mine}
    out: dict[str, Pairs] = {k: [] for k in SECTION_KEYS}
    with_open = _items_then(db, bulk, patients, day, out)
    triggers = {**_as_patients(bulk.lookup(_trigger_patients(db, bulk))), **patients}
    _triggers_then(db, at, moment, triggers, query.today, out, changed.patients)

    def lookup(ids: list[int]) -> dict[int, _Patient]:
        return {**_as_patients(bulk.lookup(ids)), **{i: patients[i] for i in ids if i in patients}}

    out["reminders"] = reminders_then(db, at, lookup, query.kind)
    discharged = _discharged_then(db, at, list(everyone))
    for p in everyone.values():
        name_key = (p.family_name, p.given_name, p.patient_id)
        if p.patient_id in discharged:
            continue
        if p.patient_id in patients and p.patient_id not in with_open:
            out["no_plan"].append((name_key, no_plan_row(p)))
        if navigators.get(p.patient_id) is None:
            out["no_owner"].append(((p.clinic, *name_key), no_owner_row(p)))
    return _Changed(out, with_open)


def _as_patients(rows: dict[int, Any]) -> dict[int, _Patient]:
    return {
        i: _Patient(r.patient_id, r.mrn, r.family_name, r.given_name, r.timezone, r.clinic)
        for i, r in rows.items()
    }


def _trigger_patients(db: sa.Connection, bulk: Bulk) -> list[int]:
    """The unchanged patients with a trigger raised by the moment and acknowledged or resolved
    since (their other triggers are read as they are)."""
    at = bulk.at
    stmt = (
        sa.select(T.patient_id)
        .where(T.created_at <= at, sa.or_(T.acknowledged_at > at, T.resolved_at > at))
        .distinct()
    )
    return list(db.execute(stmt).scalars())


def _navigators_then(db: sa.Connection, at: dt.datetime, ids: set[int]) -> dict[int, Any]:
    """These patients' navigators (user id, or None) at ``at``: now, with later reassignments
    undone newest first."""
    now: dict[int, Any] = {}
    for chunk in _chunks(ids):
        stmt = sa.select(P.id, P.navigator_id).where(P.created_at <= at, P.id.in_(chunk))
        now.update((r.id, r.navigator_id) for r in db.execute(stmt))
    users: dict[str, int] = dict(db.execute(sa.select(U.username, U.id)).all())
    later = db.execute(
        sa.select(A.patient_id, A.before)
        .where(A.action == "navigator.reassigned", A.at > at, A.patient_id.is_not(None))
        .order_by(A.at.desc(), A.id.desc())
    ).all()
    for patient_id, before in later:
        if patient_id in now:
            name = json.loads(before or "{}").get("navigator")
            now[patient_id] = users.get(name) if name else None
    return now


def _patients_then(
    session: Session,
    db: sa.Connection,
    at: dt.datetime,
    query: WorklistQuery,
    ids: set[int],
) -> dict[int, _Patient]:
    """Of these patients, those enrolled by ``at`` who match the query and were not yet
    recorded dead, whoever their navigator (the "no navigator" section ignores that filter)."""
    where = _patient_conditions(session, replace(query, navigator=None), P)
    where = where[1:]  # drop "living now": a death recorded after the moment did not count then
    columns = (P.id, P.mrn, P.family_name, P.given_name, P.timezone, P.clinic, P.deceased_on)
    found = [
        r
        for chunk in _chunks(ids)
        for r in db.execute(sa.select(*columns).where(P.created_at <= at, P.id.in_(chunk), *where))
    ]
    died_later = set(
        db.execute(
            sa.select(A.patient_id).where(
                A.at > at, A.after.like('%"deceased_on": "%'), A.patient_id.is_not(None)
            )
        ).scalars()
    )
    out = {}
    for r in found:
        if r.deceased_on is not None and r.id not in died_later:
            continue
        out[r.id] = _Patient(r.id, r.mrn, r.family_name, r.given_name, r.timezone, r.clinic)
    return out


def _items_then(
    db: sa.Connection,
    bulk: Bulk,
    patients: dict[int, _Patient],
    day: Horizon,
    out: dict[str, Pairs],
) -> set[int]:
    """Place each changed item (or item of a changed patient) open at the moment in its
    section; return the patients with such an item open then."""
    at, changed, query = bulk.at, bulk.changed, bulk.query
    touched = set(changed.items) | changed.withdrawn
    stmt = sa.select(ITEM_TABLE).where(
        ITEM.created_at <= at,
        sa.or_(
            ITEM.updated_at > at,
            ITEM.id.in_(sorted(touched)) if touched else sa.false(),
            sa.and_(ITEM.state.in_(OPEN), ITEM.patient_id.in_(sorted(changed.patients)))
            if changed.patients
            else sa.false(),
        ),
    )
    rows = db.execute(stmt).all()
    # Changed items of unchanged patients: those patients as the query matches them.
    patients = {**_as_patients(bulk.lookup([r.patient_id for r in rows])), **patients}
    with_open: set[int] = set()
    for row in rows:
        patient = patients.get(row.patient_id)
        if patient is None:
            continue
        changes = changed.items.get(row.id, [])
        then = _rewound(row, at, changes, row.id in changed.withdrawn)
        if then["state"] in m.OPEN_ITEM_STATES:
            with_open.add(row.patient_id)
        if query.kind and row.kind != query.kind:
            continue
        _place(row, then, patient, day, out)
    return with_open


def _rewound(
    row: Any, at: dt.datetime, changes: list[dict[str, Any]], withdrawn: bool
) -> dict[str, Any]:
    current = {
        k: getattr(row, k)
        for k in (
            "state",
            "booked_at",
            "snoozed_until",
            "completed_on",
            "outcome_note",
            "snooze_reason",
        )
    }
    # Unaudited, terminal and only ever from "planned": undone first, as they came last.
    # (A withdrawal needs a planned item, so an audited state change after the moment means
    # the item was no longer planned when its trigger was withdrawn.)
    audited_state = any(c.get("state") is not None for c in changes)
    superseded_later = row.state == m.ItemState.SUPERSEDED and row.updated_at > at
    withdrawn_later = row.state == m.ItemState.NOT_NEEDED and withdrawn and not audited_state
    if superseded_later or withdrawn_later:
        current["state"] = m.ItemState.PLANNED.value
    return rewind(current, changes)


def _place(
    row: Any,
    then: dict[str, Any],
    patient: _Patient,
    day: Horizon,
    out: dict[str, list[tuple[tuple[Any, ...], WorkRow]]],
) -> None:
    item = ItemThen(
        state=str(then["state"]),
        earliest=row.earliest,
        latest=row.latest,
        booked_at=_utc(then["booked_at"]),
        snoozed_until=_date(then["snoozed_until"]),
    )
    key = section_of(item, day)
    if key is None:
        return
    shown = _Shown(
        *patient[:4],
        item_id=row.id,
        kind=row.kind,
        state=item.state,
        urgent=row.urgent,
        earliest=row.earliest,
        target=row.target,
        latest=row.latest,
        rule_id=row.rule_id,
        booked_at=item.booked_at,
        snoozed_until=item.snoozed_until,
        timezone=patient.timezone,
    )
    today = day.today
    if key == "soon":
        out[key].append(
            ((row.earliest, row.id), item_row(key, shown, opens_in(row.earliest, today)))
        )
        return
    if key == "due":
        timing = closes_in(row.latest, today)
    else:
        timing = f"{(today - row.latest).days} days overdue"
    order = (row.latest, row.id) if key == "lost" else (not row.urgent, row.latest, row.id)
    out[key].append((order, item_row(key, shown, timing)))


class _Shown(NamedTuple):
    patient_id: int
    mrn: str
    family_name: str
    given_name: str
    item_id: int
    kind: str
    state: str
    urgent: bool
    earliest: dt.date
    target: dt.date
    latest: dt.date
    rule_id: str
    booked_at: dt.datetime | None
    snoozed_until: dt.date | None
    timezone: str


class _TriggerShown(NamedTuple):
    patient_id: int
    mrn: str
    family_name: str
    given_name: str
    trigger_id: int
    kind: str
    state: str
    urgent: bool
    detected_on: dt.date
    explanation: str
    confounded: bool


def _triggers_then(
    db: sa.Connection,
    at: dt.datetime,
    moment: dt.datetime,
    patients: dict[int, _Patient],
    today: dt.date,
    out: dict[str, list[tuple[tuple[Any, ...], WorkRow]]],
    changed_patients: set[int],
) -> None:
    """The triggers acknowledged or resolved since the moment, or of a changed patient: their
    state then from their own timestamps (the others are as they are: ``Bulk.triggers``)."""
    changed = sa.or_(
        T.acknowledged_at > at,
        T.resolved_at > at,
        T.patient_id.in_(sorted(changed_patients)) if changed_patients else sa.false(),
    )
    stmt = sa.select(T).where(
        T.created_at <= at, sa.or_(T.resolved_at.is_(None), T.resolved_at > at), changed
    )
    for row in db.execute(stmt).all():
        patient = patients.get(row.patient_id)
        if patient is None:
            continue
        state = trigger_state_then(
            acknowledged_at=_utc(row.acknowledged_at),
            resolved_at=_utc(row.resolved_at),
            moment=moment,
        )
        if state == "resolved":
            continue
        shown = _TriggerShown(
            *patient[:4],
            trigger_id=row.id,
            kind=row.kind,
            state=state,
            urgent=row.urgent,
            detected_on=row.detected_on,
            explanation=row.explanation,
            confounded=row.confounded,
        )
        # Urgent first, open before acknowledged, oldest finding first (the live order).
        order = (not row.urgent, state != "open", row.detected_on, row.id)
        out["triggers"].append((order, trigger_row(shown, today)))


def _discharged_then(db: sa.Connection, at: dt.datetime, ids: Iterable[int]) -> set[int]:
    """Patients whose latest disease state recorded by ``at`` was "discharged"."""
    latest: dict[int, tuple[Any, int, str]] = {}
    wanted = set(ids)
    columns = (S.patient_id, S.created_at, S.id, S.kind)
    found = [
        r
        for chunk in _chunks(wanted)
        for r in db.execute(sa.select(*columns).where(S.created_at <= at, S.patient_id.in_(chunk)))
    ]
    for patient_id, created, state_id, kind in found:
        if patient_id in wanted and (
            patient_id not in latest or (created, state_id) > latest[patient_id][:2]
        ):
            latest[patient_id] = (created, state_id, kind)
    return {p for p, (_, _, kind) in latest.items() if kind == StateKind.DISCHARGED}


def _chunks(ids: Iterable[int]) -> list[list[int]]:
    """Ids in IN lists of at most 500."""
    ordered = sorted(ids)
    return [ordered[n : n + 500] for n in range(0, len(ordered), 500)]
