"""A routine replan skips the patients whose plan cannot have changed (issue 19).

Planning is a pure function of what it reads (``surveil/core``): the patient's facts, open items,
overrides, triggers and their consequences, the protocol in force, the planning code itself, and
today. ``replan --all`` reads all of it for every patient anyway, so it digests it (BLAKE2b of the
rows as read, 128 bits) and compares the digest with the one stored in ``plan_memo`` by the last
run that found this patient's plan and triggers unchanged. The same digest on a day within the
stored span means the same result: nothing to write, so the planner, the triggers and the
reconciliation are skipped. Nothing needs to tell this module that something changed: a change
anywhere in the inputs changes the digest. ``today`` enters through the span: it starts on the
day the digest was stored and ends on the first day the same facts may plan differently
(``core.horizon``), and at most :data:`MAX_SPAN` later, so that every plan is derived afresh at
least every four weeks whatever the horizon says.

Only a patient whose run wrote nothing (no new trigger, no item created or superseded, nothing
stopped) has a digest stored: the state it describes is then one that planning leaves as it is.
A single patient's replan and every refresh after a change still derive the plan every time.
"""

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping, Sequence
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
from surveil.db.queries import PLANNED_PATIENT, FactRows, PlannedPatient
from surveil.schedules import pack_files

# A plan is derived afresh at least this often, whatever ``core.horizon`` says: a bound on how
# long an error in that analysis could go unnoticed, at the cost of ~4 % of patients a day.
MAX_SPAN = dt.timedelta(days=28)

_MEMO = m.PlanMemo.__table__  # type: ignore[attr-defined]
_TRIGGER = m.Trigger.__table__  # type: ignore[attr-defined]
_CONSEQUENCE = m.TriggerConsequence.__table__  # type: ignore[attr-defined]
_OVERRIDE = m.PlanOverride.__table__  # type: ignore[attr-defined]

_STORED = ChunkQuery(
    sa.select(
        _MEMO.c.patient_id, _MEMO.c.inputs, _MEMO.c.checked_on, _MEMO.c.holds_until
    ).add_columns(_MEMO.c.kept),
    _MEMO.c.patient_id,
)
# Whole rows, after their patient's id, in id order: every column may matter to the triggers or
# the overrides one day, and a change to any of them only costs a derivation.
_OTHER_READS = tuple(
    ChunkQuery(
        sa.select(table.c.patient_id.label("of_patient"), table).order_by(table.c.id),
        table.c.patient_id,
    )
    for table in (_TRIGGER, _CONSEQUENCE, _OVERRIDE)
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
    facts: FactRows,
    open_rows: Mapping[int, Sequence[tuple[Any, ...]]],
    pack: Pack,
    profile: Profile,
    schedules: Path | None,
    today: dt.date,
) -> Memo:
    """Digest the inputs of each patient planned before (``planned_at`` set; a first planning
    has nothing to compare with) and say which of them need no planning today."""
    memo = Memo()
    ids = [p.id for p in patients if p.id is not None and p.planned_at is not None]
    if not ids:
        return memo
    stored = {row[0]: row[1:] for row in _STORED.rows(session, ids)}
    others = [_grouped(query.rows(session, ids)) for query in _OTHER_READS]
    run = _run_key(pack, profile, schedules)
    for patient in patients:
        pid = patient.id
        if pid is None or patient.planned_at is None:
            continue
        inputs = (
            run,
            _PATIENT_READ(patient),
            facts.of(pid),
            open_rows.get(pid, ()),
            *(group.get(pid, ()) for group in others),
        )
        digest = hashlib.blake2b(repr(inputs).encode(), digest_size=16).digest()
        memo.digests[pid] = digest
        found = stored.get(pid)
        if found is not None and bytes(found[0]) == digest and found[1] <= today < found[2]:
            memo.skipped[pid] = found[3]
    return memo


def record(
    session: Session,
    memo: Memo,
    *,
    unchanged: Iterable[int],
    holds_until: Mapping[int, dt.date | None],
    kept: Mapping[int, int],
    today: dt.date,
) -> None:
    """Store the digest of each ``unchanged`` patient (planned in full, nothing written) with the
    span in which its plan holds: from today to its horizon, or :data:`MAX_SPAN`."""
    rows = []
    for pid in unchanged:
        digest = memo.digests.get(pid)
        if digest is None:
            continue
        until = holds_until.get(pid)
        until = today + MAX_SPAN if until is None else min(until, today + MAX_SPAN)
        rows.append(
            {
                "patient_id": pid,
                "inputs": digest,
                "checked_on": today,
                "holds_until": until,
                "kept": kept.get(pid, 0),
            }
        )
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(_MEMO)
    replace = {name: insert.excluded[name] for name in ("inputs", "checked_on", "holds_until")}
    session.execute(
        insert.on_conflict_do_update(
            index_elements=["patient_id"], set_={**replace, "kept": insert.excluded.kept}
        ),
        rows,
    )


def _grouped(rows: list[Any]) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = {}
    for row in rows:
        out.setdefault(row[0], []).append(row)
    return out


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
