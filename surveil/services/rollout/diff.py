"""``surveil schedules diff``: run two protocol versions (or profiles) over the whole registry and
report, per rule, whose next items would change and how — earlier, later, new or gone.

Both sides are planned from the same stored facts and overrides as of the same day; nothing is
written but one audit event for the run (it reads every visible patient's record). The registry
is read in chunks, each in its own read-only snapshot, so 100,000 patients take minutes and
memory stays flat.
"""

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.config import Settings
from surveil.core.plan import Plan, PlannedItem
from surveil.core.protocol import Pack, Profile
from surveil.db import models as m
from surveil.db.queries import facts_for_patients
from surveil.db.session import read_scope, session_scope
from surveil.errors import InvalidInput, Problem
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.entry import audited_read
from surveil.services.planning.plans import compute_plan, overrides_for
from surveil.services.protocols import version_profile


class Change(StrEnum):
    EARLIER = "earlier"
    LATER = "later"
    NEW = "new"
    GONE = "gone"
    VERDICT = "verdict"  # the no-follow-up or programme-complete verdict changed


@dataclass(frozen=True)
class DiffRow:
    """One patient's next item of one kind that the change moves."""

    mrn: str
    rule: str  # the rule that decides under the new version (the old one for "gone")
    kind: str  # kind[:region], or "verdict"
    change: Change
    before_rule: str | None
    before_target: dt.date | None
    after_rule: str | None
    after_target: dt.date | None

    @property
    def days(self) -> int | None:
        if self.before_target is None or self.after_target is None:
            return None
        return (self.after_target - self.before_target).days


@dataclass
class ProtocolDiff:
    before: str  # "net-default 2026.1 default"
    after: str
    today: dt.date
    patients: int = 0
    rows: list[DiffRow] = field(default_factory=list)

    @property
    def changed_patients(self) -> int:
        return len({r.mrn for r in self.rows})

    def by_rule(self) -> dict[str, Counter[Change]]:
        """rule -> how many items change in each way; rules sorted by id."""
        out: dict[str, Counter[Change]] = {}
        for row in self.rows:
            out.setdefault(row.rule, Counter())[row.change] += 1
        return dict(sorted(out.items()))

    def patients_by_rule(self) -> dict[str, list[str]]:
        out: dict[str, set[str]] = {}
        for row in self.rows:
            out.setdefault(row.rule, set()).add(row.mrn)
        return {rule: sorted(mrns) for rule, mrns in sorted(out.items())}


@dataclass(frozen=True)
class Side:
    pack: Pack
    profile: Profile

    def describe(self) -> str:
        return f"{self.pack.id} {self.pack.version} {self.profile.name}"


@audited_read("protocol.diffed")
def diff_protocols(
    engine: sa.Engine,
    *,
    actor: Actor,
    settings: Settings,
    from_version: str,
    to_version: str,
    today: dt.date,
    profile: str | None = None,
    from_profile: str | None = None,
    chunk: int = 1000,
    progress: Callable[[int, int], None] | None = None,
) -> ProtocolDiff:
    """Every visible patient planned under both sides; ``progress(done, total)`` per chunk.

    ``profile`` names the new side's profile (default: the clinic's, else the pack default);
    ``from_profile`` the old side's (default: ``profile`` if the old version has it, else the
    clinic's)."""
    if chunk < 1:
        raise InvalidInput(Problem("chunk", f"{chunk} patients per read: give 1 or more"))
    after = Side(*version_profile(settings, to_version, profile))
    old_pack, _ = version_profile(settings, from_version, None)
    wanted = from_profile or (profile if profile in old_pack.profiles else None)
    before = Side(*version_profile(settings, from_version, wanted))
    report = ProtocolDiff(before=before.describe(), after=after.describe(), today=today)
    ids = _visible_ids(engine, actor)
    for start in range(0, len(ids), chunk):
        with read_scope(engine) as session:
            report.rows += _diff_chunk(session, ids[start : start + chunk], before, after, today)
        if progress is not None:
            progress(min(start + chunk, len(ids)), len(ids))
    report.patients = len(ids)
    with session_scope(engine) as session:
        audit(
            session,
            actor=actor,
            action="protocol.diffed",
            subject=f"protocol:{after.pack.id}",
            before={"protocol": report.before},
            after={"protocol": report.after, "patients": report.patients},
            detail=f"diff {report.before} -> {report.after} as of {today}: "
            f"{report.changed_patients} of {report.patients} patient(s) would change",
        )
    return report


def _visible_ids(engine: sa.Engine, actor: Actor) -> list[int]:
    query = select(m.Patient.id).order_by(col(m.Patient.id))
    if not actor.is_admin:
        query = query.where(m.Patient.clinic == actor.clinic)
    with read_scope(engine) as session:
        return [pid for pid in session.exec(query).all() if pid is not None]


def _diff_chunk(
    session: Session, ids: list[int], before: Side, after: Side, today: dt.date
) -> list[DiffRow]:
    patients = list(session.exec(select(m.Patient).where(col(m.Patient.id).in_(ids))).all())
    facts = facts_for_patients(session, patients)
    old_overrides = overrides_for(session, ids, profile=before.profile)
    new_overrides = overrides_for(session, ids, profile=after.profile)
    rows: list[DiffRow] = []
    for patient in sorted(patients, key=lambda p: p.id or 0):
        pid = patient.id or 0
        old = compute_plan(
            facts[pid],
            pack=before.pack,
            profile=before.profile,
            overrides=old_overrides.get(pid, []),
            today=today,
        )
        new = compute_plan(
            facts[pid],
            pack=after.pack,
            profile=after.profile,
            overrides=new_overrides.get(pid, []),
            today=today,
        )
        rows += plan_changes(patient.mrn, old, new)
    return rows


def _key(item: PlannedItem) -> str:
    return item.kind.value + (f":{item.region}" if item.region else "")


def _verdict(plan: Plan) -> str | None:
    if plan.no_follow_up is not None:
        return f"no follow-up ({plan.no_follow_up.rule})"
    return plan.complete


def plan_changes(mrn: str, old: Plan, new: Plan) -> list[DiffRow]:
    """How one patient's next items differ between two plans (pure)."""
    before = {_key(i): i for i in old.items}
    after = {_key(i): i for i in new.items}
    rows: list[DiffRow] = []
    for key in sorted(before.keys() | after.keys()):
        a, b = before.get(key), after.get(key)
        change = _change(a, b)
        if change is None:
            continue
        decided = b or a
        assert decided is not None
        rows.append(
            DiffRow(
                mrn=mrn,
                rule=decided.rule,
                kind=key,
                change=change,
                before_rule=a.rule if a else None,
                before_target=a.target if a else None,
                after_rule=b.rule if b else None,
                after_target=b.target if b else None,
            )
        )
    if _verdict(old) != _verdict(new):
        rule = new.no_follow_up.rule if new.no_follow_up else "verdict"
        rows.append(DiffRow(mrn, rule, "verdict", Change.VERDICT, None, None, None, None))
    return rows


def _change(a: PlannedItem | None, b: PlannedItem | None) -> Change | None:
    if a is None:
        return Change.NEW
    if b is None:
        return Change.GONE
    if b.target < a.target:
        return Change.EARLIER
    if b.target > a.target:
        return Change.LATER
    return None
