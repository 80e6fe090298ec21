"""Finding a patient in the registry: by MRN, by the start of a name, or by birth date.

What a nurse types is matched three ways at once: the MRN exactly, and the start of the name
folded for search (``core.names``: case, accents and punctuation ignored), family name first
("okafor a") or given name first ("ada ok"). A birth date typed as YYYY-MM-DD is looked up as a
birth date instead. Each way is one range over an index (``ix_patient_search_name``,
``ix_patient_search_given``, the MRN and birth-date indexes), so a search costs the matches it
finds, not the size of the registry.

Navigators and clinicians find their own clinic's patients; admins find every clinic's. A search
is not audited as a view of PHI (opening a record is, ``patient.viewed``), and the text searched
for is never written to a log or an audit row: a name typed into a search box is itself PHI.
"""

import datetime as dt
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from surveil.core.names import fold, prefix_end
from surveil.db import models as m
from surveil.db.indexed import indexed_alias, unindexed
from surveil.errors import InvalidInput, Problem
from surveil.services.actor import Actor

PAGE_SIZE = 50
MAX_TEXT = 100
_BIRTH_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)
_PATIENT: sa.Table = m.Patient.__table__  # type: ignore[attr-defined]
P = _PATIENT.c
_BY_MRN = indexed_alias(_PATIENT, "p", "ix_patient_mrn")
_BY_NAME = indexed_alias(_PATIENT, "p", "ix_patient_search_name")
_BY_GIVEN = indexed_alias(_PATIENT, "p", "ix_patient_search_given")
_BY_BIRTH = indexed_alias(_PATIENT, "p", "ix_patient_birth_date")


@dataclass(frozen=True)
class NextItem:
    """The next open item of a found patient: what the list shows of it."""

    kind: str
    state: str
    earliest: dt.date
    target: dt.date
    latest: dt.date
    snoozed_until: dt.date | None
    completed_on: dt.date | None = None  # open items have none; here for item_status


@dataclass(frozen=True)
class FoundPatient:
    """One row of the patient list: who, how bad, where in the disease, who owns them, and the
    next thing planned (the open item with the earliest target date)."""

    id: int
    mrn: str
    clinic: str
    family_name: str
    given_name: str
    birth_date: dt.date
    deceased_on: dt.date | None
    grade: str | None
    state: str | None
    navigator: str | None
    next_item: NextItem | None

    @property
    def name(self) -> str:
        return f"{self.family_name.upper()}, {self.given_name}"


@dataclass(frozen=True)
class PatientList:
    text: str  # what was searched for ("" lists everyone)
    matched_by: str  # "MRN or name", "birth date", or "" for the whole list
    rows: tuple[FoundPatient, ...]
    total: int
    page: int
    pages: int


def find_patients(
    session: Session, *, actor: Actor, text: str = "", page: int = 1, page_size: int = PAGE_SIZE
) -> PatientList:
    """The patients ``actor`` may see that match ``text``, by name, one page at a time."""
    text = " ".join(text.split())[:MAX_TEXT]
    matched_by = "" if not text else "birth date" if _BIRTH_DATE.match(text) else "MRN or name"
    count, in_order = search_statements(text, clinic=None if actor.is_admin else actor.clinic)
    db = session.connection()
    total = int(db.execute(count).scalar_one())
    pages = max(1, math.ceil(total / page_size))
    page = min(max(page, 1), pages)
    ids = list(db.execute(in_order.offset((page - 1) * page_size).limit(page_size)).scalars())
    return PatientList(text, matched_by, _rows(session, ids), total, page, pages)


def search_statements(text: str, *, clinic: str | None) -> tuple[sa.Select[Any], sa.Select[Any]]:
    """(how many match, their ids in name order) for ``text`` in ``clinic`` (None: every
    clinic). Public so the benchmark can time the same statements bare.

    Each way of matching reads its own index, and the union of them is sorted by name: a plan
    SQLite would not find on its own, since without statistics it takes ``clinic = ?`` for the
    selective term and would read every patient of the clinic (db/indexed.py)."""
    if not text:
        return _everyone(clinic)
    found = sa.union(*_branches(text, clinic)).subquery("found")
    count = sa.select(sa.func.count()).select_from(found)
    return count, sa.select(found.c.id).order_by(found.c.search_name, found.c.id)


def _everyone(clinic: str | None) -> tuple[sa.Select[Any], sa.Select[Any]]:
    """The whole list: counted off the clinic index, listed down the name index in its order."""
    where = [P.clinic == clinic] if clinic is not None else []
    p = _BY_NAME.c
    in_clinic = [unindexed(p.clinic) == clinic] if clinic is not None else []
    count = sa.select(sa.func.count()).select_from(_PATIENT).where(*where)
    in_order = sa.select(p.id).select_from(_BY_NAME).where(*in_clinic)
    # In the index's own order (with one clinic, the same as by name then id): no sort at all.
    return count, in_order.order_by(p.search_name, p.clinic, p.id)


def _branches(text: str, clinic: str | None) -> list[sa.Select[Any]]:
    """One statement per index that can hold a match: (id, folded name) of each match."""

    def matching(index: Any, *where: Any) -> sa.Select[Any]:
        p = index.c
        in_clinic = [p.clinic == clinic] if clinic is not None else []
        return sa.select(p.id, p.search_name).select_from(index).where(*where, *in_clinic)

    if _BIRTH_DATE.match(text):
        return [matching(_BY_BIRTH, patient_matches(text, _BY_BIRTH.c))]
    branches = [matching(_BY_MRN, _BY_MRN.c.mrn == text)]
    key = fold(text)
    if key:
        branches.append(matching(_BY_NAME, _starts_with(_BY_NAME.c.search_name, key)))
        branches.append(matching(_BY_GIVEN, _starts_with(_BY_GIVEN.c.search_given, key)))
    return branches


def patient_matches(text: str, patient: Any) -> Any:
    """The condition "this patient matches ``text``" on the columns ``patient`` (a patient table
    or alias's ``.c``): the birth date for a YYYY-MM-DD date, else the MRN exactly or the start
    of the folded name. Shared with the worklist's own search box."""
    if _BIRTH_DATE.match(text):
        try:
            return patient.birth_date == dt.date.fromisoformat(text)
        except ValueError:
            problem = Problem("q", f"{text!r} looks like a birth date but is not a real date")
            raise InvalidInput(problem, what="patient search") from None
    terms = [patient.mrn == text]
    key = fold(text)
    if key:
        terms += [_starts_with(patient.search_name, key), _starts_with(patient.search_given, key)]
    return sa.or_(*terms)


def _starts_with(column: Any, key: str) -> Any:
    # The range is what an index can seek; the LIKE keeps the answer exact on a database whose
    # collation does not order text by code point (the range alone is exact on SQLite and C).
    return sa.and_(column >= key, column < prefix_end(key), column.startswith(key, autoescape=True))


def detail_statements(ids: Sequence[int]) -> tuple[sa.Select[Any], ...]:
    """What a page of found patients shows: (who, with grade and navigator), (current states),
    (each one's next open item: the earliest target)."""
    tumour: sa.Table = m.Tumour.__table__  # type: ignore[attr-defined]
    user: sa.Table = m.User.__table__  # type: ignore[attr-defined]
    state: sa.Table = m.DiseaseState.__table__  # type: ignore[attr-defined]
    shown: tuple[Any, ...] = (
        *(P.id, P.mrn, P.clinic, P.family_name, P.given_name, P.birth_date, P.deceased_on),
        tumour.c.grade,
        user.c.display_name,
    )
    people = (
        sa.select(*shown)
        .select_from(_PATIENT)
        .outerjoin(tumour, tumour.c.patient_id == P.id)
        .outerjoin(user, user.c.id == P.navigator_id)
        .where(P.id.in_(ids))
    )
    states = sa.select(state.c.patient_id, state.c.kind).where(
        state.c.patient_id.in_(ids), state.c.end_date.is_(None)
    )
    return people, states, _next_items(ids)


def _next_items(ids: Sequence[int]) -> sa.Select[Any]:
    # One row per patient, numbered in the database: a patient on a long plan has a dozen open
    # items, and only the first is shown.
    item: sa.Table = m.FollowUpItem.__table__  # type: ignore[attr-defined]
    columns = ("patient_id", "kind", "state", "earliest", "target", "latest", "snoozed_until")
    rank = sa.func.row_number().over(
        partition_by=item.c.patient_id, order_by=(item.c.target, item.c.id)
    )
    ranked = (
        sa.select(*(item.c[name] for name in columns), rank.label("rank"))
        .where(item.c.patient_id.in_(ids), item.c.state.in_([s.value for s in m.OPEN_ITEM_STATES]))
        .subquery("ranked")
    )
    return sa.select(*(ranked.c[name] for name in columns)).where(ranked.c.rank == 1)


def _rows(session: Session, ids: Sequence[int]) -> tuple[FoundPatient, ...]:
    """The page's patients with their grade, current state, navigator and next open item."""
    if not ids:
        return ()
    people, states, items = detail_statements(ids)
    db = session.connection()
    current = {pid: kind for pid, kind in db.execute(states)}
    next_items = {pid: NextItem(*rest) for pid, *rest in db.execute(items)}
    found = {
        row.id: FoundPatient(
            id=row.id,
            mrn=row.mrn,
            clinic=row.clinic,
            family_name=row.family_name,
            given_name=row.given_name,
            birth_date=row.birth_date,
            deceased_on=row.deceased_on,
            grade=row.grade,
            state=current.get(row.id),
            navigator=row.display_name,
            next_item=next_items.get(row.id),
        )
        for row in db.execute(people)
    }
    return tuple(found[i] for i in ids)
