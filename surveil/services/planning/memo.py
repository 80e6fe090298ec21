"""A routine replan skips the patients whose plan cannot have changed (issue 19).

Planning is a pure function of what it reads (``surveil/core``): the patient's facts, open items,
overrides, triggers and their consequences, the protocol in force, the planning code itself, and
today. The database itself marks every patient some row of whom planning reads is inserted,
updated or deleted (``plan_input_change``, kept by triggers: migration 0030), whoever writes it.
``replan --all`` takes the marks of each chunk's patients away (:func:`take_changes`) before it
reads anything of theirs, so that every change committed after that leaves a mark for the next
run. A patient without a mark, last found stable with the same protocol and code
(``run_key``), on a day within the stored span, needs no planning: the trigger engine, the
planner and the reconciliation are skipped, and none of their rows are read. Nothing needs to
tell this module that something changed, and the skipping costs a skipped patient two index
lookups instead of reading and digesting every input (which cost more than planning them).

``today`` enters through the span: it starts on the day the memo was stored and ends on the
first day the same facts may plan differently (``core.horizon``), and at most :data:`MAX_SPAN`
later, so that every plan is derived afresh at least every four weeks whatever the horizon says.

Only a patient whose run wrote nothing (no new trigger, no item created or superseded, nothing
stopped) has a memo stored: the state it describes is one that planning leaves as it is. A
patient whose marks were taken and for whom the run wrote something loses the memo it had, in
the same transaction: a concurrent run, finding no mark left, must not skip it on a memo that
no longer describes its inputs. A single patient's refresh after a change, and an import's,
derive the plan every time and take no marks.
"""

import datetime as dt
import hashlib
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

import surveil
from surveil.core.protocol import Pack, Profile
from surveil.db import models as m
from surveil.db.bulk_rows import among
from surveil.db.driver_rows import ChunkQuery
from surveil.db.queries import PlannedPatient
from surveil.services.protocols import packs_digest

# A plan is derived afresh at least this often, whatever ``core.horizon`` says: a bound on how
# long an error in that analysis could go unnoticed, at the cost of ~4 % of patients a day.
MAX_SPAN = dt.timedelta(days=28)

_MEMO = m.PlanMemo.__table__  # type: ignore[attr-defined]
_CHANGE = m.PlanInputChange.__table__  # type: ignore[attr-defined]

_STORED = ChunkQuery(
    sa.select(
        *(_MEMO.c[n] for n in ("patient_id", "run_key", "checked_on", "holds_until", "kept"))
    ),
    _MEMO.c.patient_id,
)


@dataclass
class Memo:
    """One chunk's marks taken, and what they allow."""

    run_key: bytes
    changed: set[int]  # patients whose inputs changed since a run last took their marks
    skipped: dict[int, int] = field(default_factory=dict)  # patient -> the items it keeps


def take_changes(session: Session, ids: Sequence[int]) -> set[int]:
    """Take away the marks of ``ids`` and say whose there were. Called before anything else of
    theirs is read in the transaction: on PostgreSQL, a change committed after this statement
    began left a mark it did not see, and so did not take."""
    if not ids:
        return set()
    taking = sa.delete(_CHANGE).where(among(session, _CHANGE.c.patient_id, ids))
    return set(session.execute(taking.returning(_CHANGE.c.patient_id)).scalars())


def check(
    session: Session,
    patients: Sequence[PlannedPatient],
    *,
    changed: set[int],
    pack: Pack,
    profile: Profile,
    schedules: Path | None,
    today: dt.date,
    skip: bool = True,
) -> Memo:
    """Which of ``patients`` need no planning today: planned before, no mark taken for them
    (``changed``, from :func:`take_changes`), and a memo stored with this run's key whose span
    holds today. ``skip`` False (``replan --all --full``): none, but the memos are still
    recorded."""
    memo = Memo(run_key=_run_key(session, pack, profile, schedules), changed=changed)
    if not skip:
        return memo
    ids = [p.id for p in patients if p.id is not None and p.planned_at is not None]
    ids = [pid for pid in ids if pid not in changed]
    for pid, key, checked_on, holds_until, kept in _STORED.rows(session, ids):
        if bytes(key) == memo.run_key and checked_on <= today < holds_until:
            memo.skipped[pid] = kept
    return memo


def record(
    session: Session,
    memo: Memo,
    *,
    unchanged: Mapping[int, tuple[int, dt.date | None]],
    today: dt.date,
) -> None:
    """Store a memo for each ``unchanged`` patient (planned in full, nothing written: patient
    -> the items it kept, and its plan's horizon) with the span in which its plan holds: from
    today to its horizon, or :data:`MAX_SPAN`. Drop the memo of every other patient whose marks
    were taken."""
    rows = []
    for pid, (kept, horizon) in unchanged.items():
        # The cap spread over its last week by patient: a registry stored in one night does not
        # all come due on the same night four weeks later.
        cap = today + MAX_SPAN - dt.timedelta(days=pid % 7)
        until = cap if horizon is None else min(horizon, cap)
        rows.append(
            dict(
                patient_id=pid, run_key=memo.run_key, checked_on=today, holds_until=until, kept=kept
            )
        )
    stale = sorted(memo.changed - unchanged.keys())
    if stale:
        session.execute(sa.delete(_MEMO).where(among(session, _MEMO.c.patient_id, stale)))
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(_MEMO)
    replace = {
        name: insert.excluded[name] for name in ("run_key", "checked_on", "holds_until", "kept")
    }
    session.execute(insert.on_conflict_do_update(index_elements=["patient_id"], set_=replace), rows)


def _run_key(session: Session, pack: Pack, profile: Profile, schedules: Path | None) -> bytes:
    """What every patient of the run shares, as a digest the memo row can hold: the protocol in
    force (its files' digest as this process read them, beside its id and version, so that an
    edited file counts), the planning code's own digest (an upgrade of surveil must derive every
    plan again) and the schema's revision (a migration may rewrite rows without marking them)."""
    revision = session.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    code = _code_digest()
    key = f"{pack.id} {pack.version} {profile.name} {packs_digest(schedules)} {code} {revision}"
    return hashlib.blake2b(key.encode(), digest_size=16).digest()


def _loaded_sources() -> list[tuple[str, int, int]]:
    """Every surveil module this process has loaded: its file, size and modification time."""
    return [
        _stamped(path)
        for name, module in list(sys.modules.items())
        if (name == "surveil" or name.startswith("surveil."))
        and (path := getattr(module, "__file__", None))
    ]


def _stamped(path: str) -> tuple[str, int, int]:
    stat = os.stat(path)
    return path, stat.st_size, stat.st_mtime_ns


# What the process had loaded, and when, as it imported this module (every entry point imports the
# services as it starts: the CLI, the web app, the daemon).
_SOURCES_AT_IMPORT = _loaded_sources()
_IMPORTED_AT_NS = time.time_ns()


@cache
def _code_digest() -> str:
    """Every module of the package: the planner, the triggers, the reads and the reconciliation
    all live in it, and a digest of all of it needs no list kept up to date. Should a file have
    changed since this process loaded it, or since planning was imported (an upgrade installed
    under a running daemon), the digest is this process's own: its memos match no other
    process's, and nothing is skipped on code that may not be the code running."""
    root = Path(surveil.__file__).parent
    h = hashlib.blake2b(digest_size=16)
    changed = any(_stamped(path) != (path, size, mtime) for path, size, mtime in _SOURCES_AT_IMPORT)
    for path in sorted(root.rglob("*.py")):
        changed = changed or path.stat().st_mtime_ns > _IMPORTED_AT_NS
        h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    if changed:
        return f"changed under process {os.getpid()}: {os.urandom(8).hex()}"
    return h.hexdigest()
