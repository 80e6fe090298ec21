from surveil.core.findings import Finding, TriggerKind
from surveil.core.recist import baseline_day
from surveil.core.thresholds import TriggerThresholds
from surveil.core.triggers import evaluate_triggers
from surveil.core.vocab import Site, StateKind
from tests.core.trigger_facts import D, make_facts, scans

T = TriggerThresholds()
TODAY = D("2026-06-01")


def recist(
    *rows: tuple[str, str, float], since: str = "2025-01-13", state: StateKind = StateKind.ADVANCED
) -> list[Finding]:
    facts = make_facts(state=state, since=since, site=Site.SMALL_BOWEL, measurements=scans(*rows))
    return [
        f
        for f in evaluate_triggers(facts, T, TODAY, rule_ref="ESMO v1")
        if f.kind is TriggerKind.RECIST
    ]


# Vignette V11: target sums 27 (baseline) -> 25 (nadir) -> 30 mm.
V11 = (
    ("L1", "2025-01-06", 15),
    ("L2", "2025-01-06", 12),
    ("L1", "2025-07-07", 14),
    ("L2", "2025-07-07", 11),
    ("L1", "2026-01-05", 17),
    ("L2", "2026-01-05", 13),
)


def test_exactly_20_percent_and_5_mm_over_the_nadir_is_progression() -> None:
    [f] = recist(*V11)
    assert (f.lesion, f.value, f.threshold, f.unit) == (None, 20.0, 20.0, "%")
    assert f.detected_on == D("2026-01-05")
    assert f.fingerprint == "recist:sum:2026-01-05"
    assert f.explanation == (
        "sum of target diameters 25 mm at the nadir (2025-07-07) → 30 mm on 2026-01-05: "
        "+5 mm, +20 % ≥ 20 % and ≥ 5 mm (RECIST 1.1), rule ESMO v1"
    )
    assert "next line of therapy" in f.action


def test_29_mm_is_not_progression() -> None:
    rows = (*V11[:4], ("L1", "2026-01-05", 16), ("L2", "2026-01-05", 13))
    assert recist(*rows) == []


def test_both_the_percentage_and_the_absolute_rise_are_needed() -> None:
    # +25 % but only +2.5 mm
    assert recist(("L1", "2025-01-06", 10), ("L1", "2025-07-07", 12.5)) == []
    # +5 mm but only +10 %
    assert recist(("L1", "2025-01-06", 50), ("L1", "2025-07-07", 55)) == []
    assert len(recist(("L1", "2025-01-06", 25), ("L1", "2025-07-07", 30))) == 1


def test_a_new_lesion_is_progression_on_its_own() -> None:
    rows = (*V11[:4], ("L1", "2026-01-05", 14), ("L2", "2026-01-05", 11), ("L3", "2026-01-05", 9))
    [f] = recist(*rows)
    assert (f.lesion, f.value, f.unit, f.detected_on) == ("L3", 9.0, "mm", D("2026-01-05"))
    assert f.fingerprint == "recist:new:L3:2026-01-05"
    assert "new lesion L3 (9 mm on 2026-01-05" in f.explanation
    assert "baseline of 2025-01-06" in f.explanation


def test_a_lesion_known_before_the_baseline_is_not_new() -> None:
    rows = (("L3", "2024-06-01", 8), ("L1", "2025-01-06", 15), ("L3", "2025-07-07", 8))
    assert recist(*rows) == []


def test_a_target_missing_from_a_scan_keeps_its_last_diameter() -> None:
    # Without carrying L2 forward, 2025-07-07 would sum to 15 mm and 27 mm would look like +80 %.
    rows = (
        ("L1", "2025-01-06", 15),
        ("L2", "2025-01-06", 12),
        ("L1", "2025-07-07", 15),
        ("L1", "2026-01-05", 15),
        ("L2", "2026-01-05", 12),
    )
    assert recist(*rows) == []


def test_the_baseline_is_the_last_scan_before_the_advanced_state_or_the_first_after() -> None:
    days = [D("2024-01-01"), D("2025-01-06"), D("2025-07-07")]
    assert baseline_day(days, D("2025-01-13")) == D("2025-01-06")
    assert baseline_day(days, D("2023-06-01")) == D("2024-01-01")
    assert baseline_day([], D("2025-01-13")) is None


def test_recist_applies_to_advanced_disease_only() -> None:
    assert recist(*V11, state=StateKind.RESECTED) == []
