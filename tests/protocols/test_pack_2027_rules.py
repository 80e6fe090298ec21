"""Pack 2027.1, one table row per rule and boundary (issue 15): which rule plans the patient's next
items, and when. Dates are worked out by hand from the rule's interval (anchor + relativedelta).
"""

from typing import Any

import pytest

from tests.protocols.pack2027 import make_facts, pack_2027, plan_2027

TODAY = "2026-06-01"


def resected(since: str = "2026-01-15", resection: str = "R0") -> dict[str, Any]:
    return {"kind": "resected", "since": since, "resection": resection}


ADVANCED = {"kind": "advanced", "since": "2025-01-10"}
SURVEILLANCE = {"kind": "active_surveillance", "since": "2026-01-15"}
LUNG = {"ki67": None}

# name, facts, expected {kind[:region]: (rule, earliest, target, latest)} (a subset of the plan)
ITEMS: list[tuple[str, dict[str, Any], dict[str, tuple[str, str, str, str]]]] = [
    (
        "NEC on re-biopsy of a well-differentiated tumour keeps NEC imaging",
        {
            "state": ADVANCED,
            "completed": [{"kind": "ct", "date": "2026-03-01"}],
            "pathology": [{"date": "2026-03-01", "ki67": 60, "differentiation": "poor"}],
        },
        {"ct_or_mri": ("nec-follow-up", "2026-05-01", "2026-05-01", "2026-06-01")},
    ),
    (
        "a lesion measured after an R0 resection is a recurrence",
        {
            "state": resected("2025-02-01"),
            "measurements": [{"lesion": "L1", "date": "2026-05-20", "mm": 12}],
        },
        {
            "tumour_board": (
                "recurrence-after-resection",
                "2026-05-20",
                "2026-05-20",
                "2026-06-03",
            ),
            "sstr_pet": ("recurrence-after-resection", "2026-05-20", "2026-05-20", "2026-06-20"),
            "ct_or_mri": ("recurrence-after-resection", "2026-08-20", "2026-09-20", "2026-11-20"),
        },
    ),
    (
        "atypical lung carcinoid: every 6 months for 2 years",
        {"tumour": {**LUNG, "site": "lung", "carcinoid_type": "atypical"}, "state": resected()},
        {"ct_or_mri:chest": ("lung-atypical", "2026-06-15", "2026-07-15", "2026-08-15")},
    ),
    (
        "typical lung carcinoid N1: as atypical",
        {
            "tumour": {**LUNG, "site": "lung", "carcinoid_type": "typical", "node_status": "N1"},
            "state": resected(),
        },
        {
            "ct_or_mri:chest": (
                "lung-typical-node-positive",
                "2026-06-15",
                "2026-07-15",
                "2026-08-15",
            )
        },
    ),
    (
        "typical lung carcinoid N0: 12 weeks to 12 months, then every 1-2 years",
        {
            "tumour": {**LUNG, "site": "lung", "carcinoid_type": "typical", "node_status": "N0"},
            "state": resected(),
        },
        {"ct_or_mri:chest": ("lung-typical", "2026-04-15", "2027-01-15", "2027-01-15")},
    ),
    (
        "lung carcinoid of unrecorded type: the closer schedule",
        {"tumour": {**LUNG, "site": "lung"}, "state": resected()},
        {"ct_or_mri:chest": ("lung-type-unknown", "2026-06-15", "2026-07-15", "2026-08-15")},
    ),
    (
        "thymic NET: as G2",
        {"tumour": {**LUNG, "site": "thymus"}, "state": resected()},
        {"ct_or_mri:chest": ("thymic-net", "2026-04-15", "2026-07-15", "2027-01-15")},
    ),
    (
        "rectal NET resected R1: endoscopy and rectal MRI/EUS at 6 months",
        {"tumour": {"site": "rectum", "size_mm": 8}, "state": resected(resection="R1")},
        {
            "endoscopy": ("rectal-r1", "2026-06-15", "2026-07-15", "2026-08-15"),
            "mri:rectum": ("rectal-r1", "2026-06-15", "2026-07-15", "2026-08-15"),
        },
    ),
    (
        "rectal NET under 1 cm with LVI: no 'no follow-up' verdict",
        {
            "tumour": {"site": "rectum", "size_mm": 8, "adverse_histology": ["lvi"]},
            "state": resected(),
        },
        {"endoscopy": ("rectal-adverse-histology", "2026-06-15", "2026-07-15", "2026-08-15")},
    ),
    (
        "rectal NET 15 mm (1-2 cm)",
        {"tumour": {"site": "rectum", "size_mm": 15}, "state": resected()},
        {"mri:rectum": ("rectal-1-2cm", "2026-06-15", "2026-07-15", "2026-08-15")},
    ),
    (
        "rectal NET at exactly 20 mm is still 1-2 cm",
        {"tumour": {"site": "rectum", "size_mm": 20}, "state": resected()},
        {"endoscopy": ("rectal-1-2cm", "2026-06-15", "2026-07-15", "2026-08-15")},
    ),
    (
        "rectal NET over 2 cm: every 4-6 months in year 1",
        {"tumour": {"site": "rectum", "size_mm": 25}, "state": resected()},
        {
            "ct_or_mri": ("rectal-large-or-g2", "2026-05-15", "2026-06-15", "2026-07-15"),
            "endoscopy": ("rectal-large-or-g2", "2026-11-15", "2027-01-15", "2027-03-15"),
        },
    ),
    (
        "rectal NET G2 of 15 mm: as over 2 cm",
        {"tumour": {"site": "rectum", "size_mm": 15, "ki67": 5}, "state": resected()},
        {"ct_or_mri": ("rectal-large-or-g2", "2026-05-15", "2026-06-15", "2026-07-15")},
    ),
    (
        "appendiceal NET 15 mm, risk factors not reported: followed",
        {"tumour": {"site": "appendix", "size_mm": 15}, "state": resected()},
        {"ct_or_mri": ("appendix-over-2cm", "2026-06-15", "2026-07-15", "2026-08-15")},
    ),
    (
        "appendiceal NET over 2 cm: twice in year 1",
        {
            "tumour": {"site": "appendix", "size_mm": 25, "adverse_histology": []},
            "state": resected(),
        },
        {"ct_or_mri": ("appendix-over-2cm", "2026-06-15", "2026-07-15", "2026-08-15")},
    ),
    (
        "appendiceal NET under 1 cm with mesoappendix invasion",
        {
            "tumour": {"site": "appendix", "size_mm": 8, "adverse_histology": ["mesoappendix"]},
            "state": resected(),
        },
        {"ct_or_mri": ("appendix-adverse-histology", "2026-06-15", "2026-07-15", "2026-08-15")},
    ),
    (
        "appendiceal NET under 1 cm, N1",
        {"tumour": {"site": "appendix", "size_mm": 8, "node_status": "N1"}, "state": resected()},
        {"ct_or_mri": ("appendix-node-positive", "2026-06-15", "2026-07-15", "2026-08-15")},
    ),
    (
        "gastric type 1: EGD at 12 months, no CgA",
        {
            "tumour": {"site": "stomach", "gastric_type": "type_1", "size_mm": 6},
            "state": SURVEILLANCE,
        },
        {"endoscopy": ("gastric-type-1", "2026-12-15", "2027-01-15", "2027-02-15")},
    ),
    (
        "gastric type 2: EGD every 2-3 years and yearly gastrin",
        {"tumour": {"site": "stomach", "gastric_type": "type_2"}, "state": SURVEILLANCE},
        {
            "endoscopy": ("gastric-type-2", "2028-01-15", "2028-07-15", "2029-01-15"),
            "gastrin": ("gastric-type-2", "2026-11-15", "2027-01-15", "2027-03-15"),
        },
    ),
    (
        "gastric type 3 resected: EGD 6-12 months and imaging",
        {"tumour": {"site": "stomach", "gastric_type": "type_3"}, "state": resected()},
        {
            "endoscopy": ("gastric-type-3", "2026-07-15", "2026-10-15", "2027-01-15"),
            "ct_or_mri": ("gastric-type-3", "2026-04-15", "2026-05-15", "2026-07-15"),
        },
    ),
    (
        "gastric NET of unrecorded type: a clinician records it",
        {"tumour": {"site": "stomach"}, "state": resected()},
        {"clinic_visit": ("gastric-type-unknown", "2026-01-15", "2026-01-15", "2026-02-15")},
    ),
    (
        "duodenal NET: EGD every 1-2 years",
        {"tumour": {"site": "duodenum"}, "state": resected()},
        {"endoscopy": ("duodenal-ampullary", "2027-01-15", "2027-07-15", "2028-01-15")},
    ),
    (
        "insulinoma after resection: first visit at 2-6 weeks",
        {
            "tumour": {"functional": "insulinoma", "stage": "localized"},
            "state": resected("2026-05-20"),
        },
        {
            "clinic_visit": ("insulinoma-resected", "2026-06-03", "2026-06-17", "2026-07-01"),
            "glucose": ("insulinoma-resected", "2026-06-03", "2026-06-17", "2026-07-01"),
        },
    ),
    (
        "MEN1 pancreatic imaging is satisfied by EUS",
        {
            "no_tumour": True,
            "patient": {"hereditary": "MEN1", "birth_date": "1990-01-01"},
            "completed": [{"kind": "eus", "date": "2026-03-01"}],
        },
        {"mri": ("men1-programme", "2027-01-01", "2027-03-01", "2027-05-01")},
    ),
    (
        "no long-acting SSA within 4 weeks before a PRRT dose: it resumes with the dose",
        {
            "tumour": {"sstr": "positive"},
            "state": ADVANCED,
            "therapies": [
                {"kind": "ssa", "started_on": "2025-02-01", "last_given_on": "2026-05-10"},
                {"kind": "prrt", "started_on": "2026-04-20", "cycles_given": 1},
            ],
        },
        {
            "ssa_injection": ("ssa-injections", "2026-06-15", "2026-06-15", "2026-06-18"),
            "prrt_cycle": ("prrt-course", "2026-06-08", "2026-06-15", "2026-06-22"),
        },
    ),
    (
        "an SSA dose whose window runs into the pause is due before it",
        {
            "tumour": {"sstr": "positive"},
            "state": ADVANCED,
            "therapies": [
                {"kind": "ssa", "started_on": "2025-02-01", "last_given_on": "2026-04-18"},
                {"kind": "prrt", "started_on": "2026-04-20", "cycles_given": 1},
            ],
        },
        # Due 2026-05-16 (25-31 days: 05-13..05-19); the pause starts 05-18: latest 05-17.
        {"ssa_injection": ("ssa-injections", "2026-05-13", "2026-05-16", "2026-05-17")},
    ),
    (
        "a marker missed at the last scan is due at once",
        {
            "state": ADVANCED,
            "markers": [{"name": "cga", "date": "2025-06-01", "value": 200, "uln": 100}],
            "completed": [
                {"kind": "cga", "date": "2025-06-01"},
                {"kind": "ct", "date": "2025-06-01"},
                {"kind": "ct", "date": "2026-03-01"},
            ],
        },
        {
            "cga": ("net-g1g2-follow-up", "2026-03-01", "2026-03-01", "2026-04-01"),
            "ct_or_mri": ("net-g1g2-follow-up", "2026-06-01", "2026-07-01", "2026-09-01"),
        },
    ),
    (
        "a marker drawn within a month before the scan counts as done with it",
        {
            "state": ADVANCED,
            "completed": [
                {"kind": "cga", "date": "2026-02-05"},
                {"kind": "ct", "date": "2026-03-01"},
            ],
        },
        {"cga": ("net-g1g2-follow-up", "2026-06-01", "2026-07-01", "2026-09-01")},
    ),
    (
        "PRRT course complete: bloods 1 month after the last cycle (±2 weeks)",
        {
            "tumour": {"sstr": "positive"},
            "state": ADVANCED,
            "therapies": [
                {
                    "kind": "prrt",
                    "started_on": "2025-12-01",
                    "cycles_given": 4,
                    "last_given_on": "2026-05-20",
                    "ended_on": "2026-05-20",
                }
            ],
        },
        {"labs": ("prrt-course", "2026-06-06", "2026-06-20", "2026-07-04")},
    ),
    (
        "everolimus: labs 2-4 weeks after the start",
        {"state": ADVANCED, "therapies": [{"kind": "everolimus", "started_on": "2026-05-20"}]},
        {"labs": ("everolimus-monitoring", "2026-06-03", "2026-06-10", "2026-06-17")},
    ),
    (
        "sunitinib: blood every 4 weeks and TSH every 12 weeks",
        {"state": ADVANCED, "therapies": [{"kind": "sunitinib", "started_on": "2026-05-20"}]},
        {
            "labs": ("sunitinib-monitoring", "2026-06-10", "2026-06-17", "2026-06-24"),
            "labs:thyroid": ("sunitinib-monitoring", "2026-05-20", "2026-05-20", "2026-06-03"),
        },
    ),
    (
        "NEC on chemotherapy: the next cycle and its day-1 bloods",
        {
            "tumour": {"differentiation": "poor", "ki67": 80},
            "state": {"kind": "advanced", "since": "2025-10-27"},
            "therapies": [
                {
                    "kind": "chemotherapy",
                    "started_on": "2026-05-04",
                    "cycles_given": 3,
                    "last_given_on": "2026-05-25",
                }
            ],
        },
        {
            "clinic_visit": ("nec-chemotherapy", "2026-06-14", "2026-06-15", "2026-06-17"),
            "labs": ("nec-chemotherapy", "2026-06-13", "2026-06-15", "2026-06-15"),
        },
    ),
    (
        "carcinoid heart disease: echocardiogram every 6 months",
        {
            "tumour": {
                "site": "small_bowel",
                "functional": "carcinoid_syndrome",
                "carcinoid_heart_disease": True,
            },
            "state": ADVANCED,
            "completed": [
                {"kind": "echocardiogram", "date": "2026-03-01"},
                {"kind": "ntprobnp", "date": "2026-03-01"},
            ],
        },
        {
            "echocardiogram": ("carcinoid-heart-disease", "2026-08-01", "2026-09-01", "2026-10-01"),
            "ntprobnp": ("carcinoid-heart-disease", "2026-08-01", "2026-09-01", "2026-10-01"),
        },
    ),
]


@pytest.mark.parametrize(("name", "facts", "expected"), ITEMS, ids=[c[0] for c in ITEMS])
def test_the_rule_plans_as_the_guideline_says(
    name: str, facts: dict[str, Any], expected: dict[str, tuple[str, str, str, str]]
) -> None:
    result = plan_2027(make_facts(TODAY, **facts), TODAY)
    got = {
        i.kind.value + (f":{i.region}" if i.region else ""): (
            i.rule,
            i.earliest.isoformat(),
            i.target.isoformat(),
            i.latest.isoformat(),
        )
        for i in result.items
    }
    for key, want in expected.items():
        assert got.get(key) == want, (name, key, got)
    assert result.pack_version == "2027.1"


VERDICTS = [
    (
        "rectal NET 8 mm G1 R0, no adverse histology",
        {"tumour": {"site": "rectum", "size_mm": 8, "adverse_histology": []}},
        "rectal-small-no-follow-up",
    ),
    (
        "appendiceal NET 8 mm G1 R0",
        {"tumour": {"site": "appendix", "size_mm": 8}},
        "appendix-small-no-follow-up",
    ),
    (
        "appendiceal NET 15 mm R0, no risk factors",
        {"tumour": {"site": "appendix", "size_mm": 15, "adverse_histology": []}},
        "appendix-1-2cm-no-follow-up",
    ),
]


@pytest.mark.parametrize(("name", "facts", "rule"), VERDICTS, ids=[c[0] for c in VERDICTS])
def test_no_follow_up_verdicts(name: str, facts: dict[str, Any], rule: str) -> None:
    result = plan_2027(make_facts(TODAY, state=resected(), **facts), TODAY)
    assert result.no_follow_up is not None and result.no_follow_up.rule == rule, name
    assert result.items == ()


def test_a_cured_insulinoma_has_no_3_monthly_insulin() -> None:
    facts = make_facts(TODAY, tumour={"functional": "insulinoma"}, state=resected("2026-05-20"))
    kinds = {i.kind.value: i.rule for i in plan_2027(facts, TODAY).items}
    assert "insulin" not in kinds and kinds["glucose"] == "insulinoma-resected"
    on_surveillance = make_facts(TODAY, tumour={"functional": "insulinoma"})
    kinds = {i.kind.value: i.rule for i in plan_2027(on_surveillance, TODAY).items}
    assert kinds["insulin"] == "insulinoma-hormones"


def test_the_end_of_a_programme_is_said() -> None:
    # Resected 2015-03-01, 10 years; the last scan in year 9 puts the next one past the end.
    facts = make_facts(
        TODAY, state=resected("2015-03-01"), completed=[{"kind": "ct", "date": "2024-12-01"}]
    )
    result = plan_2027(facts, TODAY)
    assert result.items == ()
    assert result.complete is not None and "programme complete" in result.complete
    assert "net-g1g2-resected" in result.complete and "2025-03-01" in result.complete


def test_a_live_programme_is_not_complete() -> None:
    facts = make_facts(
        TODAY, state=resected("2020-03-01"), completed=[{"kind": "ct", "date": "2026-01-01"}]
    )
    assert plan_2027(facts, TODAY).complete is None


@pytest.mark.parametrize("profile", ["default", "esmo-2020", "nccn-2025"])
def test_every_profile_plans_each_site(profile: str) -> None:
    for _, facts, _ in ITEMS:
        result = plan_2027(make_facts(TODAY, **facts), TODAY, profile)
        assert result.items or result.no_follow_up


def test_nccn_2025_profile_intervals() -> None:
    nec = make_facts(
        TODAY,
        tumour={"differentiation": "poor", "ki67": 70},
        state=resected("2026-01-05"),
        completed=[{"kind": "ct", "date": "2026-04-01"}],
    )
    item = next(i for i in plan_2027(nec, TODAY, "nccn-2025").items if i.kind.value == "ct_or_mri")
    assert (item.rule, item.target.isoformat()) == ("nec-follow-up", "2026-06-24")  # 12 weeks
    g1 = make_facts(TODAY, state=resected("2026-01-05"))
    item = next(i for i in plan_2027(g1, TODAY, "nccn-2025").items if i.kind.value == "ct_or_mri")
    assert (item.earliest.isoformat(), item.target.isoformat()) == ("2026-04-05", "2026-07-05")
    assert "sstr-pet" not in {r.id for r in pack_2027().profile("nccn-2025").rules}


def test_every_rule_of_2027_cites_a_source_and_evidence_class() -> None:
    pack = pack_2027()
    for profile in pack.profiles.values():
        for rule in profile.rules:
            assert rule.source in pack.sources and rule.evidence
            assert all(i.source in pack.sources and i.evidence for i in rule.items)


def test_every_default_rule_has_a_case() -> None:
    """Each disease rule of the default profile is reached by a row of the tables above (the
    rules carried over from 2026.1 are covered by tests/core/test_plan.py)."""
    reached = {rule for _, _, want in ITEMS for rule, *_ in want.values()}
    reached |= {rule for *_, rule in VERDICTS}
    added = {
        "recurrence-after-resection",
        "rectal-adverse-histology",
        "rectal-r1",
        "appendix-adverse-histology",
        "appendix-node-positive",
        "rectal-1-2cm",
        "rectal-large-or-g2",
        "appendix-1-2cm-no-follow-up",
        "appendix-over-2cm",
        "gastric-type-1",
        "gastric-type-2",
        "gastric-type-3",
        "gastric-type-unknown",
        "duodenal-ampullary",
        "lung-atypical",
        "lung-typical-node-positive",
        "lung-typical",
        "lung-type-unknown",
        "thymic-net",
        "insulinoma-resected",
        "carcinoid-heart-disease",
        "everolimus-monitoring",
        "sunitinib-monitoring",
        "nec-chemotherapy",
    }
    assert added <= {r.id for r in pack_2027().profile().rules}
    assert added - reached == set()
