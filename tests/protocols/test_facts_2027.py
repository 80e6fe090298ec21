"""The facts contract after issue 15: the optional 2027.1 facts, numbers that are not numbers,
death dates; the triggers that changed (discharged SSA, 5-HIAA and NSE rises)."""

import copy
import datetime as dt
import json
from typing import Any

import pytest

from surveil.core.facts import facts_to_json, parse_facts
from surveil.core.findings import TriggerKind
from surveil.core.triggers import evaluate_triggers
from surveil.core.vocab import AdverseHistology, CarcinoidType, GastricType, NodeStatus
from surveil.errors import InvalidInput
from tests.protocols.pack2027 import make_facts, pack_2027

TODAY = dt.date(2026, 6, 1)

BASE: dict[str, Any] = {
    "version": 1,
    "patient": {"id": "P1", "birth_date": "1960-01-15"},
    "tumour": {"site": "lung", "diagnosed_on": "2025-01-10"},
    "state": {"kind": "resected", "since": "2025-02-01", "resection": "R0"},
}


def problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        parse_facts(raw, today=TODAY)
    return [str(p) for p in caught.value.problems]


def with_(**tumour: Any) -> dict[str, Any]:
    raw = copy.deepcopy(BASE)
    raw["tumour"].update(tumour)
    return raw


def test_version_1_facts_without_the_new_fields_stay_readable() -> None:
    facts = parse_facts(BASE, today=TODAY)
    assert facts.tumour is not None
    assert facts.tumour.node_status is None and facts.tumour.adverse_histology is None
    assert facts.tumour.carcinoid_type is None and facts.tumour.gastric_type is None


def test_the_new_optional_facts_are_read_and_written_back() -> None:
    raw = with_(
        node_status="N1",
        adverse_histology=["lvi", "muscularis"],
        carcinoid_type="atypical",
        gastric_type="type_3",
        carcinoid_heart_disease=True,
    )
    facts = parse_facts(raw, today=TODAY)
    t = facts.tumour
    assert t is not None
    assert t.node_status is NodeStatus.N1 and t.carcinoid_type is CarcinoidType.ATYPICAL
    assert t.adverse_histology == {AdverseHistology.LVI, AdverseHistology.MUSCULARIS}
    assert t.gastric_type is GastricType.TYPE_3 and t.carcinoid_heart_disease is True
    again = parse_facts(json.loads(json.dumps(facts_to_json(facts))), today=TODAY)
    assert again == facts


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("node_status", "N3", "tumour.node_status: 'N3' is not one of: N0, N1"),
        ("adverse_histology", "lvi", "tumour.adverse_histology: must be a list"),
        ("adverse_histology", ["perineural"], "tumour.adverse_histology[0]: 'perineural'"),
        ("carcinoid_type", "typ", "tumour.carcinoid_type: 'typ' is not one of"),
        ("gastric_type", 1, "tumour.gastric_type: 1 is not one of: type_1, type_2, type_3"),
        ("carcinoid_heart_disease", "yes", "tumour.carcinoid_heart_disease: must be true or false"),
    ],
)
def test_a_bad_new_fact_names_its_field(field: str, value: Any, message: str) -> None:
    assert any(p.startswith(message) for p in problems(with_(**{field: value})))


@pytest.mark.parametrize(
    "value",
    [float("nan"), float("inf"), float("-inf"), 10**5000, 1e300, -(10**5000)],
    ids=["nan", "inf", "-inf", "5000 digits", "1e300", "-5000 digits"],
)
def test_numbers_that_are_not_clinical_values_are_refused(value: Any) -> None:
    found = problems(with_(ki67=value, size_mm=value))
    assert [p.split(":")[0] for p in found] == ["tumour.ki67", "tumour.size_mm"]


def test_nan_from_json_text_is_refused_not_graded() -> None:
    raw = json.loads(json.dumps(BASE).replace('"site": "lung"', '"site": "lung", "ki67": NaN'))
    assert problems(raw)[0].startswith("tumour.ki67: nan is not a finite number")


def test_a_death_after_today_is_refused() -> None:
    raw = copy.deepcopy(BASE)
    raw["patient"]["deceased_on"] = "2026-06-02"
    assert problems(raw) == ["patient.deceased_on: 2026-06-02 is after today (2026-06-01)"]


def test_results_after_death_are_refused() -> None:
    raw = copy.deepcopy(BASE)
    raw["patient"]["deceased_on"] = "2026-03-01"
    raw["markers"] = [{"name": "cga", "date": "2026-03-02", "value": 90}]
    raw["completed"] = [{"kind": "ct", "date": "2026-03-01"}]  # the day itself is fine
    assert problems(raw) == ["markers[0].date: 2026-03-02 is after the date of death (2026-03-01)"]


def _ssa(state: dict[str, Any]) -> list[Any]:
    facts = make_facts(
        "2026-06-01",
        state=state,
        therapies=[{"kind": "ssa", "started_on": "2025-01-01", "last_given_on": "2026-04-01"}],
    )
    return evaluate_triggers(facts, pack_2027().profile().thresholds, TODAY)


def test_missed_ssa_alert_only_while_the_clinic_cares_for_the_patient() -> None:
    kinds = [f.kind for f in _ssa({"kind": "advanced", "since": "2025-01-10"})]
    assert TriggerKind.SSA_OVERDUE in kinds
    kinds = [f.kind for f in _ssa({"kind": "discharged", "since": "2026-05-01"})]
    assert TriggerKind.SSA_OVERDUE not in kinds


@pytest.mark.parametrize("marker", ["5hiaa", "nse"])
def test_5hiaa_and_nse_rises_fire_under_2027(marker: str) -> None:
    facts = make_facts(
        "2026-06-01",
        state={"kind": "advanced", "since": "2025-01-10"},
        markers=[
            {"name": marker, "date": "2026-01-01", "value": 20, "uln": 15},
            {"name": marker, "date": "2026-05-01", "value": 40, "uln": 15},
        ],
    )
    found = evaluate_triggers(facts, pack_2027().profile().thresholds, TODAY)
    assert [(f.kind, f.subject) for f in found] == [(TriggerKind.MARKER_RISE, marker)]
    # The 2026.1 pack watched CgA only.
    from tests.core.planning import shipped_pack

    assert evaluate_triggers(facts, shipped_pack().profile().thresholds, TODAY) == []
