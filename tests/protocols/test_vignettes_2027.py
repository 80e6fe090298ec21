"""The vignettes of clinical-vignettes-and-therapies §6 that pack 2026.1 could not plan, under
pack 2027.1 (the dates in the assertions are the vignettes' own)."""

import datetime as dt

from surveil.core.plan import Plan, PlannedItem
from tests.protocols.pack2027 import make_facts, plan_2027


def items_of(result: Plan) -> dict[str, PlannedItem]:
    return {i.kind.value + (f":{i.region}" if i.region else ""): i for i in result.items}


def test_v13_no_long_acting_ssa_within_4_weeks_before_cycle_3() -> None:
    facts = make_facts(
        "2025-12-08",
        tumour={"site": "small_bowel", "ki67": 12, "sstr": "positive"},
        state={"kind": "advanced", "since": "2025-08-01"},
        therapies=[
            {"kind": "ssa", "started_on": "2024-01-01", "last_given_on": "2025-11-03"},
            {
                "kind": "prrt",
                "started_on": "2025-09-01",
                "cycles_given": 2,
                "last_given_on": "2025-10-27",
            },
        ],
    )
    items = items_of(plan_2027(facts, "2025-12-08"))
    cycle, lar = items["prrt_cycle"], items["ssa_injection"]
    assert cycle.target.isoformat() == "2025-12-22"
    # Due 2025-12-01, inside the 4 weeks before 2025-12-22: it resumes with the cycle, not before.
    assert lar.earliest.isoformat() == "2025-12-22"
    assert lar.status.value == "upcoming"


V14_PRRT = {
    "kind": "prrt",
    "started_on": "2025-02-03",
    "cycles_given": 4,
    "last_given_on": "2025-07-21",
    "ended_on": "2025-07-21",
}


def _v14_labs(today: str, done: list[str]) -> PlannedItem:
    facts = make_facts(
        today,
        tumour={"ki67": 9, "sstr": "positive"},
        state={"kind": "advanced", "since": "2025-01-10"},
        therapies=[V14_PRRT],
        completed=[{"kind": "labs", "date": day} for day in done],
    )
    return items_of(plan_2027(facts, today))["labs"]


def test_v14_post_prrt_bloods_at_1_3_6_12_months_then_yearly() -> None:
    assert _v14_labs("2025-07-22", []).target.isoformat() == "2025-08-21"
    labs = _v14_labs("2025-12-08", ["2025-08-21", "2025-10-21"])
    assert (labs.rule, labs.target.isoformat()) == ("prrt-course", "2026-01-21")
    assert _v14_labs("2026-02-01", ["2025-08-21", "2025-10-21", "2026-01-21"]).target == (
        dt.date(2026, 7, 21)
    )
    yearly = _v14_labs("2026-08-01", ["2025-08-21", "2025-10-21", "2026-01-21", "2026-07-21"])
    assert (yearly.earliest.isoformat(), yearly.latest.isoformat()) == ("2027-05-21", "2027-09-21")


def test_v15_nec_on_chemotherapy() -> None:
    facts = make_facts(
        "2025-12-15",
        tumour={"differentiation": "poor", "ki67": 80, "sstr": "negative"},
        state={"kind": "advanced", "since": "2025-10-27"},
        therapies=[
            {
                "kind": "chemotherapy",
                "agent": "carboplatin-etoposide",
                "started_on": "2025-11-03",
                "cycles_given": 3,
                "last_given_on": "2025-12-15",
            },
        ],
        completed=[{"kind": "ct", "date": "2025-10-27"}],
    )
    items = items_of(plan_2027(facts, "2025-12-15"))
    assert items["clinic_visit"].target.isoformat() == "2026-01-05"  # C4
    assert items["labs"].target.isoformat() == "2026-01-05"  # day 1
    ct = items["ct_or_mri"]  # ESMO 2–3 months: 2025-12-27 -> 2026-01-27
    assert (ct.earliest.isoformat(), ct.latest.isoformat()) == ("2025-12-27", "2026-01-27")
    assert "nse" in items
    assert not {"ssa_injection", "prrt_cycle", "sstr_pet"} & items.keys()


def test_v16_nec_resected_nccn_12_weeks() -> None:
    facts = make_facts(
        "2025-11-10",
        tumour={"site": "colon", "differentiation": "poor", "ki67": 70},
        state={"kind": "resected", "since": "2025-04-22", "resection": "R0"},
        completed=[{"kind": "ct", "date": "2025-11-10"}],
    )
    ct = items_of(plan_2027(facts, "2025-11-10", "nccn-2025"))["ct_or_mri"]
    assert ct.target.isoformat() == "2026-02-02"


def test_v20_rectal_r1_is_followed_not_discharged() -> None:
    facts = make_facts(
        "2025-07-10",
        tumour={"site": "rectum", "ki67": 2, "size_mm": 8, "adverse_histology": []},
        state={"kind": "resected", "since": "2025-07-03", "resection": "R1"},
    )
    result = plan_2027(facts, "2025-07-10")
    assert result.no_follow_up is None
    assert {i.rule for i in result.items} == {"rectal-r1"}


def test_v21_rectal_14_mm_endoscopy_and_rectal_mri_at_12_months() -> None:
    facts = make_facts(
        "2025-11-14",
        tumour={"site": "rectum", "ki67": 2.8, "size_mm": 14, "adverse_histology": []},
        state={"kind": "resected", "since": "2025-05-14", "resection": "R0"},
        completed=[
            {"kind": "endoscopy", "date": "2025-11-14"},
            {"kind": "mri", "date": "2025-11-14", "region": "rectum"},
        ],
    )
    items = items_of(plan_2027(facts, "2025-11-14"))
    for key in ("endoscopy", "mri:rectum"):  # 2026-05-14 (±1 month)
        item = items[key]
        assert (item.earliest.isoformat(), item.target.isoformat(), item.latest.isoformat()) == (
            "2026-04-14",
            "2026-05-14",
            "2026-06-14",
        )


def test_v22_appendix_6_mm_needs_no_follow_up() -> None:
    facts = make_facts(
        "2025-09-01",
        tumour={"site": "appendix", "ki67": 1, "size_mm": 6, "adverse_histology": []},
        state={"kind": "resected", "since": "2025-08-30", "resection": "R0"},
    )
    result = plan_2027(facts, "2025-09-01")
    assert result.no_follow_up is not None and result.items == ()


def test_v24_gastric_type_1_endoscopy_without_cga_or_gastrin() -> None:
    facts = make_facts(
        "2025-04-09",
        tumour={"site": "stomach", "gastric_type": "type_1", "ki67": 1, "size_mm": 8},
        state={"kind": "active_surveillance", "since": "2025-04-09"},
        completed=[{"kind": "endoscopy", "date": "2025-04-09"}],
    )
    items = items_of(plan_2027(facts, "2025-04-09"))
    assert set(items) == {"endoscopy"}
    assert items["endoscopy"].latest.isoformat() >= "2026-04-09"


def test_v25_young_lung_typical_carcinoid() -> None:
    facts = make_facts(
        "2025-12-15",
        patient={"birth_date": "1997-06-01"},
        tumour={
            "site": "lung",
            "carcinoid_type": "typical",
            "node_status": "N0",
            "ki67": None,
            "size_mm": 22,
        },
        state={"kind": "resected", "since": "2025-03-17", "resection": "R0"},
        completed=[{"kind": "ct", "date": "2025-12-15", "region": "chest"}],
    )
    item = items_of(plan_2027(facts, "2025-12-15"))["ct_or_mri:chest"]
    assert (item.earliest.isoformat(), item.latest.isoformat()) == ("2026-12-15", "2027-12-15")
    assert "MRI" in item.reason  # under 40: low-dose CT or MRI
