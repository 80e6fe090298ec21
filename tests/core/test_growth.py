import datetime as dt
import random
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from surveil.core.findings import Finding, TriggerKind
from surveil.core.growth import growth_of, least_squares_slope, lesion_readings, years_between
from surveil.core.thresholds import Comparator, TriggerThresholds
from surveil.core.triggers import evaluate_triggers
from surveil.core.vocab import Site, StateKind
from tests.core.trigger_facts import D, make_facts, scans

T = TriggerThresholds()
TODAY = D("2028-06-01")


Row = tuple[str, str, float] | tuple[str, str, float, str]


def growth(*rows: Row, **kw: Any) -> list[Finding]:
    facts = make_facts(measurements=scans(*rows), **kw)
    findings = evaluate_triggers(facts, T, TODAY, rule_ref="ENETS-small-pnet v1")
    return [f for f in findings if f.kind is TriggerKind.GROWTH_RATE]


# --- calendar years -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "years"),
    [
        ("2025-03-10", "2026-03-10", Fraction(1)),  # 365 days
        ("2027-03-10", "2028-03-10", Fraction(1)),  # 366 days: still one year
        ("2024-02-29", "2025-02-28", Fraction(1)),  # the anniversary of 29 February
        ("2025-03-10", "2025-03-10", Fraction(0)),
        ("2025-01-01", "2025-07-02", Fraction(182, 365)),
        ("2025-03-10", "2027-03-11", 2 + Fraction(1, 366)),  # the year after 2027-03-10 is 366 days
    ],
)
def test_years_between_counts_calendar_years(start: str, end: str, years: Fraction) -> None:
    assert years_between(D(start), D(end)) == years


def test_years_between_refuses_a_backwards_interval() -> None:
    with pytest.raises(ValueError, match="before"):
        years_between(D("2025-02-01"), D("2025-01-01"))


# --- the 5 mm/year boundary (vignette V06) -------------------------------------------------------


def test_exactly_5_mm_per_year_fires_with_the_numbers_explained() -> None:
    [f] = growth(("L1", "2025-03-10", 12), ("L1", "2026-03-10", 17))
    assert (f.lesion, f.value, f.threshold, f.unit) == ("L1", 5.0, 5.0, "mm/year")
    assert f.detected_on == D("2026-03-10")
    assert f.explanation == (
        "L1 grew 12 → 17 mm from 2025-03-10 to 2026-03-10: 5 mm/year ≥ 5 mm/year, "
        "rule ENETS-small-pnet v1"
    )
    assert f.fingerprint == "growth_rate:L1:2026-03-10"
    assert "14 days" in f.action


def test_4_9_mm_per_year_does_not_fire() -> None:
    assert growth(("L1", "2025-03-10", 12), ("L1", "2026-03-10", 16.9)) == []


def test_4_99_does_not_fire_but_4_995_rounds_to_5_and_does() -> None:
    assert growth(("L1", "2025-03-10", 12), ("L1", "2026-03-10", 16.99)) == []
    [f] = growth(("L1", "2025-03-10", 12), ("L1", "2026-03-10", 16.995))
    assert f.value == 5.0


def test_exactly_one_leap_year_fires_too() -> None:
    assert len(growth(("L1", "2027-03-10", 12), ("L1", "2028-03-10", 17))) == 1


def test_decimal_inputs_are_exact() -> None:
    # 17.1 - 12.1 is 4.999999999999998 in binary floating point.
    assert len(growth(("L1", "2025-03-10", 12.1), ("L1", "2026-03-10", 17.1))) == 1


def test_a_strict_comparator_needs_more_than_the_threshold() -> None:
    strict = TriggerThresholds(growth_comparator=Comparator.ABOVE)
    facts = make_facts(measurements=scans(("L1", "2025-03-10", 12), ("L1", "2026-03-10", 17)))
    assert not [
        f for f in evaluate_triggers(facts, strict, TODAY) if f.kind is TriggerKind.GROWTH_RATE
    ]


# --- spacing, shrinking, single, order, duplicates, modalities ---------------------------------


def test_scans_closer_than_the_minimum_spacing_are_not_compared() -> None:
    assert growth(("L1", "2025-01-01", 10), ("L1", "2025-03-01", 11)) == []  # 59 days
    [f] = growth(("L1", "2025-01-01", 10), ("L1", "2025-03-02", 11))  # 60 days: 6.08 mm/year
    assert f.value == pytest.approx(6.08)


def test_a_week_of_noise_is_measured_against_the_last_scan_far_enough_back() -> None:
    rows = (("L1", "2025-01-01", 10), ("L1", "2025-07-20", 10.5), ("L1", "2025-07-27", 12))
    # 10.5 -> 12 in a week would be 78 mm/year; against 2025-01-01 it is 2 mm in 207 days.
    assert growth(*rows) == []
    series = lesion_readings(scans(*rows))["L1"]
    g = growth_of("L1", series, 60)
    assert g is not None and g.earlier.date == D("2025-01-01")
    assert g.rate == Fraction(353, 100)  # 2 / (207/365) = 3.5266...


def test_a_shrinking_lesion_never_fires() -> None:
    assert growth(("L1", "2025-01-01", 18), ("L1", "2026-01-01", 12)) == []


def test_a_single_measurement_has_no_rate() -> None:
    assert growth(("L1", "2025-01-01", 19)) == []
    assert growth_of("L1", lesion_readings(scans(("L1", "2025-01-01", 19)))["L1"], 60) is None


def test_order_of_entry_does_not_matter() -> None:
    rows = [("L1", "2026-03-10", 17), ("L1", "2025-03-10", 12), ("L1", "2025-09-10", 14)]
    assert growth(*rows) == growth(*sorted(rows, key=lambda r: r[1]))


def test_the_larger_of_two_same_day_readings_stands() -> None:
    rows: list[Row] = [("L1", "2025-03-10", 12), ("L1", "2026-03-10", 16, "ct")]
    rows.append(("L1", "2026-03-10", 17))
    [f] = growth(*rows)
    assert f.value == 5.0 and "modality" not in f.explanation
    assert growth(*reversed(rows)) == [f]


def test_lesions_measured_by_different_modalities_are_compared_and_the_change_is_named() -> None:
    [f] = growth(("L1", "2025-03-10", 12, "ct"), ("L1", "2026-03-10", 18, "mri"))
    assert f.value == 6.0
    assert "modality changed ct → mri" in f.explanation


def test_each_lesion_is_judged_on_its_own() -> None:
    rows = (
        ("L1", "2025-03-10", 12),
        ("L2", "2025-03-10", 8),
        ("L1", "2026-03-10", 13),
        ("L2", "2026-03-10", 14),
    )
    assert [f.lesion for f in growth(*rows)] == ["L2"]


def test_three_scans_report_the_least_squares_slope_but_the_two_point_rate_fires() -> None:
    # x = 0, 1, 2 years; y = 10, 12, 17: slope = 7 / 2 = 3.5; last two points: 5 mm/year.
    [f] = growth(("L1", "2024-03-10", 10), ("L1", "2025-03-10", 12), ("L1", "2026-03-10", 17))
    assert f.value == 5.0
    assert "least-squares slope over 3 scans 3.5 mm/year" in f.explanation


def test_least_squares_slope_of_a_straight_line_is_its_rate() -> None:
    readings = lesion_readings(
        scans(("L", "2025-01-01", 10), ("L", "2026-01-01", 13), ("L", "2027-01-01", 16))
    )["L"]
    assert least_squares_slope(readings) == 3


# --- who is watched ---------------------------------------------------------------------------


def test_growth_is_watched_only_for_configured_sites_on_active_surveillance() -> None:
    rows = (("L1", "2025-03-10", 12), ("L1", "2026-03-10", 18))
    assert growth(*rows, state=StateKind.RESECTED) == []
    assert growth(*rows, site=Site.SMALL_BOWEL) == []
    assert growth(*rows, site=None) == []
    wider = TriggerThresholds(surveillance_sites=frozenset({Site.PANCREAS, Site.SMALL_BOWEL}))
    facts = make_facts(site=Site.SMALL_BOWEL, measurements=scans(*rows))
    assert [f.kind for f in evaluate_triggers(facts, wider, TODAY)] == [TriggerKind.GROWTH_RATE]


# --- size (vignette V07) ----------------------------------------------------------------------


def sizes(*rows: tuple[str, str, float], thresholds: TriggerThresholds = T) -> list[Finding]:
    facts = make_facts(measurements=scans(*rows))
    return [f for f in evaluate_triggers(facts, thresholds, TODAY) if f.kind is TriggerKind.SIZE]


def test_exactly_20_mm_fires_and_the_slow_growth_does_not() -> None:
    facts = make_facts(
        measurements=scans(
            ("L1", "2024-09-02", 16), ("L1", "2025-09-01", 18), ("L1", "2026-03-02", 20)
        )
    )
    [f] = evaluate_triggers(facts, T, TODAY, rule_ref="brief v1")
    assert (f.kind, f.lesion, f.value, f.threshold, f.unit) == ("size", "L1", 20.0, 20.0, "mm")
    assert f.detected_on == D("2026-03-02")
    assert f.explanation == "L1 measures 20 mm on 2026-03-02 (mri): 20 mm ≥ 20 mm, rule brief v1"


def test_19_9_mm_does_not_fire_and_a_strict_profile_waits_for_more_than_20() -> None:
    assert sizes(("L1", "2026-03-02", 19.9)) == []
    strict = TriggerThresholds(size_comparator=Comparator.ABOVE)
    assert sizes(("L1", "2026-03-02", 20), thresholds=strict) == []
    assert len(sizes(("L1", "2026-03-02", 20.1), thresholds=strict)) == 1


def test_size_judges_the_latest_reading() -> None:
    assert sizes(("L1", "2025-03-02", 21), ("L1", "2026-03-02", 19)) == []


# --- property: order of entry never changes the result ------------------------------------------

readings_strategy = st.lists(
    st.tuples(
        st.sampled_from(["L1", "L2"]),
        st.integers(min_value=0, max_value=2000),
        st.decimals(min_value=1, max_value=60, places=1).map(float),
        st.sampled_from(["mri", "ct"]),
    ),
    min_size=1,
    max_size=8,
)


@given(readings_strategy, st.randoms(use_true_random=False))
def test_the_rate_does_not_depend_on_the_order_measurements_were_entered(
    rows: list[tuple[str, int, float, str]], rnd: random.Random
) -> None:
    start = dt.date(2020, 1, 1)
    entered = [(lesion, str(start + dt.timedelta(days=d)), mm, mod) for lesion, d, mm, mod in rows]
    shuffled = list(entered)
    rnd.shuffle(shuffled)
    first = evaluate_triggers(make_facts(measurements=scans(*entered)), T, TODAY)
    second = evaluate_triggers(make_facts(measurements=scans(*shuffled)), T, TODAY)
    assert first == second
    for lesion, series in lesion_readings(scans(*entered)).items():
        again = lesion_readings(scans(*shuffled))[lesion]
        assert growth_of(lesion, series, 60) == growth_of(lesion, again, 60)
