"""``core.horizon`` by brute force: before the day it names, a patient's plan and triggers come
out exactly as on ``today`` (what a routine replan relies on to skip a patient whose inputs have
not changed). A demo cohort, seen from three days spread over two years so that some facts lie
ahead of the day (therapies ending, lesions measured, birthdays, programmes running out, SSA
injections falling due), every profile of the shipped pack."""

import datetime as dt
from typing import Any

import pytest

from surveil.core.facts import Facts
from surveil.core.horizon import holds_until
from surveil.core.plan import Plan, plan
from surveil.core.triggers import TriggerRules, compile_triggers, evaluate_compiled, ssa_alert_on
from surveil.demo.facts import facts_from_draft
from surveil.demo.patients import synthesise
from tests.core.planning import make_facts, shipped_pack

DRAFTED_ON = dt.date(2026, 6, 1)
SEEN_ON = (dt.date(2025, 3, 10), dt.date(2026, 2, 27), DRAFTED_ON)
COHORT = 800


def _cohort() -> list[Facts]:
    out = []
    for number in range(1, COHORT + 1):
        draft = synthesise(11, number, today=DRAFTED_ON, timezone="Europe/London")
        out.append(facts_from_draft(draft, patient_id=number, created=dt.date(2015, 1, 1)))
    return out


def _stored(p: Plan) -> tuple[Any, ...]:
    """What a replan stores of a plan (``plans._same``, the verdict and the note)."""
    items = tuple(
        (i.kind, i.region, i.earliest, i.target, i.latest, i.rule, i.source, i.reason)
        for i in p.items
    )
    anchors = tuple(i.anchor.date for i in p.items)
    verdict = p.no_follow_up.rule if p.no_follow_up else None
    return items, anchors, p.pack_version, p.profile, verdict, p.closed, p.complete


def _outcome(facts: Facts, profile: str, rules: TriggerRules, day: dt.date) -> tuple[Any, ...]:
    found = evaluate_compiled(facts, rules, day)
    return _stored(plan(facts, shipped_pack(), profile, day)), {
        (f.key, f.fingerprint) for f in found
    }


def _days_to_try(today: dt.date, until: dt.date | None) -> list[dt.date]:
    """Every day of the first fortnight, then every week, up to the day before ``until`` (two
    years at most), and that last day itself."""
    last = (until - dt.timedelta(days=1)) if until else today + dt.timedelta(days=730)
    last = min(last, today + dt.timedelta(days=730))
    days = [today + dt.timedelta(days=n) for n in range(1, 15)]
    days += [today + dt.timedelta(days=n) for n in range(21, 731, 7)]
    return [day for day in days if day < last] + ([last] if last > today else [])


@pytest.mark.parametrize("profile", sorted(shipped_pack().profiles))
def test_nothing_changes_before_the_horizon(profile: str) -> None:
    rules = compile_triggers(shipped_pack().profile(profile).thresholds, rule_ref="t")
    thresholds = rules.thresholds
    checked = changed_at_horizon = 0
    for facts in _cohort():
        for today in SEEN_ON:
            now = plan(facts, shipped_pack(), profile, today)
            until = holds_until(facts, today, now.ends_on, ssa_alert_on(facts, thresholds, today))
            expected = _outcome(facts, profile, rules, today)
            for day in _days_to_try(today, until):
                assert _outcome(facts, profile, rules, day) == expected, (
                    f"patient {facts.patient.id} seen on {today}: changed on {day}, "
                    f"before the horizon {until}"
                )
                checked += 1
            if until is not None and _outcome(facts, profile, rules, until) != expected:
                changed_at_horizon += 1
    assert checked > 50_000, checked
    # The horizon is not vacuous: on the day it names, some patients' plans do change.
    assert changed_at_horizon > 20, changed_at_horizon


def test_the_horizon_names_each_kind_of_day() -> None:
    today = dt.date(2026, 3, 1)
    facts = make_facts(
        "2026-03-01",
        patient={"birth_date": "1960-06-15"},
        therapies=[{"kind": "ssa", "started_on": "2025-01-01", "last_given_on": "2026-02-20"}],
    )
    rules = compile_triggers(shipped_pack().profile().thresholds, rule_ref="t")
    alert = ssa_alert_on(facts, rules.thresholds, today)
    assert alert is not None and alert > today
    assert holds_until(facts, today) == dt.date(2026, 6, 15)  # the next birthday
    assert holds_until(facts, today, alert) == min(alert, dt.date(2026, 6, 15))
    assert holds_until(facts, today, dt.date(2026, 3, 5)) == dt.date(2026, 3, 5)
    assert holds_until(facts, today, dt.date(2026, 2, 1)) == dt.date(2026, 6, 15)  # past: ignored


def test_a_date_ahead_in_the_facts_bounds_the_horizon() -> None:
    facts = make_facts(
        "2026-05-01",
        patient={"birth_date": "1960-01-15"},
        therapies=[{"kind": "ssa", "started_on": "2025-01-01", "ended_on": "2026-04-10"}],
    )
    assert holds_until(facts, dt.date(2026, 3, 1)) == dt.date(2026, 4, 10)
    assert holds_until(facts, dt.date(2026, 4, 10)) == dt.date(2027, 1, 15)


def test_born_on_29_february_the_horizon_is_never_late() -> None:
    facts = make_facts("2026-03-10", patient={"birth_date": "1960-02-29"})
    until = holds_until(facts, dt.date(2026, 3, 10))
    assert until == dt.date(2027, 2, 28)
    age_before = facts.age_on(dt.date(2027, 2, 27))
    assert age_before is not None and facts.age_on(dt.date(2027, 3, 1)) == age_before + 1
