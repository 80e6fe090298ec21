"""What the rules ask about a patient, worked out once from the facts: grade, current size, age,
raised markers, therapies. :func:`matches` decides whether a rule's eligibility holds.
"""

import datetime as dt
from dataclasses import dataclass, field
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
        found = done.get((c.kind, c.region))
        if found is None:
            done[(c.kind, c.region)] = [c]
        else:
            found.append(c)
    return Situation(
        facts=facts,
        today=today,
        grade=facts.grade,
        age=facts.age_on(today),
        size_mm=current_size(facts),
        ki67=highest_ki67(facts),
        raised=frozenset(m.name for m in facts.markers if m.uln is not None and m.value > m.uln),
        ongoing=frozenset(t.kind for t in facts.therapies if t.is_ongoing(today)),
        had=frozenset(t.kind for t in facts.therapies if t.started_on <= today),
        done=done,
    )


def current_size(facts: Facts) -> float | None:
    """The largest lesion on its latest measurement; else the size recorded with the tumour."""
    latest: dict[str, tuple[dt.date, float]] = {}
    for m in facts.measurements:
        if m.lesion not in latest or m.date >= latest[m.lesion][0]:
            latest[m.lesion] = (m.date, m.mm)
    if latest:
        return max(mm for _, mm in latest.values())
    return facts.tumour.size_mm if facts.tumour else None


def highest_ki67(facts: Facts) -> float | None:
    values = [p.ki67 for p in facts.pathology if p.ki67 is not None]
    if facts.tumour is not None and facts.tumour.ki67 is not None:
        values.append(facts.tumour.ki67)
    return max(values, default=None)


def matches(e: Eligibility, s: Situation) -> bool:
    """True when every condition the rule states holds. Unknown values never satisfy a limit:
    a rule that needs a size below 10 mm does not apply when the size was never recorded."""
    return (
        _tumour_matches(e, s)
        and _patient_matches(e, s)
        and _numbers_match(e, s)
        and _added_facts_match(e, s)
    )


def _added_facts_match(e: Eligibility, s: Situation) -> bool:
    """The conditions on the optional facts of pack 2027.1: an unrecorded fact matches nothing."""
    t = s.facts.tumour
    if t is None:
        return not (e.node_status or e.carcinoid_type or e.gastric_type) and (
            e.adverse_histology is None and e.carcinoid_heart_disease is None
        )
    adverse = None if t.adverse_histology is None else bool(t.adverse_histology)
    return (
        _known_within(t.node_status, e.node_status)
        and _known_within(t.carcinoid_type, e.carcinoid_type)
        and _known_within(t.gastric_type, e.gastric_type)
        and (e.adverse_histology is None or adverse is e.adverse_histology)
        and (
            e.carcinoid_heart_disease is None
            or t.carcinoid_heart_disease is e.carcinoid_heart_disease
        )
        and (e.lesion_after_resection is None or recurred(s) is e.lesion_after_resection)
    )


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


def _known_within(value: object, allowed: frozenset[Any]) -> bool:
    return not allowed or (value is not None and value in allowed)


def _tumour_matches(e: Eligibility, s: Situation) -> bool:
    t, state = s.facts.tumour, s.facts.state
    if e.tumour is not None and e.tumour != (t is not None):
        return False
    tumour_terms = (e.sites, e.differentiations, e.stages, e.functional, e.sstr)
    if t is None:
        return not any(tumour_terms) and not e.grades
    return (
        _within(t.site, e.sites)
        and _within(t.differentiation, e.differentiations)
        and _within(s.grade, e.grades)
        and _within(t.stage, e.stages)
        and _within(t.functional, e.functional)
        and _within(t.sstr, e.sstr)
        and _within(state.resection, e.resections)
    )


def _patient_matches(e: Eligibility, s: Situation) -> bool:
    return (
        _within(s.facts.state.kind, e.states)
        and _within(s.facts.patient.hereditary, e.hereditary)
        and (not e.on_therapy or bool(e.on_therapy & s.ongoing))
        and (not e.had_therapy or bool(e.had_therapy & s.had))
    )


def _numbers_match(e: Eligibility, s: Situation) -> bool:
    # (value, limit, passes when value <= limit?, strict?) — an unknown value never passes.
    checks: list[tuple[float | None, float | None, bool, bool]] = [
        (s.size_mm, e.max_size_mm, True, False),
        (s.size_mm, e.size_under_mm, True, True),
        (s.ki67, e.ki67_above, False, True),
        (s.ki67, e.ki67_at_most, True, False),
        (s.age, e.min_age, False, False),
        (s.age, e.max_age, True, False),
    ]
    return all(_within_limit(v, limit, below, strict) for v, limit, below, strict in checks)


def _within_limit(value: float | None, limit: float | None, below: bool, strict: bool) -> bool:
    if limit is None:
        return True
    if value is None:
        return False
    if below:
        return value < limit if strict else value <= limit
    return value > limit if strict else value >= limit


def _within(value: object, allowed: frozenset[object] | frozenset[ItemKind] | object) -> bool:
    if not allowed:
        return True
    return value in allowed  # type: ignore[operator]
