from typing import Any

import pytest

from surveil.core.triggers import (
    DEFAULT_THRESHOLDS,
    Comparator,
    MarkerRule,
    TriggerThresholds,
    parse_thresholds,
)
from surveil.core.vocab import ItemKind, Site


def test_defaults_follow_the_clinical_reference() -> None:
    t = TriggerThresholds()
    assert (t.growth_mm_per_year, t.min_spacing_days, t.size_mm) == (5.0, 60, 20.0)
    assert (t.recist_pct, t.recist_abs_mm) == (20.0, 5.0)
    assert t.marker_rules == (MarkerRule(ItemKind.CGA, 2.0, 50.0, 14),)
    assert (t.ssa_interval_days, t.ssa_grace_days, t.tumour_board_within_days) == (28, 3, 14)
    assert t.surveillance_sites == frozenset({Site.PANCREAS})
    assert t.size_comparator is Comparator.AT_LEAST and t.growth_comparator is Comparator.AT_LEAST


def test_an_empty_table_gives_the_defaults() -> None:
    assert parse_thresholds({}, where="thresholds") == (DEFAULT_THRESHOLDS, [])


def test_every_key_can_be_overridden() -> None:
    raw = {
        "growth_mm_per_year": 3,
        "growth_comparator": ">",
        "min_spacing_days": 90,
        "size_mm": 15.5,
        "size_comparator": ">",
        "surveillance_sites": ["pancreas", "duodenum"],
        "recist_pct": 25,
        "recist_abs_mm": 0,
        "marker_rules": [
            {"marker": "5hiaa", "factor_over_uln": 1.5, "rise_pct": 30, "ppi_washout_days": 7},
            {"marker": "cga"},
        ],
        "ssa_interval_days": 14,
        "ssa_grace_days": 0,
        "tumour_board_within_days": 7,
    }
    t, problems = parse_thresholds(raw, where="pack.thresholds")
    assert problems == []
    assert t == TriggerThresholds(
        surveillance_sites=frozenset({Site.PANCREAS, Site.DUODENUM}),
        growth_mm_per_year=3.0,
        growth_comparator=Comparator.ABOVE,
        min_spacing_days=90,
        size_mm=15.5,
        size_comparator=Comparator.ABOVE,
        recist_pct=25.0,
        recist_abs_mm=0.0,
        marker_rules=(MarkerRule(ItemKind.HIAA5, 1.5, 30.0, 7), MarkerRule(ItemKind.CGA)),
        ssa_interval_days=14,
        ssa_grace_days=0,
        tumour_board_within_days=7,
    )


def test_an_empty_marker_list_turns_marker_triggers_off() -> None:
    t, problems = parse_thresholds({"marker_rules": []}, where="t")
    assert problems == [] and t.marker_rules == ()


@pytest.mark.parametrize(
    ("raw", "field", "fragment"),
    [
        ({"growth_mm_per_yr": 5}, "t.growth_mm_per_yr", "unknown threshold"),
        ({"growth_mm_per_year": "5"}, "t.growth_mm_per_year", "must be a number"),
        ({"growth_mm_per_year": True}, "t.growth_mm_per_year", "must be a number"),
        ({"growth_mm_per_year": 0}, "t.growth_mm_per_year", "greater than 0"),
        ({"size_mm": -1}, "t.size_mm", "greater than 0"),
        ({"recist_abs_mm": -0.5}, "t.recist_abs_mm", "at least 0"),
        ({"min_spacing_days": 0}, "t.min_spacing_days", "at least 1"),
        ({"min_spacing_days": 60.5}, "t.min_spacing_days", "whole number"),
        ({"ssa_grace_days": -1}, "t.ssa_grace_days", "at least 0"),
        ({"size_comparator": "=>"}, "t.size_comparator", "not one of: >=, >"),
        ({"surveillance_sites": "pancreas"}, "t.surveillance_sites", "must be a list"),
        ({"surveillance_sites": ["pancreas", "liver"]}, "t.surveillance_sites[1]", "'liver'"),
        ({"marker_rules": {"marker": "cga"}}, "t.marker_rules", "list of tables"),
        ({"marker_rules": ["cga"]}, "t.marker_rules[0]", "must be a table"),
        ({"marker_rules": [{}]}, "t.marker_rules[0].marker", "is required"),
        ({"marker_rules": [{"marker": "mri"}]}, "t.marker_rules[0].marker", "not a marker"),
        ({"marker_rules": [{"marker": "cga", "rise": 5}]}, "t.marker_rules[0].rise", "unknown"),
        (
            {"marker_rules": [{"marker": "cga", "rise_pct": 0}]},
            "t.marker_rules[0].rise_pct",
            "greater than 0",
        ),
        (
            {"marker_rules": [{"marker": "cga"}, {"marker": "cga"}]},
            "t.marker_rules[1].marker",
            "second rule",
        ),
    ],
)
def test_each_problem_names_its_place(raw: dict[str, Any], field: str, fragment: str) -> None:
    t, problems = parse_thresholds(raw, where="t")
    assert [p.field for p in problems] == [field]
    assert fragment in problems[0].message
    assert t == DEFAULT_THRESHOLDS  # the bad value is not used


def test_all_problems_are_reported_at_once_and_good_values_kept() -> None:
    raw = {"size_mm": 0, "recist_pct": "20%", "colour": "red", "growth_mm_per_year": 4}
    t, problems = parse_thresholds(raw, where="p")
    assert sorted(p.field for p in problems) == ["p.colour", "p.recist_pct", "p.size_mm"]
    assert t.growth_mm_per_year == 4.0 and t.size_mm == 20.0


def test_a_table_that_is_not_a_mapping_is_one_problem() -> None:
    t, problems = parse_thresholds([1, 2], where="p.thresholds")  # type: ignore[arg-type]
    assert t == DEFAULT_THRESHOLDS
    assert [p.field for p in problems] == ["p.thresholds"]


def test_comparators() -> None:
    assert Comparator.AT_LEAST.holds(20, 20) and not Comparator.ABOVE.holds(20, 20)
    assert Comparator.ABOVE.holds(20.1, 20) and not Comparator.AT_LEAST.holds(19.9, 20)
