"""``surveil demo``: fill the registry with synthetic NET patients, reproducibly and fast.

Patients are drafted in memory (patients.py, courses.py) and written in chunks, one
transaction per chunk, with SQLAlchemy Core bulk inserts: an ORM ``add()`` per row would take an
hour for 100,000 patients; this takes a minute or two. Ids for patients and lesions are reserved up
front (a sequence on PostgreSQL; on SQLite the ``BEGIN IMMEDIATE`` write lock makes ``max(id)``
safe), so child rows can point at their parents without a round trip per row.

Each patient also gets the follow-ups already done, replayed against the real planner
(history.py), so that today's plan is mostly in the future, as in a clinic whose patients
attend. The same seed, ``today`` and ``now`` give the same registry, row for row. Open items are
not made here: ``surveil replan --all`` derives them from these facts.

A classified exception to "one way in": the loader writes synthetic patients straight into
the tables instead of through the registry's entry points, which would validate, plan and audit
each patient one by one (hours instead of minutes at 100,000 patients). It needs no named user
either: it is what creates the demo logins on an empty registry. It is still audited, in the
same transactions as its writes: each demo login it creates is a ``user.added`` event, and each
chunk of patients one ``demo.loaded`` event naming the MRNs, all as ``actor`` (by default
surveil itself; ``surveil demo`` adds the operating-system account that ran it).
"""

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, select

from surveil.core.digits import is_digits
from surveil.core.protocol import Pack, Profile
from surveil.core.vocab import Channel
from surveil.db import models as m
from surveil.db.session import session_scope
from surveil.demo.drafting import Drafted, Drafting, drafted_chunks, past_followups
from surveil.demo.history import Protocol
from surveil.demo.people import (
    DEMO_USERS,
    MAIN_NAVIGATORS,
    NORTHERN_CLINIC,
    NORTHERN_NAVIGATOR,
    DemoUser,
)
from surveil.demo.pgcopy import copy_rows
from surveil.demo.story import Draft, Row
from surveil.errors import InvalidInput, Problem
from surveil.schedules import get_profile, load_packs
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.users.accounts import hash_password

CHUNK_SIZE = 2000  # patients per transaction: big enough to be fast, small enough to show progress
NORTHERN_EVERY = 20  # every 20th patient belongs to the second clinic, to show clinic isolation
UNASSIGNED_EVERY = 25  # and a few have no navigator yet
MAX_NUMBER = 9_999_999  # MRNs are D + six digits, a seventh from the millionth patient on


def _table(model: type[SQLModel]) -> sa.Table:
    table: sa.Table = model.__table__  # type: ignore[attr-defined]
    return table


TABLES = {
    "patient": _table(m.Patient),
    "tumour": _table(m.Tumour),
    "pathology": _table(m.PathologyResult),
    "states": _table(m.DiseaseState),
    "therapies": _table(m.Therapy),
    "lesion": _table(m.Lesion),
    "measurement": _table(m.Measurement),
    "markers": _table(m.MarkerResult),
    "symptoms": _table(m.Symptom),
    "followup": _table(m.FollowUpItem),  # the follow-ups already done
}
Progress = Callable[[int], None]


@dataclass(frozen=True)
class DemoResult:
    patient_ids: list[int]
    users: tuple[DemoUser, ...]
    skipped: bool = False  # --if-empty found patients already there

    @property
    def created(self) -> int:
        return len(self.patient_ids)


def generate_demo(
    engine: sa.Engine,
    *,
    patients: int,
    seed: int,
    clinic: str,
    timezone: str,
    today: dt.date,
    now: dt.datetime,
    if_empty: bool = False,
    chunk_size: int = CHUNK_SIZE,
    on_progress: Progress | None = None,
    protocol: tuple[Pack, Profile] | None = None,
    with_history: bool = True,
    actor: Actor | None = None,
    workers: int = 1,
) -> DemoResult:
    """Create the demo users and ``patients`` synthetic patients; return the new patient ids.

    Runs again add more patients (numbered after the last demo MRN) unless ``if_empty``, which does
    nothing when the registry already holds any patient. The follow-ups already done are replayed
    against ``protocol`` (the clinic's pack and profile; default: the bundled default profile)
    unless ``with_history`` is false. Audited as ``actor`` (see the module docstring).
    ``workers`` > 1 drafts the chunks in that many processes (drafting is most of the CPU);
    they are written in order, so the registry is the same whatever the number of workers.
    """
    if if_empty and count_patients(engine) > 0:
        return DemoResult([], DEMO_USERS, skipped=True)
    loader = actor or Actor.system()
    first = next_demo_number(engine, clinic=clinic)
    _check(patients=patients, chunk_size=chunk_size, first=first, workers=workers)
    navigators = ensure_demo_users(engine, clinic=clinic, now=now, actor=loader)
    replay = None
    if with_history:
        pack, profile = protocol or get_profile(load_packs())
        replay = Protocol(pack, profile, today=today, seed=seed)
    chunks = [
        range(begin, min(begin + chunk_size, first + patients))
        for begin in range(first, first + patients, chunk_size)
    ]
    job = Drafting(seed=seed, today=today, timezone=timezone, now=now, replay=replay)
    ids: list[int] = []
    for numbers, drafted in drafted_chunks(job, chunks, workers=workers):
        with engine.begin() as connection:
            ids += write_drafted(connection, drafted, clinic=clinic, navigators=navigators, now=now)
            _audit_chunk(connection, loader, numbers)
        if on_progress is not None:
            on_progress(len(numbers))
    return DemoResult(ids, DEMO_USERS)


def command_line_loader(os_user: str) -> Actor:
    """Who ``surveil demo`` loads as: surveil itself on the command line, with the operating-
    system account that ran it (there may be no surveil user yet)."""
    return dataclasses.replace(Actor.system(Channel.CLI), os_user=os_user)


def _check(*, patients: int, chunk_size: int, first: int, workers: int) -> None:
    problems = []
    if patients < 0:
        problems.append(Problem("patients", f"must be 0 or more, got {patients}"))
    elif first + patients - 1 > MAX_NUMBER:
        room = MAX_NUMBER - first + 1
        problems.append(Problem("patients", f"only {room} more demo MRNs fit (D000001–D9999999)"))
    if chunk_size < 1:
        problems.append(Problem("chunk_size", f"must be 1 or more, got {chunk_size}"))
    if workers < 1:
        problems.append(Problem("workers", f"must be 1 or more, got {workers}"))
    if problems:
        raise InvalidInput(problems, what="demo")


def count_patients(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(TABLES["patient"])).one()[
            0
        ]


def next_demo_number(engine: sa.Engine, *, clinic: str) -> int:
    """One past the highest demo MRN (D + six or seven digits) in either demo clinic."""
    patient = TABLES["patient"]
    for pattern in ("D_______", "D______"):  # seven digits first: D1000000 sorts before D999999
        query = (
            sa.select(patient.c.mrn)
            .where(patient.c.clinic.in_((clinic, NORTHERN_CLINIC)), patient.c.mrn.like(pattern))
            .order_by(patient.c.mrn.desc())
        )
        with engine.connect() as connection:
            for mrn in connection.execute(query).scalars():
                if is_digits(mrn[1:]):
                    return int(mrn[1:]) + 1
    return 1


# --------------------------------------------------------------------------- users


def _audit_chunk(connection: sa.Connection, actor: Actor, numbers: range) -> None:
    """One event for a chunk of synthetic patients, in the chunk's own transaction."""
    span = f"D{numbers[0]:06d}–D{numbers[-1]:06d}" if numbers else "none"
    with Session(bind=connection) as session:
        detail = f"{len(numbers)} synthetic demo patients ({span})"
        audit(session, actor=actor, action="demo.loaded", detail=detail)
        session.flush()


def ensure_demo_users(
    engine: sa.Engine, *, clinic: str, now: dt.datetime, actor: Actor | None = None
) -> dict[str, int]:
    """Create the demo logins that are missing (argon2id hashes, as for any user), each audited
    as ``actor`` (default: surveil itself); return every demo username's id."""
    ids: dict[str, int] = {}
    with session_scope(engine) as session:
        for spec in DEMO_USERS:
            user = session.exec(select(m.User).where(m.User.username == spec.username)).first()
            if user is None:
                user = m.User(
                    username=spec.username,
                    display_name=spec.display_name,
                    role=spec.role.value,
                    clinic=spec.clinic or clinic,
                    password_hash=hash_password(spec.password),
                    created_at=now,
                )
                session.add(user)
                session.flush()
                audit(
                    session,
                    actor=actor or Actor.system(),
                    action="user.added",
                    subject=f"user:{user.id}",
                    after={
                        "username": user.username,
                        "role": user.role,
                        "clinic": user.clinic,
                        "active": True,
                    },
                    detail=f"demo login {user.username} ({user.role}, {user.clinic})",
                )
            assert user.id is not None
            ids[spec.username] = user.id
    return ids


def placement(number: int, *, clinic: str, navigators: dict[str, int]) -> tuple[str, int | None]:
    """Which clinic patient ``number`` belongs to, and its navigator (if any yet)."""
    if number % NORTHERN_EVERY == 0:
        return NORTHERN_CLINIC, navigators.get(NORTHERN_NAVIGATOR)
    if number % UNASSIGNED_EVERY == 0:
        return clinic, None
    return clinic, navigators.get(MAIN_NAVIGATORS[number % len(MAIN_NAVIGATORS)])


# --------------------------------------------------------------------------- writing


def write_drafts(
    connection: sa.Connection,
    drafts: Sequence[Draft],
    *,
    clinic: str,
    navigators: dict[str, int],
    now: dt.datetime,
    replay: Protocol | None = None,
) -> list[int]:
    """Insert the drafts' rows, one statement per table; return the new patient ids. With
    ``replay``, also the follow-ups each patient has already had."""
    drafted = [past_followups(draft, now=now, replay=replay) for draft in drafts]
    return write_drafted(connection, drafted, clinic=clinic, navigators=navigators, now=now)


def write_drafted(
    connection: sa.Connection,
    drafted: Sequence[Drafted],
    *,
    clinic: str,
    navigators: dict[str, int],
    now: dt.datetime,
) -> list[int]:
    """Insert drafted patients (``drafting.py``) with their past follow-ups, numbered now."""
    drafts = [draft for draft, _ in drafted]
    patient_ids, rows = numbered_rows(
        connection, drafts, clinic=clinic, navigators=navigators, now=now
    )
    for (_, done), pid in zip(drafted, patient_ids, strict=True):
        rows["followup"] += [{**row, "patient_id": pid} for row in done]
    insert_rows(connection, rows)
    return patient_ids


def numbered_rows(
    connection: sa.Connection,
    drafts: Sequence[Draft],
    *,
    clinic: str,
    navigators: dict[str, int],
    now: dt.datetime,
) -> tuple[list[int], dict[str, list[Row]]]:
    """The drafts' patient ids, drawn now, and their rows (:func:`rows_for`) numbered with
    them and with lesion ids drawn likewise."""
    patient_ids = reserve_ids(connection, TABLES["patient"], len(drafts))
    lesion_ids = reserve_ids(connection, TABLES["lesion"], sum(len(d.lesions) for d in drafts))
    rows = rows_for(
        drafts,
        patient_ids=patient_ids,
        lesion_ids=lesion_ids,
        clinic=clinic,
        navigators=navigators,
        now=now,
    )
    return patient_ids, rows


def rows_for(
    drafts: Sequence[Draft],
    *,
    patient_ids: Sequence[int],
    lesion_ids: Sequence[int],
    clinic: str,
    navigators: dict[str, int],
    now: dt.datetime,
) -> dict[str, list[Row]]:
    """The drafts as table rows (keyed like ``TABLES``), numbered with the ids given."""
    next_lesion = iter(lesion_ids)
    rows: dict[str, list[Row]] = defaultdict(list)
    for draft, pid in zip(drafts, patient_ids, strict=True):
        home, navigator = placement(draft.number, clinic=clinic, navigators=navigators)
        stamps = {"created_at": now, "updated_at": now}
        rows["patient"].append(
            {**draft.patient, "id": pid, "clinic": home, "navigator_id": navigator, **stamps}
        )
        if draft.tumour is not None:
            rows["tumour"].append({**draft.tumour, "patient_id": pid})
        for name in ("pathology", "states", "therapies", "markers", "symptoms"):
            rows[name] += _children(getattr(draft, name), patient_id=pid, now=now)
        for lesion, measurements in draft.lesions:
            lid = next(next_lesion)
            rows["lesion"].append({**lesion, "id": lid, "patient_id": pid, "created_at": now})
            rows["measurement"] += [
                {**r, "lesion_id": lid, "created_at": now} for r in measurements
            ]
    return rows


def insert_rows(connection: sa.Connection, rows: dict[str, list[Row]]) -> None:
    """One statement per table, parents before children (``TABLES`` is in that order): a
    ``COPY`` on PostgreSQL (pgcopy.py), an executemany elsewhere; the same rows either way."""
    copy = connection.dialect.name == "postgresql"
    for name, table in TABLES.items():
        if not rows.get(name):
            continue
        if copy:
            copy_rows(connection, table, rows[name])
        else:
            connection.execute(sa.insert(table), rows[name])


def _children(rows: Iterable[Row], *, patient_id: int, now: dt.datetime) -> list[Row]:
    return [{**row, "patient_id": patient_id, "created_at": now} for row in rows]


def reserve_ids(connection: sa.Connection, table: sa.Table, count: int) -> list[int]:
    """``count`` fresh primary keys for ``table`` that no concurrent writer can also take."""
    if count == 0:
        return []
    if connection.dialect.name == "postgresql":
        sequence = sa.func.pg_get_serial_sequence(table.name, "id")
        query = sa.select(sa.func.nextval(sequence)).select_from(sa.func.generate_series(1, count))
        return sorted(connection.execute(query).scalars())
    # SQLite: this transaction began with BEGIN IMMEDIATE and holds the only write lock.
    top = connection.execute(sa.select(sa.func.max(table.c.id))).scalar() or 0
    return list(range(top + 1, top + 1 + count))
