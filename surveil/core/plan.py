"""The planner: facts + pack + profile + today -> the next item of each kind, with its due window.

Pure: no clock, no database, no I/O. How each date is found (docs/protocols.md, "How the planner
reads a pack"):

* Rules are read in file order. Within a ``group`` the first matching rule wins (a decision table);
  rules without a group are add-ons and all apply. A matching ``no_follow_up`` rule is a verdict.
* A repeating item is anchored on the **last completed** item of its kind (a completed ``mri``
  satisfies a ``ct_or_mri`` need, vocab.SATISFIES) done on or after the rule's index date (a new
  disease-state episode restarts the clock); else on the index date itself, with the ``first``
  interval. Dates are anchor + relativedelta in one step, never chained.
* An overdue item stays overdue: the next window is only ever moved by a completed item, never by
  the passing of time.
* When two rules ask for the same kind, the more urgent (earlier target) wins.
* Markers whose own window contains an imaging target are booked on that date (one visit).
"""

import datetime as dt
from dataclasses import dataclass
from functools import cache
from typing import Any

from surveil.core.combine import bundle, most_urgent, paused
from surveil.core.draft import Anchor as Anchor
from surveil.core.draft import Draft as _Draft
from surveil.core.facts import Completed, Facts, Therapy
from surveil.core.protocol import Evidence, Index, Interval, ItemSpec, Pack, Rule, Schedule
from surveil.core.situation import Situation, first_recurrence, matches, situation
from surveil.core.vocab import (
    SATISFIES,
    Grade,
    ItemKind,
    ItemStatus,
    StateKind,
)
from surveil.core.windows import Window, add_months, after, before, status_on, years_after
from surveil.core.wording import label, reason
from surveil.errors import InvalidInput, Problem

PLAN_VERSION = 1

# How the start of each disease-state episode reads in a reason line.
_EPISODE_START = {
    StateKind.ACTIVE_SURVEILLANCE: "start of active surveillance",
    StateKind.RESECTED: "resection",
    StateKind.ADVANCED: "start of advanced-disease follow-up",
    StateKind.DISCHARGED: "discharge",
}


@dataclass(frozen=True)
class PlannedItem:
    kind: ItemKind
    earliest: dt.date
    target: dt.date
    latest: dt.date
    status: ItemStatus
    rule: str
    pack_id: str
    pack_version: str
    profile: str
    source: str
    evidence: Evidence
    anchor: Anchor
    reason: str
    region: str | None = None


@dataclass(frozen=True)
class NoFollowUp:
    rule: str
    source: str
    evidence: Evidence
    reason: str


@dataclass(frozen=True)
class Plan:
    grade: Grade
    profile: str
    pack_id: str
    pack_version: str
    no_follow_up: NoFollowUp | None
    items: tuple[PlannedItem, ...]
    closed: str | None = None  # why nothing at all is planned (deceased, discharged)
    # The disease programme ran its course (stop after N years): said, never a silent empty plan.
    complete: str | None = None
    # A programme that will have run its years on this day, after today: from then on the same
    # facts may plan differently (``core.horizon``, how long a stored plan holds).
    ends_on: dt.date | None = None


def plan(facts: Facts, pack: Pack, profile_name: str | None, today: dt.date) -> Plan:
    """Every item the patient needs next under ``pack``'s profile, as of ``today``."""
    if (profile_name or pack.default_profile) not in pack.profiles:
        known = ", ".join(sorted(pack.profiles))
        raise InvalidInput(Problem("profile", f"{profile_name!r} is not one of: {known}"))
    profile = pack.profile(profile_name)
    grade = facts.grade
    if closed := _closed(facts):
        return Plan(grade, profile.name, pack.id, pack.version, None, (), closed=closed)
    s = situation(facts, today)
    verdict: NoFollowUp | None = None
    drafts: list[_Draft] = []
    decided: set[str] = set()
    for order, rule in enumerate(profile.rules):
        if (rule.group is not None and rule.group in decided) or not matches(rule.eligibility, s):
            continue
        if rule.group is not None:
            decided.add(rule.group)
        if rule.no_follow_up:
            verdict = verdict or NoFollowUp(rule.id, rule.source, rule.evidence, rule.reason)
            continue
        made: _Made = {}
        for spec in rule.items:
            if (d := _draft(order, rule, spec, s, made)) is not None:
                drafts.append(d)
    kept = bundle(most_urgent(paused(drafts)))
    items = tuple(_finish(d, pack, profile.name, today) for d in kept)
    complete, ends_on = (None, None) if verdict else _complete(profile.rules, decided, drafts, s)
    return Plan(
        grade,
        profile.name,
        pack.id,
        pack.version,
        verdict,
        items,
        complete=complete,
        ends_on=ends_on,
    )


def _complete(
    rules: tuple[Rule, ...], decided: set[str], drafts: list[_Draft], s: Situation
) -> tuple[str | None, dt.date | None]:
    """The verdict when a matching grouped rule with ``after_years`` has nothing left to plan,
    and the earliest end, after today, of such a programme that has not yet run its years."""
    ends_on: dt.date | None = None
    for rule in rules:
        stop = rule.stop
        if rule.group not in decided or stop is None or stop.after_years is None:
            continue
        if not matches(rule.eligibility, s) or any(d.rule is rule for d in drafts):
            continue
        index, event = _rule_index(rule, s)
        ended = years_after(index, stop.after_years)
        if s.today < ended and (ends_on is None or ended < ends_on):
            ends_on = ended
        if s.today >= ended or all(_draft(0, rule, spec, s) is None for spec in rule.items):
            return (
                f"programme complete: {rule.title} ({rule.id}) for {stop.after_years} years "
                f"from {event} on {index.isoformat()}; ended {ended.isoformat()}",
                ends_on,
            )
    return None, ends_on


def _closed(facts: Facts) -> str | None:
    if facts.patient.deceased_on is not None:
        return f"deceased on {facts.patient.deceased_on.isoformat()}"
    if facts.state.kind is StateKind.DISCHARGED:
        return f"discharged on {facts.state.since.isoformat()}"
    return None


# ---------------------------------------------------------------------------------------------
# One item


# The drafts of one rule's items for one patient, by the item's identity: an item planned
# ``with`` another (CgA with the MRI) takes its host's draft, which the rule drafts anyway.
_Made = dict[int, "_Draft | None"]


def _draft(
    order: int, rule: Rule, spec: ItemSpec, s: Situation, made: _Made | None = None
) -> _Draft | None:
    if made is None:
        return _new_draft(order, rule, spec, s, None)
    key = id(spec)
    if key in made:
        return made[key]
    drafted = made[key] = _new_draft(order, rule, spec, s, made)
    return drafted


def _new_draft(
    order: int, rule: Rule, spec: ItemSpec, s: Situation, made: _Made | None
) -> _Draft | None:
    if spec.only_if_raised is not None and spec.only_if_raised not in s.raised:
        return None
    if spec.unless_raised is not None and spec.unless_raised in s.raised:
        return None
    if spec.with_kind is not None:
        return _with(order, rule, spec, s, made)
    if spec.schedule is Schedule.REPEAT:
        return _repeat(order, rule, spec, s)
    assert spec.therapy is not None  # the parser requires a therapy for dose schedules
    therapy = s.therapy(spec.therapy)
    if therapy is None:
        return None
    if spec.schedule is Schedule.DOSE:
        return _next_dose(order, rule, spec, s, therapy)
    if spec.schedule is Schedule.BEFORE_DOSE:
        return _before_dose(order, rule, spec, s, therapy)
    return _after_course(order, rule, spec, s, therapy)


def _with(
    order: int, rule: Rule, spec: ItemSpec, s: Situation, made: _Made | None
) -> _Draft | None:
    """An item booked with another of its rule (CgA with each MRI): same window and anchor."""
    host = _host(rule, spec)
    drafted = None if host is None else _draft(order, rule, host, s, made)
    if drafted is None or host is None:
        return None
    what = label(host.kind, host.region)
    if spec.catch_up and not drafted.first and _missed(spec, drafted.anchor.date, s):
        # Missed at the last visit: due now, not silently carried to the next scan.
        day = drafted.anchor.date
        window = Window(earliest=day, target=day, latest=add_months(day, 1))
        extra = f"not done with the last {what} on {day.isoformat()}: due now"
        return drafted._replace(spec=spec, window=window, extra=extra)
    return drafted._replace(spec=spec, extra=f"with the {what}")


def _host(rule: Rule, spec: ItemSpec) -> ItemSpec | None:
    """The item of ``rule`` that ``spec`` is planned with, found once per (rule, item): a
    pack's rules and items live as long as the pack, and finding it was a scan per patient."""
    found = _HOSTS.get(id(spec))
    if found is not None and found[0] is spec and found[1] is rule:
        return found[2]
    host = next((i for i in rule.items if i.kind is spec.with_kind and i is not spec), None)
    # Rule and item are kept with the answer, so their ids stay theirs while it is remembered.
    if len(_HOSTS) >= 4096:
        _HOSTS.clear()  # bounded: many packs loaded in one process (the tests) refill it
    _HOSTS[id(spec)] = (spec, rule, host)
    return host


_HOSTS: dict[int, tuple[ItemSpec, Rule, ItemSpec | None]] = {}


def _missed(spec: ItemSpec, host_done: dt.date, s: Situation) -> bool:
    # A marker drawn up to a month before its scan still counts as done with it.
    since = add_months(host_done, -1)
    return last_done(spec.kind, s, since=since, region=spec.region) is None


def _rule_index(rule: Rule, s: Situation) -> tuple[dt.date, str]:
    state = s.facts.state
    if rule.index is Index.DIAGNOSIS and s.facts.tumour and s.facts.tumour.diagnosed_on:
        return s.facts.tumour.diagnosed_on, "diagnosis"
    if rule.index is Index.BIRTH and s.facts.patient.birth_date:
        return s.facts.patient.birth_date, "birth"
    if rule.index is Index.RECURRENCE and (found := first_recurrence(s)) is not None:
        return found, "first lesion measured after the resection"
    if rule.index is Index.THERAPY:
        started = [t for k in rule.eligibility.on_therapy if (t := s.therapy(k)) is not None]
        if started:
            latest = max(started, key=lambda t: t.started_on)
            return latest.started_on, f"start of {latest.kind.value}"
    return state.since, _EPISODE_START[state.kind]


def _item_start(spec: ItemSpec, s: Situation, start: dt.date, event: str) -> tuple[dt.date, str]:
    """The rule's index (``start``, ``event``), or the birthday at which an age-gated item
    begins, whichever is later."""
    born = s.facts.patient.birth_date
    if spec.start_age is not None and born is not None:
        birthday = years_after(born, spec.start_age)
        if birthday > start:
            return birthday, f"age {spec.start_age}"
    return start, event


def _repeat(order: int, rule: Rule, spec: ItemSpec, s: Situation) -> _Draft | None:
    index, index_event = _rule_index(rule, s)
    start, start_event = _item_start(spec, s, index, index_event)
    last = last_done(spec.kind, s, since=start, region=spec.region, also=spec.satisfied_by)
    if last is not None:
        anchor = _last_anchor(last)
        interval = _phase_interval(spec, index, last.date)
    else:
        anchor = Anchor(start_event, start)
        interval = spec.first or _phase_interval(spec, index, start)
    if interval is None:
        return None  # past the last phase: the programme is complete
    window = after(anchor.date, interval)
    stop = rule.stop
    if stop and stop.after_years and window.earliest > years_after(index, stop.after_years):
        return None
    return _Draft(order, rule, spec, window, anchor, interval, first=last is None)


def _last_anchor(last: Completed) -> Anchor:
    """``last MRI`` on the day it was done. Remembered by the completed item's identity (the
    facts share one Completed per kind, day and region across patients; the item is kept with
    its anchor, so its id stays its own), as an Anchor is immutable."""
    found = _ANCHORS.get(id(last))
    if found is not None and found[0] is last:
        return found[1]
    anchor = Anchor(f"last {label(last.kind, last.region)}", last.date)
    if len(_ANCHORS) >= 1 << 16:
        _ANCHORS.clear()  # bounded; refilled from the next patients
    _ANCHORS[id(last)] = (last, anchor)
    return anchor


_ANCHORS: dict[int, tuple[Completed, Anchor]] = {}


def _phase_interval(spec: ItemSpec, index: dt.date, day: dt.date) -> Interval | None:
    """The interval of the phase in force on ``day`` (years counted from the rule's index)."""
    for phase in spec.phases:
        # A phase from year 0 is in force from the start: its first day is not worked out.
        if phase.from_year != 0 and day < years_after(index, phase.from_year):
            continue
        if phase.to_year is None or day < years_after(index, phase.to_year):
            return phase.interval
    return None


def last_done(
    kind: ItemKind,
    s: Situation,
    *,
    since: dt.date,
    region: str | None = None,
    also: frozenset[ItemKind] = frozenset(),
) -> Completed | None:
    """The latest completed item that satisfies ``kind`` in ``region``, done on or after
    ``since``. Regions must match: in MEN1 the yearly abdominal MRI must not restart the
    three-yearly pituitary MRI's clock, nor a pituitary MRI stand in for an abdominal one."""
    best: Completed | None = None
    for done_kind in _satisfying(kind, also):
        for c in s.done.get((done_kind, region), ()):
            if c.date >= since and (
                best is None or (c.date, c.kind) > (best.date, best.kind)  # StrEnum: by value
            ):
                best = c
    return best


@cache
def _satisfying(kind: ItemKind, also: frozenset[ItemKind]) -> tuple[ItemKind, ...]:
    """The completed kinds that count as ``kind`` done: itself, ``also``, and any kind that
    satisfies it (an MRI for a ``ct_or_mri`` need, vocab.SATISFIES). Sorted: a fixed order."""
    kinds = {kind} | also | {done for done, needs in SATISFIES.items() if kind in needs}
    return tuple(sorted(kinds))


def _doses(therapy: Therapy) -> tuple[int, dt.date]:
    """Doses given so far and the date of the last one (the start date is the first dose)."""
    given = therapy.cycles_given if therapy.cycles_given is not None else 1
    return given, therapy.last_given_on or therapy.started_on


def _dose_spec(rule: Rule, spec: ItemSpec) -> ItemSpec | None:
    return next(
        (i for i in rule.items if i.schedule is Schedule.DOSE and i.therapy is spec.therapy), None
    )


def _next_dose(
    order: int, rule: Rule, spec: ItemSpec, s: Situation, therapy: Therapy
) -> _Draft | None:
    given, last = _doses(therapy)
    if not therapy.is_ongoing(s.today) or (spec.cycles is not None and given >= spec.cycles):
        return None
    interval = spec.phases[0].interval
    of = f" of {spec.cycles}" if spec.cycles else ""
    anchor = Anchor(f"{therapy.kind.value} dose {given}{of}", last)
    return _Draft(order, rule, spec, after(last, interval), anchor, interval, first=False)


def _before_dose(
    order: int, rule: Rule, spec: ItemSpec, s: Situation, therapy: Therapy
) -> _Draft | None:
    dose_spec = _dose_spec(rule, spec)
    dose = None if dose_spec is None else _next_dose(order, rule, dose_spec, s, therapy)
    if dose is None:
        return None
    if last_done(spec.kind, s, since=dose.anchor.date, region=spec.region):
        return None
    offset = spec.phases[0].interval
    window = before(dose.window.target, offset, not_before=dose.anchor.date)
    extra = f"before the next {label(dose_spec.kind)} (target {dose.window.target.isoformat()})"  # type: ignore[union-attr]
    return _Draft(order, rule, spec, window, dose.anchor, offset, first=True, extra=extra)


def _after_course(
    order: int, rule: Rule, spec: ItemSpec, s: Situation, therapy: Therapy
) -> _Draft | None:
    dose_spec = _dose_spec(rule, spec)
    cycles = spec.cycles or (dose_spec.cycles if dose_spec else None)
    given, last = _doses(therapy)
    ended = therapy.ended_on is not None and therapy.ended_on <= s.today
    if not ended and (cycles is None or given < cycles):
        return None
    since = last + dt.timedelta(days=1)
    if spec.at:
        return _course_series(order, rule, spec, s, therapy, last)
    if last_done(spec.kind, s, since=since, region=spec.region) is not None:
        return None  # the post-course item was done
    interval = spec.phases[0].interval
    anchor = Anchor(f"last {therapy.kind.value} dose (course complete)", last)
    return _Draft(order, rule, spec, after(last, interval), anchor, interval, first=True)


# The window around each fixed post-course date (bloods at 1, 3, 6, 12 months after PRRT).
_AT_TOLERANCE = dt.timedelta(days=14)


def _course_series(
    order: int, rule: Rule, spec: ItemSpec, s: Situation, therapy: Therapy, last: dt.date
) -> _Draft:
    """``at`` units after the last dose, one per item done since (±2 weeks); once the list is
    used up, every ``interval`` after the last one done."""
    done = sorted(
        c.date
        for c in s.facts.completed
        if c.kind is spec.kind and c.region == spec.region and c.date > last
    )
    interval = spec.phases[0].interval
    if len(done) >= len(spec.at):
        anchor = Anchor(f"last {label(spec.kind, spec.region)}", done[-1])
        return _Draft(order, rule, spec, after(done[-1], interval), anchor, interval, first=False)
    target = last + interval.delta(spec.at[len(done)])
    window = Window(target - _AT_TOLERANCE, target, target + _AT_TOLERANCE)
    anchor = Anchor(f"last {therapy.kind.value} dose (course complete)", last)
    at = ", ".join(str(a) for a in spec.at)
    extra = f"at {at} {interval.unit.value} after the course, then every {interval.describe()}"
    return _Draft(order, rule, spec, window, anchor, interval, first=True, extra=extra)


def _finish(d: _Draft, pack: Pack, profile: str, today: dt.date) -> PlannedItem:
    spec = d.spec
    what, evidence = _words(spec)
    window = d.window
    text = reason(
        pack=pack,
        rule=d.rule,
        what=what,
        interval=d.interval,
        first=d.first,
        source=spec.source,
        evidence=evidence,
        anchor_event=d.anchor.event,
        anchor_date=d.anchor.date,
        extra=f"{d.extra}; {spec.note}" if d.extra and spec.note else d.extra or spec.note,
    )
    # Filled in one step instead of through the frozen dataclass's __init__ (one
    # object.__setattr__ per field, 14 of them, ~3 items per patient: the largest single cost
    # left in the planner's profile). The same fields, all of them: tests/core/test_plan_item.py
    # compares the result with the constructor's.
    item = _new(PlannedItem)
    item.__dict__.update(
        kind=spec.kind,
        earliest=window.earliest,
        target=window.target,
        latest=window.latest,
        status=status_on(window.earliest, window.latest, today),
        rule=d.rule.id,
        pack_id=pack.id,
        pack_version=pack.version,
        profile=profile,
        source=spec.source,
        evidence=spec.evidence,
        anchor=d.anchor,
        reason=text,
        region=spec.region,
    )
    return item


_new = object.__new__


def _words(spec: ItemSpec) -> tuple[str, str]:
    """The item's label in sentence case and its evidence class, worked out once per item of
    the pack (an Enum's ``.value`` is a Python-level property; the label two calls)."""
    found = _WORDS.get(id(spec))
    if found is not None and found[0] is spec:
        return found[1]
    words = (_sentence_case(label(spec.kind, spec.region)), spec.evidence.value)
    if len(_WORDS) >= 4096:
        _WORDS.clear()  # bounded: many packs loaded in one process (the tests) refill it
    _WORDS[id(spec)] = (spec, words)  # the item kept: its id stays its own while remembered
    return words


_WORDS: dict[int, tuple[ItemSpec, tuple[str, str]]] = {}


def _sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:]


def plan_to_json(plan: Plan) -> dict[str, Any]:
    """The public plan contract (docs/contract.md); the triggers engine fills ``triggers``."""
    verdict = plan.no_follow_up
    return {
        "grade": plan.grade.value,
        "profile": plan.profile,
        "pack": {"id": plan.pack_id, "version": plan.pack_version},
        "complete": plan.complete,
        "no_follow_up": None
        if verdict is None
        else {
            "rule": verdict.rule,
            "source": verdict.source,
            "evidence": verdict.evidence.value,
            "reason": verdict.reason,
        },
        "items": [
            {
                "kind": i.kind.value,
                "region": i.region,
                "earliest": i.earliest.isoformat(),
                "target": i.target.isoformat(),
                "latest": i.latest.isoformat(),
                "status": i.status.value,
                "rule": i.rule,
                "source": i.source,
                "anchor": {"event": i.anchor.event, "date": i.anchor.date.isoformat()},
                "reason": i.reason,
            }
            for i in plan.items
        ],
        "triggers": [],
    }
