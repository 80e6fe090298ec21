"""``situation.matches`` compiles each eligibility into the checks it states (a replan asks about
every rule for every patient). This checks it against the rule's plain reading, term by term,
over random eligibilities and random facts: with a tumour or without, optional facts recorded or
not, unknown sizes, ages and Ki-67s, therapies started, ongoing or ended.
"""

import datetime as dt
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from surveil.core import facts as f
from surveil.core.protocol import Eligibility
from surveil.core.situation import Situation, matches, recurred, situation
from surveil.core.vocab import (
    AdverseHistology,
    CarcinoidType,
    Differentiation,
    Functional,
    GastricType,
    Grade,
    Hereditary,
    NodeStatus,
    Resection,
    Site,
    Sstr,
    Stage,
    StateKind,
    TherapyKind,
)
from tests.core.planning import shipped_pack

TODAY = dt.date(2026, 12, 5)
days = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2030, 12, 31))


def some(kind: Any) -> st.SearchStrategy[Any]:
    return st.frozensets(st.sampled_from(list(kind)), min_size=1, max_size=3)


def maybe(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | values


# Each term's values; a rule states a few of them (the others stay "any").
TERMS: dict[str, st.SearchStrategy[Any]] = {
    "tumour": st.booleans(),
    "sites": some(Site),
    "differentiations": some(Differentiation),
    "grades": some(Grade),
    "states": some(StateKind),
    "resections": some(Resection),
    "stages": some(Stage),
    "functional": some(Functional),
    "hereditary": some(Hereditary),
    "sstr": some(Sstr),
    "on_therapy": some(TherapyKind),
    "had_therapy": some(TherapyKind),
    "max_size_mm": st.floats(0, 60),
    "size_under_mm": st.floats(0, 60),
    "ki67_above": st.floats(0, 60),
    "ki67_at_most": st.floats(0, 60),
    "min_age": st.integers(0, 90),
    "max_age": st.integers(0, 90),
    "node_status": some(NodeStatus),
    "carcinoid_type": some(CarcinoidType),
    "gastric_type": some(GastricType),
    "adverse_histology": st.booleans(),
    "carcinoid_heart_disease": st.booleans(),
    "lesion_after_resection": st.booleans(),
}


@st.composite
def eligibilities(draw: st.DrawFn) -> Eligibility:
    stated = draw(st.lists(st.sampled_from(sorted(TERMS)), max_size=4, unique=True))
    return Eligibility(**{name: draw(TERMS[name]) for name in stated})


tumours = st.builds(
    f.Tumour,
    site=st.sampled_from(list(Site)),
    differentiation=st.sampled_from(list(Differentiation)),
    ki67=maybe(st.floats(0, 60)),
    stage=maybe(st.sampled_from(list(Stage))),
    functional=st.sampled_from(list(Functional)),
    sstr=st.sampled_from(list(Sstr)),
    size_mm=maybe(st.floats(1, 60)),
    node_status=maybe(st.sampled_from(list(NodeStatus))),
    adverse_histology=maybe(some(AdverseHistology)),
    carcinoid_type=maybe(st.sampled_from(list(CarcinoidType))),
    gastric_type=maybe(st.sampled_from(list(GastricType))),
    carcinoid_heart_disease=maybe(st.booleans()),
)

all_facts = st.builds(
    f.Facts,
    patient=st.builds(
        f.Patient,
        id=st.just("P"),
        birth_date=maybe(st.dates(dt.date(1930, 1, 1), dt.date(2020, 1, 1))),
        hereditary=st.sampled_from(list(Hereditary)),
    ),
    tumour=maybe(tumours),
    state=st.builds(
        f.State,
        kind=st.sampled_from(list(StateKind)),
        since=days,
        resection=maybe(st.sampled_from(list(Resection))),
    ),
    measurements=st.lists(
        st.builds(
            f.Measurement, lesion=st.sampled_from(["L1", "L2"]), date=days, mm=st.floats(1, 60)
        ),
        max_size=3,
    ).map(tuple),
    therapies=st.lists(
        st.builds(
            f.Therapy,
            kind=st.sampled_from(list(TherapyKind)),
            started_on=days,
            ended_on=maybe(days),
        ),
        max_size=2,
    ).map(tuple),
    pathology=st.lists(
        st.builds(f.Pathology, date=days, ki67=maybe(st.floats(0, 60))), max_size=2
    ).map(tuple),
)


def read_plainly(e: Eligibility, s: Situation) -> bool:
    """Every term of ``e`` read in turn, as the rule states it (docs/protocols.md)."""
    t, state = s.facts.tumour, s.facts.state

    def within(value: object, allowed: frozenset[Any]) -> bool:
        return not allowed or value in allowed

    def limit(value: float | None, bound: float | None, below: bool, strict: bool) -> bool:
        if bound is None:
            return True
        if value is None:
            return False
        if below:
            return value < bound if strict else value <= bound
        return value > bound if strict else value >= bound

    if e.tumour is not None and e.tumour != (t is not None):
        return False
    if t is None:
        tumour_terms = (e.sites, e.differentiations, e.stages, e.functional, e.sstr, e.grades)
        added = (e.node_status, e.carcinoid_type, e.gastric_type)
        if any(tumour_terms) or any(added):
            return False
        if e.adverse_histology is not None or e.carcinoid_heart_disease is not None:
            return False
    else:
        adverse = None if t.adverse_histology is None else bool(t.adverse_histology)
        tumour_ok = (
            within(t.site, e.sites)
            and within(t.differentiation, e.differentiations)
            and within(s.grade, e.grades)
            and within(t.stage, e.stages)
            and within(t.functional, e.functional)
            and within(t.sstr, e.sstr)
            and within(state.resection, e.resections)
            and (
                not e.node_status or (t.node_status is not None and t.node_status in e.node_status)
            )
            and (not e.carcinoid_type or t.carcinoid_type in e.carcinoid_type)
            and (not e.gastric_type or t.gastric_type in e.gastric_type)
            and (e.adverse_histology is None or adverse is e.adverse_histology)
            and (
                e.carcinoid_heart_disease is None
                or t.carcinoid_heart_disease is e.carcinoid_heart_disease
            )
            and (e.lesion_after_resection is None or recurred(s) is e.lesion_after_resection)
        )
        if not tumour_ok:
            return False
    return (
        within(state.kind, e.states)
        and within(s.facts.patient.hereditary, e.hereditary)
        and (not e.on_therapy or bool(e.on_therapy & s.ongoing))
        and (not e.had_therapy or bool(e.had_therapy & s.had))
        and limit(s.size_mm, e.max_size_mm, True, False)
        and limit(s.size_mm, e.size_under_mm, True, True)
        and limit(s.ki67, e.ki67_above, False, True)
        and limit(s.ki67, e.ki67_at_most, True, False)
        and limit(s.age, e.min_age, False, False)
        and limit(s.age, e.max_age, True, False)
    )


@settings(max_examples=600, deadline=None)
@given(eligibilities(), all_facts)
def test_a_compiled_eligibility_reads_as_its_terms(e: Eligibility, facts: f.Facts) -> None:
    s = situation(facts, TODAY)
    assert matches(e, s) == read_plainly(e, s)
    assert matches(e, s) == read_plainly(e, s)  # the second time from the compiled checks


def one_term() -> st.SearchStrategy[Eligibility]:
    return st.sampled_from(sorted(TERMS)).flatmap(
        lambda name: TERMS[name].map(lambda value: Eligibility(**{name: value}))
    )


@settings(max_examples=1000, deadline=None)
@given(one_term(), all_facts)
def test_each_term_alone_reads_as_stated(e: Eligibility, facts: f.Facts) -> None:
    s = situation(facts, TODAY)
    assert matches(e, s) == read_plainly(e, s)


@settings(max_examples=150, deadline=None)
@given(all_facts)
def test_every_shipped_rule_reads_as_its_terms(facts: f.Facts) -> None:
    s = situation(facts, TODAY)
    for profile in shipped_pack().profiles.values():
        for rule in profile.rules:
            assert matches(rule.eligibility, s) == read_plainly(rule.eligibility, s), rule.id
