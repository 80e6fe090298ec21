"""What the rules ask about a patient, worked out once from the facts: grade, current size, age,
raised markers, therapies. :func:`matches` decides whether a rule's eligibility holds.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from surveil.core.facts import Completed, Facts, Therapy
from surveil.core.protocol import Eligibility
from surveil.core.vocab import Grade, ItemKind, StateKind, TherapyKind


@dataclass(frozen=True)
class Situation:
    facts: Facts
    today: dt.date
    grade: Grade
    age: int | None
    size_mm: float | None
    ki67: float | None  # the highest ever recorded
    raised: frozenset[ItemKind]  # markers ever above their upper limit of normal
    ongoing: frozenset[TherapyKind]
    had: frozenset[TherapyKind]
    # The completed items by (kind, region), in the facts' order: the planner asks "last done"
    # about 3 times per rule item, and scanning every completed item each time was its largest cost.
    done: dict[tuple[ItemKind, str | None], list[Completed]] = field(default_factory=dict)

    def therapy(self, kind: TherapyKind) -> Therapy | None:
        """The most recently started therapy of ``kind`` that has started by today."""
        started = [t for t in self.facts.therapies if t.kind is kind and t.started_on <= self.today]
        return max(started, key=lambda t: t.started_on, default=None)


def situation(facts: Facts, today: dt.date) -> Situation:
    done: dict[tuple[ItemKind, str | None], list[Completed]] = {}
    for c in facts.completed:
        key = (c.kind, c.region)
        found = done.get(key)
        if found is None:
            done[key] = [c]
        else:
            found.append(c)
    # List comprehensions, not generators (a generator resumes a frame per item); most patients
    # have no therapy at all, so the two therapy sets are then the one empty set.
    therapies = facts.therapies
    ongoing = had = _NONE
    if therapies:
        ongoing = frozenset([t.kind for t in therapies if t.is_ongoing(today)])
        had = frozenset([t.kind for t in therapies if t.started_on <= today])
    return Situation(
        facts=facts,
        today=today,
        grade=facts.grade,
        age=facts.age_on(today),
        size_mm=current_size(facts),
        ki67=highest_ki67(facts),
        raised=frozenset([m.name for m in facts.markers if m.uln is not None and m.value > m.uln]),
        ongoing=ongoing,
        had=had,
        done=done,
    )


_NONE: frozenset[TherapyKind] = frozenset()


def current_size(facts: Facts) -> float | None:
    """The largest lesion on its latest measurement; else the size recorded with the tumour."""
    if not facts.measurements:
        return facts.tumour.size_mm if facts.tumour else None
    latest: dict[str, tuple[dt.date, float]] = {}
    for m in facts.measurements:
        if m.lesion not in latest or m.date >= latest[m.lesion][0]:
            latest[m.lesion] = (m.date, m.mm)
    if latest:
        return max(mm for _, mm in latest.values())
    return facts.tumour.size_mm if facts.tumour else None


def highest_ki67(facts: Facts) -> float | None:
    if not facts.pathology:  # most patients: only the tumour's own
        return facts.tumour.ki67 if facts.tumour is not None else None
    values = [p.ki67 for p in facts.pathology if p.ki67 is not None]
    if facts.tumour is not None and facts.tumour.ki67 is not None:
        values.append(facts.tumour.ki67)
    return max(values, default=None)


def matches(e: Eligibility, s: Situation) -> bool:
    """True when every condition the rule states holds. Unknown values never satisfy a limit:
    a rule that needs a size below 10 mm does not apply when the size was never recorded."""
    found = _COMPILED.get(id(e))
    if found is None or found[0] is not e:
        found = _COMPILED[id(e)] = (e, _compile(e))
    for check in found[1]:  # noqa: SIM110 (all() over a generator: a frame per rule asked)
        if not check(s):
            return False
    return True


# Each eligibility's stated conditions as a tuple of checks, made once per eligibility: the
# planner asks about every rule of the profile for every patient (~16 per patient), and walking
# all 24 terms, most of them empty, was its largest cost. Keyed by identity (hashing a rule's
# eligibility costs more than checking it); the eligibility is kept so that its id stays its own.
_COMPILED: dict[int, tuple[Eligibility, tuple["_Check", ...]]] = {}
_Check = Callable[[Situation], bool]


def _compile(e: Eligibility) -> tuple[_Check, ...]:
    """The checks of ``e``'s stated conditions, in the order ``matches`` used to read them."""
    checks: list[_Check] = []
    if e.tumour is not None:
        wanted = e.tumour
        checks.append(lambda s: (s.facts.tumour is not None) == wanted)
    checks += _tumour_checks(e)
    checks += _patient_checks(e)
    checks += _number_checks(e)
    checks += _added_fact_checks(e)
    return tuple(checks)


def _tumour_checks(e: Eligibility) -> list[_Check]:
    # Without a tumour, any condition on the tumour (or its grade) fails; the resection
    # condition is only read with one.
    checks: list[_Check] = []
    for allowed, attribute in (
        (e.sites, "site"),
        (e.differentiations, "differentiation"),
        (e.stages, "stage"),
        (e.functional, "functional"),
        (e.sstr, "sstr"),
    ):
        if allowed:
            checks.append(_tumour_within(attribute, allowed))
    if e.grades:
        grades = e.grades
        checks.append(lambda s: s.facts.tumour is not None and s.grade in grades)
    if e.resections:
        resections = e.resections
        checks.append(lambda s: s.facts.tumour is None or s.facts.state.resection in resections)
    return checks


def _tumour_within(attribute: str, allowed: frozenset[Any]) -> _Check:
    read = attrgetter(attribute)

    def check(s: Situation) -> bool:
        t = s.facts.tumour
        return t is not None and read(t) in allowed

    return check


def _patient_checks(e: Eligibility) -> list[_Check]:
    checks: list[_Check] = []
    if e.states:
        states = e.states
        checks.append(lambda s: s.facts.state.kind in states)
    if e.hereditary:
        hereditary = e.hereditary
        checks.append(lambda s: s.facts.patient.hereditary in hereditary)
    if e.on_therapy:
        on = e.on_therapy
        checks.append(lambda s: bool(on & s.ongoing))
    if e.had_therapy:
        had = e.had_therapy
        checks.append(lambda s: bool(had & s.had))
    return checks


def _number_checks(e: Eligibility) -> list[_Check]:
    # (value, limit, passes when value <= limit?, strict?) — an unknown value never passes.
    limits: list[tuple[str, float | None, bool, bool]] = [
        ("size_mm", e.max_size_mm, True, False),
        ("size_mm", e.size_under_mm, True, True),
        ("ki67", e.ki67_above, False, True),
        ("ki67", e.ki67_at_most, True, False),
        ("age", e.min_age, False, False),
        ("age", e.max_age, True, False),
    ]
    return [
        _limit_check(attrgetter(name), limit, below, strict)
        for name, limit, below, strict in limits
        if limit is not None
    ]


def _limit_check(
    read: Callable[[Situation], Any], limit: float, below: bool, strict: bool
) -> _Check:
    return lambda s: _within_limit(read(s), limit, below, strict)


def _added_fact_checks(e: Eligibility) -> list[_Check]:
    """The conditions on the optional facts of pack 2027.1: an unrecorded fact matches nothing.
    Without a tumour, any of them fails but ``lesion_after_resection``, which is not read."""
    checks: list[_Check] = []
    for allowed, attribute in (
        (e.node_status, "node_status"),
        (e.carcinoid_type, "carcinoid_type"),
        (e.gastric_type, "gastric_type"),
    ):
        if allowed:
            checks.append(_tumour_within(attribute, allowed))
    if e.adverse_histology is not None:
        adverse = e.adverse_histology
        checks.append(lambda s: _adverse(s) is adverse)
    if e.carcinoid_heart_disease is not None:
        heart = e.carcinoid_heart_disease
        checks.append(
            lambda s: s.facts.tumour is not None and s.facts.tumour.carcinoid_heart_disease is heart
        )
    if e.lesion_after_resection is not None:
        after = e.lesion_after_resection
        checks.append(lambda s: s.facts.tumour is None or recurred(s) is after)
    return checks


def _adverse(s: Situation) -> bool | None:
    t = s.facts.tumour
    if t is None or t.adverse_histology is None:
        return None
    return bool(t.adverse_histology)


def recurred(s: Situation) -> bool:
    """A lesion measured after the resection: RECIST 1.1 counts any new lesion as progression."""
    return first_recurrence(s) is not None


def first_recurrence(s: Situation) -> dt.date | None:
    """The date of the first lesion measured after the resection (None: none, or not resected)."""
    state = s.facts.state
    if state.kind is not StateKind.RESECTED:
        return None
    dates = [m.date for m in s.facts.measurements if state.since < m.date <= s.today]
    return min(dates, default=None)


def _within_limit(value: float | None, limit: float | None, below: bool, strict: bool) -> bool:
    if limit is None:
        return True
    if value is None:
        return False
    if below:
        return value < limit if strict else value <= limit
    return value > limit if strict else value >= limit
