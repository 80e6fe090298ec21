"""The trigger engine's shortcuts for batches give what the plain definitions give (issue 19).

Each shortcut is checked against the straightforward version it replaced, written out here, on
generated inputs full of same-day readings and ties, which is where a shortcut would differ.
"""

import datetime as dt
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from surveil.core.facts import Marker, Measurement
from surveil.core.findings import TriggerKind, exact
from surveil.core.growth import Reading, lesion_readings
from surveil.core.recist import sums_of_targets
from surveil.core.thresholds import Comparator, TriggerThresholds
from surveil.core.triggers import (
    _last_two_days,
    _marker_days,
    compile_triggers,
    evaluate_compiled,
    evaluate_triggers,
)
from surveil.core.vocab import ItemKind
from tests.core.trigger_facts import D, make_facts, scans

DAYS = st.dates(min_value=dt.date(2025, 1, 1), max_value=dt.date(2025, 1, 8))
# Few distinct values, so that equal diameters and equal marker results are common.
MM = st.sampled_from([0.0, 4.9, 5.0, 12.1, 17.1, 19.99, 20.0, 1e-7])


def plain_lesion_readings(measurements: list[Measurement]) -> dict[str, list[Reading]]:
    """lesion_readings as it was: a Reading for every measurement, exact comparisons."""
    best: dict[tuple[str, dt.date], Reading] = {}
    for m in measurements:
        reading = Reading(m.date, exact(m.mm), m.modality)
        current = best.get((m.lesion, m.date))
        if current is None or (reading.mm, current.modality) > (current.mm, reading.modality):
            best[(m.lesion, m.date)] = reading
    series: dict[str, list[Reading]] = {}
    for (lesion, _), reading in sorted(best.items()):
        series.setdefault(lesion, []).append(reading)
    return series


def plain_sums(
    series: dict[str, list[Reading]], baseline: dt.date
) -> list[tuple[dt.date, Fraction]]:
    """sums_of_targets as it was: every target looked up again on every day, Fractions added."""
    targets = {
        lesion: readings
        for lesion, readings in series.items()
        if any(r.date == baseline for r in readings)
    }
    days = sorted({r.date for rs in targets.values() for r in rs if r.date >= baseline})
    return [
        (
            day,
            sum(([r for r in rs if r.date <= day][-1].mm for rs in targets.values()), Fraction(0)),
        )
        for day in days
    ]


measurements = st.lists(
    st.builds(
        Measurement,
        lesion=st.sampled_from(["L1", "L2", "L3"]),
        date=DAYS,
        mm=MM,
        modality=st.sampled_from(["ct", "mri"]),
    ),
    max_size=14,
)


@given(measurements)
def test_lesion_readings_match_the_plain_definition(rows: list[Measurement]) -> None:
    assert lesion_readings(rows) == plain_lesion_readings(rows)


@given(measurements, DAYS)
def test_sums_of_targets_match_the_plain_definition(rows: list[Measurement], day: dt.date) -> None:
    series = lesion_readings(rows)
    assert sums_of_targets(series, day) == plain_sums(series, day)


@given(
    st.lists(
        st.builds(
            Marker,
            name=st.just(ItemKind.CGA),
            date=DAYS,
            value=st.sampled_from([10.0, 20.0, 30.0]),
            uln=st.sampled_from([None, 15.0, 16.0]),
            on_ppi=st.booleans(),
        ),
        max_size=10,
    )
)
def test_last_two_days_are_the_last_two_of_marker_days(markers: list[Marker]) -> None:
    days = _marker_days(markers)
    last_two = _last_two_days(markers)
    if len(days) < 2:
        assert last_two is None
    else:
        # The very objects: of equal results on a day the first given stands (its ULN is read).
        assert last_two is not None
        assert last_two[0] is days[-2] and last_two[1] is days[-1]


def test_a_stable_lesion_still_fires_a_growth_limit_of_zero() -> None:
    """The shortcut passing over lesions that did not grow holds only for a positive limit."""
    facts = make_facts(measurements=scans(("L1", "2025-01-01", 12.0), ("L1", "2025-07-01", 12.0)))
    zero = TriggerThresholds(growth_mm_per_year=0.0, growth_comparator=Comparator.AT_LEAST)
    kinds = [f.kind for f in evaluate_triggers(facts, zero, D("2025-08-01"))]
    assert kinds == [TriggerKind.GROWTH_RATE]
    assert evaluate_triggers(facts, TriggerThresholds(), D("2025-08-01")) == []


def test_compiled_rules_name_each_kinds_deadline_and_the_pack() -> None:
    facts = make_facts(measurements=scans(("L1", "2025-01-01", 12.0), ("L1", "2026-01-01", 22.0)))
    deadlines = {TriggerKind.GROWTH_RATE: 7}
    rules = compile_triggers(TriggerThresholds(), rule_ref="pack v2", board_within=deadlines)
    found = evaluate_compiled(facts, rules, D("2026-02-01"))
    assert [f.kind for f in found] == [TriggerKind.GROWTH_RATE, TriggerKind.SIZE]
    growth, size = found
    assert growth.action.startswith("tumour board review within 7 days")
    assert size.action.startswith("tumour board review within 14 days")
    assert all(f.explanation.endswith(", rule pack v2") for f in found)
    assert found == evaluate_triggers(
        facts, TriggerThresholds(), D("2026-02-01"), rule_ref="pack v2", board_within=deadlines
    )
