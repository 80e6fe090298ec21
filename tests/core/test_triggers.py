import datetime as dt
import json
from typing import Any

from surveil.core.facts import Facts, Marker, Pathology, Symptom, Therapy
from surveil.core.findings import Finding
from surveil.core.thresholds import MarkerRule, TriggerThresholds
from surveil.core.triggers import TriggerKind, evaluate_triggers, finding_to_json
from surveil.core.vocab import Differentiation, Grade, ItemKind, Site, StateKind, TherapyKind
from tests.core.trigger_facts import D, make_facts, scans

T = TriggerThresholds()
TODAY = D("2026-06-01")


def of_kind(
    kind: TriggerKind,
    facts_kw: dict[str, Any],
    thresholds: TriggerThresholds = T,
    today: dt.date = TODAY,
) -> list[Finding]:
    found = evaluate_triggers(make_facts(**facts_kw), thresholds, today, rule_ref="test v1")
    return [f for f in found if f.kind is kind]


# --- marker rise (vignette V12) ---------------------------------------------------------------


def cga(day: str, value: float, uln: float | None = 100, on_ppi: bool = False) -> Marker:
    return Marker(name=ItemKind.CGA, date=D(day), value=value, uln=uln, on_ppi=on_ppi)


def rises(*markers: Marker, thresholds: TriggerThresholds = T) -> list[Finding]:
    return of_kind(
        TriggerKind.MARKER_RISE,
        {"markers": markers, "state": StateKind.ADVANCED},
        thresholds=thresholds,
    )


def test_a_cga_rise_on_a_ppi_is_confounded_and_asks_for_a_repeat_off_it() -> None:
    [f] = rises(cga("2025-06-02", 180), cga("2025-12-01", 610, on_ppi=True))
    assert f.confounded is True
    assert (f.lesion, f.value, f.threshold, f.unit) == (None, 238.89, 50.0, "%")
    assert f.detected_on == D("2025-12-01")
    assert "14 days after stopping the PPI" in f.action and "tumour board" not in f.action
    assert f.explanation.startswith(
        "CgA rose 180 → 610 from 2025-06-02 to 2025-12-01: +238.89 % ≥ 50 %, "
        "6.1× ULN > 2× ULN (ULN 100); taken on a proton-pump inhibitor"
    )


def test_the_same_rise_off_ppi_escalates() -> None:
    [f] = rises(cga("2025-06-02", 180, on_ppi=True), cga("2025-12-01", 610))
    assert f.confounded is False
    assert "bring imaging forward" in f.action and "tumour board review within 14" in f.action


def test_exactly_twice_the_uln_is_not_above_it() -> None:
    assert rises(cga("2025-06-02", 100), cga("2025-12-01", 200)) == []
    assert len(rises(cga("2025-06-02", 100), cga("2025-12-01", 201))) == 1


def test_exactly_50_percent_over_the_previous_value_fires() -> None:
    assert len(rises(cga("2025-06-02", 300), cga("2025-12-01", 450))) == 1
    assert rises(cga("2025-06-02", 300), cga("2025-12-01", 449)) == []


def test_without_any_uln_the_rise_alone_decides() -> None:
    [f] = rises(cga("2025-06-02", 40, uln=None), cga("2025-12-01", 60, uln=None))
    assert "ULN not recorded" in f.explanation
    # The last known ULN of the same marker still counts when today's result lacks one.
    assert rises(cga("2025-06-02", 40), cga("2025-12-01", 60, uln=None)) == []


def test_a_rise_from_zero() -> None:
    [f] = rises(cga("2025-06-02", 0, uln=None), cga("2025-12-01", 10, uln=None))
    assert f.value is None and "up from 0" in f.explanation


def test_one_result_or_a_fall_is_no_rise() -> None:
    assert rises(cga("2025-12-01", 900)) == []
    assert rises(cga("2025-06-02", 900), cga("2025-12-01", 300)) == []


def test_same_day_duplicates_keep_the_higher_result() -> None:
    markers = (cga("2025-06-02", 180), cga("2025-12-01", 250), cga("2025-12-01", 610))
    [f] = rises(*markers)
    assert "180 → 610" in f.explanation
    assert rises(*reversed(markers)) == [f]


def test_only_configured_markers_are_watched() -> None:
    hiaa = (
        Marker(ItemKind.HIAA5, D("2025-06-02"), 40, uln=30),
        Marker(ItemKind.HIAA5, D("2025-12-01"), 90, uln=30),
    )
    assert rises(*hiaa) == []
    both = TriggerThresholds(marker_rules=(MarkerRule(), MarkerRule(marker=ItemKind.HIAA5)))
    [f] = rises(*hiaa, thresholds=both)
    assert f.explanation.startswith("5-HIAA rose 40 → 90") and f.key == "marker_rise:5hiaa"
    off = TriggerThresholds(marker_rules=())
    assert rises(cga("2025-06-02", 180), cga("2025-12-01", 610), thresholds=off) == []


# --- grade change ------------------------------------------------------------------------------


def biopsy(day: str, ki67: float | None = None, poor: bool = False) -> Pathology:
    diff = Differentiation.POOR if poor else None
    return Pathology(date=D(day), ki67=ki67, differentiation=diff)


def regrades(*pathology: Pathology, ki67: float | None = 1.0) -> list[Finding]:
    return of_kind(TriggerKind.GRADE_CHANGE, {"pathology": pathology, "ki67": ki67})


def test_a_higher_who_band_regrades_the_patient() -> None:
    [f] = regrades(biopsy("2025-06-01", 4))
    assert f.detected_on == D("2025-06-01") and f.value == 4.0
    assert f.explanation.startswith("grade G1 → G2: pathology on 2025-06-01 (Ki-67 4 %)")
    assert f.action.startswith("re-grade to G2")


def test_a_later_lower_result_never_downgrades() -> None:
    first = regrades(biopsy("2025-06-01", 4))
    later = (biopsy("2025-06-01", 4), biopsy("2025-12-01", 1))
    assert regrades(*later) == first
    facts = make_facts(pathology=later)
    assert facts.grade is Grade.G2


def test_only_the_latest_upgrade_is_reported() -> None:
    [f] = regrades(biopsy("2025-06-01", 4), biopsy("2026-01-10", 25), biopsy("2026-03-01", 5))
    assert f.explanation.startswith("grade G2 → G3: pathology on 2026-01-10")
    assert f.fingerprint == "grade_change:grade:2026-01-10"


def test_the_same_band_and_a_first_grading_are_not_changes() -> None:
    assert regrades(biopsy("2025-06-01", 2.9)) == []
    assert regrades(biopsy("2025-06-01", 10), ki67=None) == []  # GX at diagnosis -> G2


def test_poor_differentiation_is_nec() -> None:
    [f] = regrades(biopsy("2025-06-01", 60, poor=True), ki67=15)
    assert (
        f.explanation.startswith("grade G2 → NEC")
        and "poorly differentiated, Ki-67 60 %" in f.explanation
    )


# --- symptoms ------------------------------------------------------------------------------------


def symptoms_of(
    *symptoms: Symptom, state: StateKind = StateKind.ACTIVE_SURVEILLANCE
) -> list[Finding]:
    facts_kw = {"symptoms": symptoms, "since": "2025-01-01", "state": state}
    return of_kind(TriggerKind.SYMPTOMS, facts_kw)


def test_symptoms_after_surveillance_began_end_it() -> None:
    s1 = Symptom(D("2025-04-01"), "flushing")
    s2 = Symptom(D("2025-05-02"), "diarrhoea")
    [f] = symptoms_of(s2, s1, Symptom(D("2024-12-01"), "old pain"))
    assert f.detected_on == D("2025-05-02") and f.value == 2.0
    assert f.explanation == (
        "2 symptom(s) since surveillance began on 2025-01-01 "
        "(2025-04-01: flushing; 2025-05-02: diarrhoea), rule test v1"
    )
    assert "bring the next visit forward" in f.action


def test_symptoms_on_or_before_the_start_or_off_surveillance_do_not_fire() -> None:
    assert symptoms_of(Symptom(D("2025-01-01"), "flushing")) == []
    assert symptoms_of(Symptom(D("2025-04-01"), "flushing"), state=StateKind.RESECTED) == []


# --- stopped SSA (vignette V10) ---------------------------------------------------------------


LANREOTIDE = Therapy(
    kind=TherapyKind.SSA,
    agent="lanreotide",
    started_on=D("2024-06-03"),
    last_given_on=D("2026-01-19"),
)


def overdue(*therapies: Therapy, today: str) -> list[Finding]:
    facts_kw = {"therapies": therapies, "state": StateKind.ADVANCED}
    return of_kind(TriggerKind.SSA_OVERDUE, facts_kw, today=D(today))


def test_an_ssa_injection_overdue_beyond_the_grace_is_urgent() -> None:
    # Due 2026-02-16; three days' grace ends 2026-02-19.
    assert overdue(LANREOTIDE, today="2026-02-19") == []
    [f] = overdue(LANREOTIDE, today="2026-02-20")
    assert f.urgent and (f.value, f.threshold, f.unit) == (4.0, 3.0, "days")
    assert f.detected_on == D("2026-02-20")
    assert f.explanation.startswith(
        "SSA last given 2026-01-19, next due 2026-02-16 (every 28 days): 4 days overdue"
    )
    [later] = overdue(LANREOTIDE, today="2026-03-15")
    assert later.fingerprint == f.fingerprint == "ssa_overdue:ssa:2026-02-20"


def test_a_configured_grace_moves_the_alert() -> None:
    facts = make_facts(therapies=[LANREOTIDE], state=StateKind.ADVANCED)
    week = TriggerThresholds(ssa_grace_days=7)
    assert evaluate_triggers(facts, week, D("2026-02-23")) == []
    assert len(evaluate_triggers(facts, week, D("2026-02-24"))) == 1


def test_no_alert_for_an_ended_ssa_or_during_prrt() -> None:
    ended = Therapy(TherapyKind.SSA, D("2024-06-03"), ended_on=D("2026-02-01"))
    assert overdue(ended, today="2026-04-01") == []
    prrt = Therapy(TherapyKind.PRRT, D("2026-02-02"))
    assert overdue(LANREOTIDE, prrt, today="2026-04-01") == []


def test_without_a_recorded_dose_the_start_counts_as_the_first() -> None:
    new = Therapy(TherapyKind.SSA, D("2026-01-05"))
    assert [f.detected_on for f in overdue(new, today="2026-02-06")] == [D("2026-02-06")]


# --- the whole evaluation --------------------------------------------------------------------


def busy_patient(site: Site = Site.PANCREAS, deceased_on: str | None = None) -> Facts:
    return make_facts(
        measurements=scans(("L1", "2025-03-10", 14), ("L1", "2026-03-10", 21)),
        markers=[cga("2025-06-02", 180), cga("2026-03-01", 610)],
        pathology=[biopsy("2025-09-01", 8)],
        symptoms=[Symptom(D("2026-02-01"), "flushing")],
        site=site,
        deceased_on=deceased_on,
    )


def test_every_rule_at_once_in_a_stable_order_with_one_finding_per_key() -> None:
    findings = evaluate_triggers(busy_patient(), T, TODAY)
    assert [f.kind.value for f in findings] == [
        "growth_rate",
        "size",
        "marker_rise",
        "grade_change",
        "symptoms",
    ]
    assert len({f.key for f in findings}) == len(findings)


def test_re_evaluating_unchanged_facts_gives_identical_fingerprints() -> None:
    facts = busy_patient()
    first = evaluate_triggers(facts, T, TODAY)
    much_later = evaluate_triggers(facts, T, TODAY + dt.timedelta(days=400))
    assert [f.fingerprint for f in first] == [f.fingerprint for f in much_later]
    assert first == much_later
    assert len({f.fingerprint for f in first}) == len(first)


def test_a_new_scan_that_still_exceeds_is_new_evidence_for_the_same_key() -> None:
    before = evaluate_triggers(busy_patient(), T, TODAY)
    facts = make_facts(
        measurements=scans(
            ("L1", "2025-03-10", 14), ("L1", "2026-03-10", 21), ("L1", "2026-05-20", 23)
        )
    )
    after = evaluate_triggers(facts, T, TODAY)
    old = {f.key: f.fingerprint for f in before}
    new = {f.key: f.fingerprint for f in after}
    assert old["growth_rate:L1"] == "growth_rate:L1:2026-03-10"
    assert new["growth_rate:L1"] == "growth_rate:L1:2026-05-20"


def test_a_deceased_patient_has_no_findings() -> None:
    assert evaluate_triggers(busy_patient(deceased_on="2026-04-01"), T, TODAY) == []


def test_json_has_exactly_the_public_keys() -> None:
    [growth_finding, *_] = evaluate_triggers(busy_patient(), T, TODAY, rule_ref="ENETS v1")
    out = finding_to_json(growth_finding)
    assert list(out) == [
        "kind",
        "lesion",
        "value",
        "threshold",
        "unit",
        "confounded",
        "action",
        "detected_on",
        "explanation",
    ]
    assert out["kind"] == "growth_rate" and out["lesion"] == "L1"
    assert out["value"] == 7.0 and out["threshold"] == 5.0 and out["unit"] == "mm/year"
    assert out["detected_on"] == "2026-03-10" and out["confounded"] is False
    assert out["explanation"].endswith("rule ENETS v1")
    assert json.loads(json.dumps(out)) == out


def test_other_sites_on_surveillance_still_get_marker_and_grade_findings() -> None:
    facts = busy_patient(site=Site.SMALL_BOWEL)
    kinds = [f.kind.value for f in evaluate_triggers(facts, T, TODAY)]
    assert kinds == ["marker_rise", "grade_change", "symptoms"]


def test_a_mitotic_count_alone_can_regrade() -> None:
    facts = make_facts(ki67=None, mitoses=1, pathology=[Pathology(D("2025-06-01"), mitoses=5)])
    [f] = evaluate_triggers(facts, T, TODAY)
    assert (f.kind, f.value, f.unit) == (TriggerKind.GRADE_CHANGE, None, "")
    assert "grade G1 → G2: pathology on 2025-06-01 (5 mitoses/2 mm²)" in f.explanation
