"""The follow-ups a demo patient has already had, as the real planner asked for them.

A real registry has most follow-ups done: without that history the planner finds years of items
overdue and half the demo lands in "lost to follow-up". So each patient's past is replayed against
the planner: plan as of today, mark the items whose target has passed as done near their target,
plan again (each completion anchors the next window), for a few rounds.

Years of 3-monthly markers would take dozens of rounds and millions of rows, so when an item is
more than one interval behind, only its first occurrence (on time) and the **latest cycle** are
recorded: the planner is asked what the latest cycle would have been after an earlier, unrecorded
visit one to two intervals before today, and that item is recorded as done. The cycles in between
are not recorded; every recorded row is one the planner really produced.

Not everyone attends. Per patient, from a stream seeded by (seed, number):

* ``STOPPED_SHARE`` stopped coming at some date in the last years: nothing after it is done, so
  they surface as overdue or lost to follow-up, as the safety net should catch;
* ``LAPSED_SHARE`` missed what fell due in the last few months (overdue, a few lost);
* an item whose target has passed but whose window is still open is left undone half the time
  (due now).
"""

import datetime as dt
import random
from collections.abc import Iterable
from dataclasses import dataclass, replace

from surveil.core.facts import Completed
from surveil.core.plan import PlannedItem, plan
from surveil.core.protocol import Pack, Profile
from surveil.core.vocab import ItemKind
from surveil.db.models import ItemState
from surveil.demo.facts import facts_from_draft
from surveil.demo.story import Draft, Row

STOPPED_SHARE = 0.015  # stopped attending altogether (lost to follow-up)
STOPPED_YEARS = (0.25, 3.0)  # how long ago they stopped
LAPSED_SHARE = 0.08  # missed what fell due recently
LAPSED_DAYS = (45, 200)  # how far back "recently" reaches
OPEN_UNDONE_SHARE = 0.25  # past its target, window still open: not done yet
ROUNDS = 8  # plan → complete rounds per patient; most finish in two (see run)
HISTORY_NOTE = "demo history (synthetic)"

Key = tuple[ItemKind, str | None, dt.date]


@dataclass(frozen=True)
class Protocol:
    """What the history is replayed against (the clinic's pack and profile) and as of when."""

    pack: Pack
    profile: Profile
    today: dt.date
    seed: int


@dataclass(frozen=True)
class Done:
    item: PlannedItem
    on: dt.date


class _Replay:
    """One patient's replay: the completions so far and the items deliberately left alone."""

    def __init__(self, draft: Draft, *, patient_id: int, created: dt.date, protocol: Protocol):
        self.protocol = protocol
        self.rng = random.Random(f"surveil-demo-history/{protocol.seed}/{draft.number}")
        self.cutoff = self._attendance()
        self.facts = facts_from_draft(draft, patient_id=patient_id, created=created)
        self.done: dict[Key, Done] = {}
        self.skipped: set[Key] = set()
        # Per (kind, region): a visit date after which the planner asked for nothing more of
        # that kind (the programme had ended), so later guesses must stay before it.
        self.too_late: dict[tuple[ItemKind, str | None], dt.date] = {}
        # Per (kind, region): the interval seen after a guessed visit, when it is longer than
        # the one before (phases widen), so the next guess reaches back far enough.
        self.interval: dict[tuple[ItemKind, str | None], int] = {}

    def _attendance(self) -> dt.date:
        """The day from which nothing more was done (today for most patients)."""
        today, draw = self.protocol.today, self.rng.random()
        if draw < STOPPED_SHARE:
            return today - dt.timedelta(days=round(self.rng.uniform(*STOPPED_YEARS) * 365.25))
        if draw < STOPPED_SHARE + LAPSED_SHARE:
            return today - dt.timedelta(days=self.rng.randint(*LAPSED_DAYS))
        return today

    def plan(self, extra: Iterable[Completed] = ()) -> tuple[PlannedItem, ...]:
        done = {Completed(d.item.kind, d.on, d.item.region) for d in self.done.values()}
        everything = set(self.facts.completed) | done | set(extra)
        completed = tuple(sorted(everything, key=lambda c: (c.kind, c.date, c.region or "")))
        p = self.protocol
        return plan(replace(self.facts, completed=completed), p.pack, p.profile.name, p.today).items

    def run(self) -> list[Done]:
        for _ in range(ROUNDS):
            behind = self._behind(self.plan())
            if not behind:
                break
            earlier: dict[tuple[ItemKind, str | None], Completed] = {}
            for item in behind:
                on = self._complete(item)
                guess = self._earlier_visit(item, on)
                if guess is not None:
                    earlier[_kind(item)] = Completed(item.kind, guess, item.region)
            if earlier:
                self._latest_cycles(earlier)
        return sorted(self.done.values(), key=lambda d: (d.on, d.item.kind.value))

    def _behind(self, items: tuple[PlannedItem, ...]) -> list[PlannedItem]:
        """Items past their target before the cutoff that a completion can still move."""
        out = []
        for item in items:
            key = _key(item)
            if key in self.done:
                # Completing it did not move it: dose-driven (injections, PRRT), not ours to do.
                del self.done[key]
                self.skipped.add(key)
            elif key not in self.skipped and item.target < self.cutoff:
                if item.latest >= self.protocol.today and self.rng.random() < OPEN_UNDONE_SHARE:
                    self.skipped.add(key)  # still in its window: due now
                else:
                    out.append(item)
        return out

    def _earlier_visit(self, item: PlannedItem, on: dt.date | None) -> dt.date | None:
        """A plausible unrecorded visit one to two intervals before the cutoff, if ``item`` is
        more than an interval behind; kept before a date the programme had already ended by."""
        step = max((item.target - item.anchor.date).days, self.interval.get(_kind(item), 0))
        if on is None or step <= 0 or (self.cutoff - item.target).days <= step:
            return None
        back = dt.timedelta(days=round(step * self.rng.uniform(1.1, 1.9)))
        # After an ended programme, step back from the visit that came too late.
        guess = min(self.cutoff, self.too_late.get(_kind(item), self.cutoff)) - back
        return guess if guess > on else None

    def _latest_cycles(self, earlier: dict[tuple[ItemKind, str | None], Completed]) -> None:
        """Record the cycles the planner asks for after the (unrecorded) visits ``earlier``."""
        visits = {c.date for c in earlier.values()}
        items = self.plan(earlier.values())
        for item in items:
            if item.anchor.date not in visits:
                continue
            if item.target < self.cutoff:
                self._complete(item)
            else:
                self.interval[_kind(item)] = (item.target - item.anchor.date).days
        asked = {_kind(i) for i in items}
        for key, visit in earlier.items():
            if key not in asked:
                self.too_late[key] = visit.date  # nothing more of this kind after it: ended

    def _complete(self, item: PlannedItem) -> dt.date | None:
        """Record ``item`` done near its target (never before its anchor or window, never on or
        after the cutoff); return the day, or None if no such day exists."""
        spread = max((item.latest - item.earliest).days / 4, 3.0)
        day = item.target + dt.timedelta(days=round(self.rng.gauss(0, spread)))
        low = max(item.earliest, item.anchor.date)
        high = min(item.latest, self.cutoff - dt.timedelta(days=1))
        if low > high:
            self.skipped.add(_key(item))
            return None
        on = min(max(day, low), high)
        self.done[_key(item)] = Done(item, on)
        return on


def _key(item: PlannedItem) -> Key:
    return item.kind, item.region, item.target


def _kind(item: PlannedItem) -> tuple[ItemKind, str | None]:
    return item.kind, item.region


def history(draft: Draft, *, patient_id: int, created: dt.date, protocol: Protocol) -> list[Done]:
    """The follow-up items ``draft`` has completed, oldest first (see the module docstring)."""
    return _Replay(draft, patient_id=patient_id, created=created, protocol=protocol).run()


def done_row(done: Done, *, patient_id: int, now: dt.datetime) -> Row:
    """A ``followup_item`` row in state done, copying the planned item's provenance.

    Stamped as if it had happened then: planned on its anchor date and closed on the day it
    was done (midday UTC, never after ``now``). Stamping years of history "now" would make
    every old completion look freshly changed, and a patient's calendar feed would carry
    them all for its retention period as if they had just been recorded.
    """
    item = done.item
    closed = min(_midday(done.on), now)
    return {
        "patient_id": patient_id,
        "kind": item.kind.value,
        "region": item.region,
        "earliest": item.earliest,
        "target": item.target,
        "latest": item.latest,
        "state": ItemState.DONE.value,
        "rule_id": item.rule,
        "pack_id": item.pack_id,
        "pack_version": item.pack_version,
        "profile": item.profile,
        "source": item.source[:200],
        "evidence": str(item.evidence),
        "anchor_event": item.anchor.event[:64],
        "anchor_date": item.anchor.date,
        "reason": item.reason[:500],
        "urgent": item.kind is ItemKind.SSA_INJECTION,
        "booked_at": None,
        "completed_on": done.on,
        "outcome_note": HISTORY_NOTE,
        "snoozed_until": None,
        "snooze_reason": "",
        "superseded_by_id": None,
        "superseded_reason": "",
        "sequence": 0,
        "created_at": min(_midday(item.anchor.date), closed),
        "updated_at": closed,
    }


def _midday(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
