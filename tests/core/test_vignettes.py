"""Patient vignettes from clinical-vignettes-and-therapies §6, under the default profile.

Only the expectations the default profile shares with the vignette's reference profile are checked;
where the two differ on purpose (e.g. design-card 3–6 months after resection) the vignette is not
used for that item.
"""

from tests.core.planning import by_kind, d, make_facts, plan_for


def test_v01_ki67_exactly_2_small_pnet_on_surveillance() -> None:
    facts = make_facts(
        "2025-08-12",
        tumour={"ki67": 2.0, "mitoses": 1, "sstr": "positive", "diagnosed_on": "2025-02-10"},
        state={"since": "2025-03-05"},
        measurements=[{"lesion": "body", "date": "2025-08-12", "mm": 14}],
        markers=[{"name": "cga", "date": "2025-03-20", "value": 60, "uln": 100}],
        completed=[
            {"kind": "mri", "date": "2025-08-12"},
            {"kind": "sstr_pet", "date": "2025-03-20"},
        ],
    )
    result = plan_for(facts, "2025-08-12")
    assert result.grade == "G1"
    items = by_kind(result)
    for kind in ("mri", "cga"):  # MRI + CgA: window 2026-02-12 -> 2026-08-12
        assert (items[kind].earliest, items[kind].latest) == (d("2026-02-12"), d("2026-08-12"))


def test_v05_ki67_2_5_is_g1_under_who_2019() -> None:
    facts = make_facts(
        "2025-08-14",
        tumour={"ki67": 2.5, "size_mm": 11, "diagnosed_on": "2025-01-20"},
        state={"since": "2025-02-14"},
        completed=[{"kind": "mri", "date": "2025-08-14"}],
    )
    mri = by_kind(plan_for(facts, "2025-08-14"))["mri"]
    assert mri.rule == "pnet-small-surveillance"
    assert (mri.earliest, mri.latest) == (d("2026-02-14"), d("2026-08-14"))


def test_v08_elderly_patient_stable_on_surveillance() -> None:
    facts = make_facts(
        "2025-11-05",
        patient={"birth_date": "1941-03-01"},
        tumour={"ki67": 0.5, "size_mm": 13, "diagnosed_on": "2024-11-05"},
        state={"since": "2024-11-05"},
        completed=[{"kind": "mri", "date": "2025-05-06"}, {"kind": "mri", "date": "2025-11-05"}],
    )
    mri = by_kind(plan_for(facts, "2025-11-05"))["mri"]
    assert (mri.earliest, mri.latest) == (d("2026-05-05"), d("2026-11-05"))


def test_v10_lanreotide_with_carcinoid_syndrome() -> None:
    facts = make_facts(
        "2026-01-19",
        tumour={
            "site": "small_bowel",
            "ki67": 1.5,
            "sstr": "positive",
            "functional": "carcinoid_syndrome",
        },
        state={"kind": "advanced", "since": "2024-05-20"},
        therapies=[
            {
                "kind": "ssa",
                "agent": "lanreotide",
                "started_on": "2024-06-03",
                "last_given_on": "2026-01-19",
            }
        ],
        markers=[{"name": "5hiaa", "date": "2024-05-20", "value": 300, "uln": 50}],
        completed=[
            {"kind": "ct", "date": "2025-12-15"},
            {"kind": "echocardiogram", "date": "2025-03-10"},
        ],
    )
    items = by_kind(plan_for(facts, "2026-01-19"))
    ssa = items["ssa_injection"]
    assert (ssa.earliest, ssa.target, ssa.latest) == (
        d("2026-02-13"),
        d("2026-02-16"),
        d("2026-02-19"),
    )
    echo = items["echocardiogram"]  # every 1–3 years: 2026-03-10 -> 2028-03-10
    assert (echo.earliest, echo.latest) == (d("2026-03-10"), d("2028-03-10"))
    assert "5hiaa" in items


def test_v14_after_prrt() -> None:
    prrt = {
        "kind": "prrt",
        "started_on": "2025-02-03",
        "cycles_given": 4,
        "last_given_on": "2025-07-21",
        "ended_on": "2025-07-21",
    }
    lar = {
        "kind": "ssa",
        "agent": "octreotide LAR",
        "started_on": "2025-08-18",
        "last_given_on": "2025-12-08",
    }
    facts = make_facts(
        "2025-12-08",
        tumour={"ki67": 9, "sstr": "positive"},
        state={"kind": "advanced", "since": "2025-01-10"},
        therapies=[prrt, lar],
        completed=[{"kind": "ct", "date": "2025-10-20"}],
    )
    items = by_kind(plan_for(facts, "2025-12-08"))
    assert items["ssa_injection"].target == d("2026-01-05")
    assert "prrt_cycle" not in items
    ct = items["ct_or_mri"]  # post-PRRT CT done: back to 3–6-monthly imaging, as F18 allows
    assert ct.anchor.date == d("2025-10-20") and ct.latest == d("2026-04-20")


def test_v17_men1_carrier_child() -> None:
    bloods = (
        "calcium",
        "pth",
        "prolactin",
        "igf1",
        "glucose",
        "insulin",
        "cga",
        "pp",
        "glucagon",
        "vip",
    )
    facts = make_facts(
        "2025-12-01",
        no_tumour=True,
        patient={"birth_date": "2016-05-14", "hereditary": "MEN1"},
        state={"since": "2016-05-14"},
        completed=[{"kind": k, "date": "2025-06-10"} for k in bloods]
        + [{"kind": "mri", "date": "2025-06-20"}],
    )
    items = by_kind(plan_for(facts, "2025-12-01"))
    for kind in bloods:
        assert (items[kind].earliest, items[kind].latest) == (d("2026-04-10"), d("2026-08-10"))
    assert (items["mri"].earliest, items["mri"].latest) == (d("2026-04-20"), d("2026-08-20"))
    assert items["gastrin"].earliest == d("2036-05-14")
    assert items["ct:thoracic"].earliest == d("2031-05-14")


def _resected_lower_gi(site: str, mm: float, ki67: float, resection: str, since: str) -> object:
    facts = make_facts(
        since,
        tumour={"site": site, "size_mm": mm, "ki67": ki67, "diagnosed_on": since},
        state={"kind": "resected", "since": since, "resection": resection},
    )
    return plan_for(facts, since).no_follow_up


def test_v19_rectal_6_mm_r0_needs_no_follow_up() -> None:
    verdict = _resected_lower_gi("rectum", 6, 1, "R0", "2025-09-18")
    assert verdict is not None and verdict.rule == "rectal-small-no-follow-up"


def test_v20_rectal_8_mm_with_an_involved_margin_is_followed_up() -> None:
    assert _resected_lower_gi("rectum", 8, 2, "R1", "2025-07-03") is None


def test_v22_and_v23_appendiceal_under_10_mm() -> None:
    for mm, ki67 in ((6, 1), (7, 2.0)):
        verdict = _resected_lower_gi("appendix", mm, ki67, "R0", "2025-10-11")
        assert verdict is not None and verdict.rule == "appendix-small-no-follow-up"
