"""A routine replan skips the patients whose plan cannot have changed (issue 19).

Planning is a pure function of what it reads (``surveil/core``): the patient's facts, open items,
overrides, triggers and their consequences, the protocol in force, the planning code itself, and
today. ``replan --all`` first reads those rows for each patient of a chunk (dates as the database's
text), digests them (BLAKE2b, 128 bits, of their ``marshal`` form) and compares the digest with the
one stored in ``plan_memo`` by the last run that found this patient's plan and triggers stable. The
same digest on a day within the stored span means the same result, nothing to write: the trigger
engine, the planner and the reconciliation are skipped, and only the other patients are read as
facts. Nothing needs to tell this module that something changed: a change anywhere in the inputs
changes the digest, and one committed after this read changes the next run's. ``today`` enters
through the span: it starts on the day the digest was stored and ends on the first day the same
facts may plan differently (``core.horizon``), and at most :data:`MAX_SPAN` later, so that every
plan is derived afresh at least every four weeks whatever the horizon says.

Only a patient whose run wrote nothing (no new trigger, no item created or superseded, nothing
stopped) has a digest stored: the state it describes is then one that planning leaves as it is.
A single patient's replan and every refresh after a change still derive the plan every time.
"""

import datetime as dt
import hashlib
import marshal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from operator import attrgetter
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

import surveil
from surveil.core.protocol import Pack, Profile
from surveil.db import models as m
from surveil.db.driver_rows import ChunkQuery
from surveil.db.queries import FACT_READS, PLANNED_PATIENT, PlannedPatient, grouped
from surveil.schedules import pack_files
from surveil.services.planning.stored_items import RECONCILED_READ

# A plan is derived afresh at least this often, whatever ``core.horizon`` says: a bound on how
# long an error in that analysis could go unnoticed, at the cost of ~4 % of patients a day.
MAX_SPAN = dt.timedelta(days=28)

_MEMO = m.PlanMemo.__table__  # type: ignore[attr-defined]
_TRIGGER = m.Trigger.__table__  # type: ignore[attr-defined]
_CONSEQUENCE = m.TriggerConsequence.__table__  # type: ignore[attr-defined]
_OVERRIDE = m.PlanOverride.__table__  # type: ignore[attr-defined]

_STORED = ChunkQuery(
    sa.select(*(_MEMO.c[n] for n in ("patient_id", "inputs", "checked_on", "holds_until", "kept"))),
    _MEMO.c.patient_id,
)


def _as_text(query: ChunkQuery) -> ChunkQuery:
    """``query`` after its patient's id (what ``queries.grouped`` groups by), with its dates and
    timestamps read as the database's text."""
    columns = [
        sa.cast(column, sa.Text) if _as_text_column(column) else column
        for column in query.statement.selected_columns
    ]
    patient = query.patient_id.label("of_patient")
    return ChunkQuery(query.statement.with_only_columns(patient, *columns), query.patient_id)


def _as_text_column(column: Any) -> bool:
    """A date or a timestamp: ``marshal`` cannot write one (and its ``repr`` cost more than the
    rest of a row). Numbers stay numbers: SQLite formatting them as text cost more than
    ``marshal`` writing them."""
    kind = getattr(column.type, "impl", column.type)  # the UTC timestamps are TypeDecorators
    return isinstance(kind, sa.Date | sa.DateTime)


# What planning reads of a patient beside its row: the facts and the open items as planning
# reads them, and the triggers, their consequences and the overrides as whole rows, in id order
# (every column may matter to the triggers or the overrides one day, and a change to any of them
# only costs a derivation).
_READS = tuple(
    _as_text(query)
    for query in (
        *FACT_READS,
        RECONCILED_READ,
        *(
            ChunkQuery(sa.select(table).order_by(table.c.id), table.c.patient_id)
            for table in (_TRIGGER, _CONSEQUENCE, _OVERRIDE)
        ),
    )
)
# What a patient's row adds to the inputs: every column planning reads of it, not when it was
# last planned (``planned_at``, written by every run).
_PATIENT_READ = attrgetter(*PLANNED_PATIENT)


@dataclass
class Memo:
    """One chunk's digests and what they allow."""

    digests: dict[int, bytes] = field(default_factory=dict)  # patients planned before
    skipped: dict[int, int] = field(default_factory=dict)  # patient -> the items it keeps


def check(
    session: Session,
    patients: Sequence[PlannedPatient],
    *,
    pack: Pack,
    profile: Profile,
    schedules: Path | None,
    today: dt.date,
) -> Memo:
    """Read and digest the inputs of each patient planned before (``planned_at`` set; a first
    planning has nothing to compare with) and say which of them need no planning today. Called
    before the chunk's facts are read (``patients`` are digested as the caller read them): a
    change committed after a read changes the next run's digest, whatever this run reads later."""
    memo = Memo()
    ids = [p.id for p in patients if p.id is not None and p.planned_at is not None]
    if not ids:
        return memo
    stored = {row[0]: row[1:] for row in _STORED.rows(session, ids)}
    reads = [grouped(query.rows(session, ids)) for query in _READS]
    run = _run_key(pack, profile, schedules)
    for patient in patients:
        pid = patient.id
        if pid is None or patient.planned_at is None:
            continue
        inputs = (run, repr(_PATIENT_READ(patient)), *(rows.get(pid, ()) for rows in reads))
        digest = hashlib.blake2b(_bytes(inputs), digest_size=16).digest()
        memo.digests[pid] = digest
        found = stored.get(pid)
        if found is not None and bytes(found[0]) == digest and found[1] <= today < found[2]:
            memo.skipped[pid] = found[3]
    return memo


def record(
    session: Session,
    memo: Memo,
    *,
    unchanged: Mapping[int, tuple[int, dt.date | None]],
    today: dt.date,
) -> None:
    """Store the digest of each ``unchanged`` patient (planned in full, nothing written: patient
    -> the items it kept, and its plan's horizon) with the span in which its plan holds: from
    today to its horizon, or :data:`MAX_SPAN`."""
    rows = []
    for pid, (kept, horizon) in unchanged.items():
        digest = memo.digests.get(pid)
        if digest is None:
            continue
        # The cap spread over its last week by patient: a registry stored in one night does not
        # all come due on the same night four weeks later.
        cap = today + MAX_SPAN - dt.timedelta(days=pid % 7)
        until = cap if horizon is None else min(horizon, cap)
        rows.append(
            dict(patient_id=pid, inputs=digest, checked_on=today, holds_until=until, kept=kept)
        )
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(_MEMO)
    replace = {
        name: insert.excluded[name] for name in ("inputs", "checked_on", "holds_until", "kept")
    }
    session.execute(insert.on_conflict_do_update(index_elements=["patient_id"], set_=replace), rows)


def _bytes(inputs: tuple[Any, ...]) -> bytes:
    """``inputs`` as bytes that are equal exactly when the values are: ``marshal``'s version 0
    (no references or interning, which would depend on object identity), or ``repr`` for a
    value marshal cannot write (a column type added later)."""
    try:
        return marshal.dumps(inputs, 0)
    except ValueError:
        return repr(inputs).encode()


def _run_key(pack: Pack, profile: Profile, schedules: Path | None) -> str:
    """What every patient of the run shares: the protocol in force (its files' digest, beside
    its id and version, so that an edited file counts) and the planning code's own digest (an
    upgrade of surveil must derive every plan again)."""
    return f"{pack.id} {pack.version} {profile.name} {_packs_digest(schedules)} {_code_digest()}"


@cache
def _packs_digest(schedules: Path | None) -> str:
    # Read once per process, as ``services.protocols`` reads the packs themselves.
    h = hashlib.blake2b(digest_size=16)
    for path in sorted(pack_files(schedules)):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


@cache
def _code_digest() -> str:
    """Every module of the package: the planner, the triggers, the reads and the reconciliation
    all live in it, and a digest of all of it needs no list kept up to date."""
    root = Path(surveil.__file__).parent
    h = hashlib.blake2b(digest_size=16)
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()
