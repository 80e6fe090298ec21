"""The planner on the shipped pack: every default rule, its boundaries, and the date arithmetic."""

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surveil.core.plan import plan, plan_to_json
from surveil.core.protocol import Interval, Unit
from surveil.core.vocab import ItemStatus
from surveil.core.windows import after, before, years_after
from surveil.errors import InvalidInput
from tests.core.planning import by_kind, d, disease_rule, make_facts, plan_for, shipped_pack

TODAY = "2025-09-01"


# --- Which rule applies: WHO grade and size boundaries ------------------------------------------


@pytest.mark.parametrize(
    ("tumour", "rule"),
    [
        ({"ki67": 2.9}, "pnet-small-surveillance"),
        ({"ki67": 3.0}, "net-g1g2-follow-up"),
        ({"ki67": 20.0}, "net-g1g2-follow-up"),
        ({"ki67": 20.1}, "net-g3-follow-up"),
        ({"ki67": None, "mitoses": 1}, "pnet-small-surveillance"),
        ({"ki67": None, "mitoses": 2}, "net-g1g2-follow-up"),
        ({"ki67": None, "mitoses": 20}, "net-g1g2-follow-up"),
        ({"ki67": None, "mitoses": 21}, "net-g3-follow-up"),
        ({"differentiation": "poor", "ki67": 15}, "nec-follow-up"),
        ({"size_mm": 20}, "pnet-small-surveillance"),
        ({"size_mm": 20.5}, "net-g1g2-follow-up"),
        ({"size_mm": None}, "net-g1g2-follow-up"),  # unknown size: never the lighter pathway
        ({"functional": "insulinoma"}, "net-g1g2-follow-up"),
        ({"site": "small_bowel"}, "net-g1g2-follow-up"),
    ],
)
def test_grade_and_size_boundaries_pick_the_rule(tumour: dict[str, Any], rule: str) -> None:
    result = plan_for(make_facts(TODAY, tumour=tumour), TODAY)
    assert disease_rule(result) == rule


@pytest.mark.parametrize(
    ("tumour", "resection", "no_follow_up"),
    [
        ({"site": "rectum", "size_mm": 9}, "R0", "rectal-small-no-follow-up"),
        ({"site": "rectum", "size_mm": 9.9}, "R0", "rectal-small-no-follow-up"),
        ({"site": "rectum", "size_mm": 10}, "R0", None),
        ({"site": "rectum", "size_mm": 9}, "R1", None),
        ({"site": "rectum", "size_mm": 9, "ki67": 3}, "R0", None),
        ({"site": "rectum", "size_mm": None}, "R0", None),
        ({"site": "appendix", "size_mm": 6}, "R0", "appendix-small-no-follow-up"),
        ({"site": "appendix", "size_mm": 12}, "R0", None),
        ({"site": "colon", "size_mm": 6}, "R0", None),
    ],
)
def test_no_follow_up_is_an_explicit_cited_rule(
    tumour: dict[str, Any], resection: str, no_follow_up: str | None
) -> None:
    facts = make_facts(
        TODAY,
        tumour=tumour,
        state={"kind": "resected", "since": "2025-06-01", "resection": resection},
    )
    result = plan_for(facts, TODAY)
    if no_follow_up is None:
        assert result.no_follow_up is None
        assert disease_rule(result) == "net-g1g2-resected"
    else:
        assert result.no_follow_up is not None
        assert result.no_follow_up.rule == no_follow_up
        assert result.no_follow_up.source in shipped_pack().sources
        assert result.items == ()


# --- Windows and anchors -------------------------------------------------------------------------


def test_small_pnet_mri_and_cga_every_6_to_12_months_from_the_last_mri() -> None:
    facts = make_facts(TODAY, completed=[{"kind": "mri", "date": "2025-03-02"}])
    items = by_kind(plan_for(facts, TODAY))
    mri = items["mri"]
    assert (mri.earliest, mri.target, mri.latest) == (
        d("2025-09-02"),
        d("2025-12-02"),
        d("2026-03-02"),
    )
    assert mri.anchor.date == d("2025-03-02") and mri.anchor.event == "last MRI"
    assert mri.status is ItemStatus.UPCOMING
    assert "rule pnet-small-surveillance" in mri.reason and "last MRI 2025-03-02" in mri.reason
    assert "[Q]" in mri.reason
    cga = items["cga"]
    assert (cga.earliest, cga.target, cga.latest) == (mri.earliest, mri.target, mri.latest)
    assert "with the MRI" in cga.reason


def test_a_late_mri_moves_the_next_window_and_never_chains() -> None:
    # Window after 2024-03-02 closed 2025-03-02; the MRI was done late on 2025-06-20.
    facts = make_facts(
        TODAY,
        completed=[{"kind": "mri", "date": "2024-03-02"}, {"kind": "mri", "date": "2025-06-20"}],
        state={"since": "2024-01-01"},
    )
    mri = by_kind(plan_for(facts, TODAY))["mri"]
    assert mri.anchor.date == d("2025-06-20")
    assert (mri.earliest, mri.latest) == (d("2025-12-20"), d("2026-06-20"))


def test_overdue_stays_overdue_and_is_never_re_anchored() -> None:
    facts = make_facts("2027-01-01", state={"since": "2025-01-10"})
    mri = by_kind(plan_for(facts, "2027-01-01"))["mri"]
    assert mri.status is ItemStatus.OVERDUE
    assert mri.anchor.date == d("2025-01-10")
    assert mri.latest == d("2026-01-10")


@pytest.mark.parametrize(
    ("today", "status"),
    [
        ("2025-09-01", "upcoming"),
        ("2025-09-02", "due"),
        ("2026-03-02", "due"),
        ("2026-03-03", "overdue"),
    ],
)
def test_status_boundaries(today: str, status: str) -> None:
    facts = make_facts(today, completed=[{"kind": "mri", "date": "2025-03-02"}])
    assert by_kind(plan_for(facts, today))["mri"].status.value == status


def test_a_ct_satisfies_a_ct_or_mri_need() -> None:
    facts = make_facts(TODAY, tumour={"ki67": 5}, completed=[{"kind": "ct", "date": "2025-07-31"}])
    item = by_kind(plan_for(facts, TODAY))["ct_or_mri"]
    assert item.anchor.date == d("2025-07-31")
    # 3–6 months, target 4: 31 Jul + 3 months = 31 Oct; + 4 = 30 Nov (clamped); + 6 = 31 Jan.
    assert (item.earliest, item.target, item.latest) == (
        d("2025-10-31"),
        d("2025-11-30"),
        d("2026-01-31"),
    )


def test_items_done_before_the_current_episode_do_not_anchor_it() -> None:
    facts = make_facts(
        TODAY,
        tumour={"ki67": 5},
        state={"kind": "resected", "since": "2025-05-01", "resection": "R0"},
        completed=[{"kind": "ct", "date": "2025-02-01"}],
    )
    item = by_kind(plan_for(facts, TODAY))["ct_or_mri"]
    assert item.anchor == type(item.anchor)("resection", d("2025-05-01"))


@pytest.mark.parametrize(
    ("anchor", "months", "expected"),
    [
        ("2025-01-31", 1, "2025-02-28"),
        ("2024-01-31", 1, "2024-02-29"),
        ("2024-01-31", 2, "2024-03-31"),  # from the anchor, not 31 Jan + 1 + 1 = 29 Mar
        ("2024-08-31", 6, "2025-02-28"),
        ("2023-08-31", 6, "2024-02-29"),
        ("2024-02-29", 12, "2025-02-28"),
        ("2024-02-29", 48, "2028-02-29"),
    ],
)
def test_month_ends_and_leap_days(anchor: str, months: int, expected: str) -> None:
    interval = Interval(min=months, max=months, unit=Unit.MONTHS, target=months)
    assert after(d(anchor), interval).target == d(expected)


def test_leap_day_birthday_in_a_common_year() -> None:
    assert years_after(d("2008-02-29"), 5) == d("2013-02-28")
    assert years_after(d("2008-02-29"), 8) == d("2016-02-29")


def test_windows_before_a_reference_never_start_before_their_anchor() -> None:
    offset = Interval(min=2, max=4, unit=Unit.WEEKS, target=2)
    w = before(d("2025-12-22"), offset, not_before=d("2025-12-01"))
    assert (w.earliest, w.target, w.latest) == (d("2025-12-01"), d("2025-12-08"), d("2025-12-08"))


# --- Phases and stop rules -----------------------------------------------------------------------


def resected(today: str, since: str, last_ct: str | None, profile: str = "default") -> Any:
    facts = make_facts(
        today,
        tumour={"ki67": 1, "site": "small_bowel", "diagnosed_on": since},
        state={"kind": "resected", "since": since, "resection": "R0"},
        completed=[{"kind": "ct", "date": last_ct}] if last_ct else [],
    )
    return by_kind(plan_for(facts, today, profile)).get("ct_or_mri")


def test_phase_in_force_at_the_anchor_sets_the_interval() -> None:
    early = resected("2025-09-01", "2020-09-15", "2025-09-01")  # 4.96 years: 3–6 months
    late = resected("2025-09-20", "2020-09-15", "2025-09-20")  # 5.01 years: 6–12 months
    assert early is not None and early.latest == d("2026-03-01")
    assert late is not None and late.latest == d("2026-09-20")


def test_stop_after_ten_years_in_the_default_profile() -> None:
    # Years 5–10: every 6–12 months. A window opening by 2030-01-01 is still planned.
    assert resected("2029-08-01", "2020-01-01", "2029-07-01") is not None
    assert resected("2029-08-01", "2020-01-01", "2029-07-02") is None  # would open after year 10


def test_esmo_profile_is_lifelong_with_wider_intervals() -> None:
    item = resected("2031-01-01", "2020-01-01", "2030-12-01", profile="esmo-2020")
    assert item is not None
    assert (item.earliest, item.latest) == (d("2031-12-01"), d("2032-12-01"))
    first = resected("2020-02-01", "2020-01-01", None, profile="esmo-2020")
    assert first is not None and (first.earliest, first.latest) == (
        d("2020-07-01"),
        d("2021-01-01"),
    )


def test_esmo_profile_shortens_high_ki67_g2_and_drops_routine_sstr_pet() -> None:
    facts = make_facts(
        TODAY,
        tumour={"ki67": 8, "sstr": "positive"},
        state={"kind": "resected", "since": "2025-04-15", "resection": "R0"},
    )
    esmo = plan_for(facts, TODAY, "esmo-2020")
    default = plan_for(facts, TODAY)
    assert disease_rule(esmo) == "net-g2-high-ki67-resected"
    assert "sstr_pet" not in by_kind(esmo) and "sstr_pet" in by_kind(default)
    assert "cga" not in by_kind(esmo)  # ESMO: markers only when raised
    assert "cga" in by_kind(default)


# --- Add-on rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sstr", "expected"), [("positive", True), ("negative", False), ("unknown", False)]
)
def test_sstr_pet_only_for_sstr_positive_disease(sstr: str, expected: bool) -> None:
    result = plan_for(make_facts(TODAY, tumour={"sstr": sstr}), TODAY)
    assert ("sstr_pet" in by_kind(result)) is expected


def test_nec_uses_nse_unless_cga_is_raised() -> None:
    nec = {"differentiation": "poor", "ki67": 60}
    plain = by_kind(plan_for(make_facts(TODAY, tumour=nec), TODAY))
    assert {"ct_or_mri", "nse"} <= set(plain) and "cga" not in plain
    assert plain["ct_or_mri"].latest == d("2025-04-10")  # every 2–3 months from the state start
    raised = make_facts(
        TODAY, tumour=nec, markers=[{"name": "cga", "date": "2025-02-01", "value": 300, "uln": 100}]
    )
    items = by_kind(plan_for(raised, TODAY))
    assert "cga" in items and "nse" not in items


def test_carcinoid_syndrome_asks_for_5hiaa_and_an_echocardiogram() -> None:
    facts = make_facts(TODAY, tumour={"site": "small_bowel", "functional": "carcinoid_syndrome"})
    items = by_kind(plan_for(facts, TODAY))
    assert {"5hiaa", "echocardiogram"} <= set(items)
    assert items["echocardiogram"].earliest == d("2025-01-10")  # screening from the start


def test_a_raised_5hiaa_alone_also_asks_for_an_echocardiogram() -> None:
    marker = {"name": "5hiaa", "date": "2025-02-01", "value": 90, "uln": 50}
    items = by_kind(
        plan_for(make_facts(TODAY, tumour={"site": "small_bowel"}, markers=[marker]), TODAY)
    )
    assert items["echocardiogram"].rule == "raised-5hiaa-echo"


@pytest.mark.parametrize(
    ("functional", "kinds"),
    [
        ("insulinoma", {"insulin", "glucose"}),
        ("gastrinoma", {"gastrin"}),
        ("glucagonoma", {"glucagon"}),
        ("vipoma", {"vip"}),
        ("acth", {"acth"}),
    ],
)
def test_functional_syndromes_follow_their_hormone(functional: str, kinds: set[str]) -> None:
    items = by_kind(plan_for(make_facts(TODAY, tumour={"functional": functional}), TODAY))
    assert kinds <= set(items)


def test_markers_in_an_imaging_window_are_booked_on_the_imaging_date() -> None:
    facts = make_facts(
        TODAY,
        tumour={"functional": "gastrinoma", "ki67": 5},
        completed=[{"kind": "ct", "date": "2025-07-01"}, {"kind": "gastrin", "date": "2025-06-20"}],
    )
    items = by_kind(plan_for(facts, TODAY))
    ct, gastrin = items["ct_or_mri"], items["gastrin"]
    assert gastrin.target == ct.target == d("2025-11-01")
    assert (gastrin.earliest, gastrin.latest) == (d("2025-09-20"), d("2025-12-20"))  # own window
    assert "booked with the CT or MRI" in gastrin.reason


def test_ssa_injection_every_28_days_from_the_last_dose() -> None:
    ssa = {
        "kind": "ssa",
        "agent": "lanreotide",
        "started_on": "2024-06-03",
        "last_given_on": "2026-01-19",
    }
    facts = make_facts("2026-01-20", state={"kind": "advanced"}, therapies=[ssa])
    item = by_kind(plan_for(facts, "2026-01-20"))["ssa_injection"]
    assert (item.earliest, item.target, item.latest) == (
        d("2026-02-13"),
        d("2026-02-16"),
        d("2026-02-19"),
    )
    assert "carcinoid crisis" in item.reason
    stopped = make_facts(
        "2026-01-20", state={"kind": "advanced"}, therapies=[{**ssa, "ended_on": "2026-01-20"}]
    )
    assert "ssa_injection" not in by_kind(plan_for(stopped, "2026-01-20"))


def test_prrt_four_cycles_with_labs_before_each_then_imaging() -> None:
    prrt = {
        "kind": "prrt",
        "started_on": "2025-09-01",
        "cycles_given": 2,
        "last_given_on": "2025-10-27",
    }
    facts = make_facts("2025-11-01", state={"kind": "advanced"}, therapies=[prrt])
    items = by_kind(plan_for(facts, "2025-11-01"))
    cycle, labs = items["prrt_cycle"], items["labs"]
    assert (cycle.earliest, cycle.target, cycle.latest) == (
        d("2025-12-15"),
        d("2025-12-22"),
        d("2025-12-29"),
    )
    assert (labs.earliest, labs.latest) == (d("2025-11-24"), d("2025-12-08"))
    done = {**prrt, "cycles_given": 4, "last_given_on": "2025-12-22"}
    restaged = [{"kind": "ct", "date": "2025-12-20"}]  # before cycle 4
    course_done = make_facts(
        "2026-01-05", state={"kind": "advanced"}, therapies=[done], completed=restaged
    )
    after_course = by_kind(plan_for(course_done, "2026-01-05"))
    assert "prrt_cycle" not in after_course and "labs" not in after_course
    assert after_course["ct_or_mri"].rule == "prrt-course"
    assert after_course["ct_or_mri"].target == d("2026-03-22")


def test_men1_programme_is_age_gated_for_children() -> None:
    facts = make_facts(
        "2025-12-01",
        no_tumour=True,
        patient={"birth_date": "2016-05-14", "hereditary": "MEN1"},
        state={"kind": "active_surveillance", "since": "2016-05-14"},
        completed=[
            {"kind": k, "date": "2025-06-10"}
            for k in (
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
        ]
        + [{"kind": "mri", "date": "2025-06-20"}],
    )
    items = by_kind(plan_for(facts, "2025-12-01"))
    assert (items["calcium"].earliest, items["calcium"].latest) == (
        d("2026-04-10"),
        d("2026-08-10"),
    )
    assert (
        items["gastrin"].earliest == d("2036-05-14") and items["gastrin"].anchor.event == "age 20"
    )
    assert items["ct:thoracic"].earliest == d("2031-05-14")
    assert items["mri"].earliest == d("2026-04-20")


def test_men1_pituitary_and_abdominal_mri_keep_their_own_clocks() -> None:
    """The yearly abdominal MRI must not restart the three-yearly pituitary MRI (it would never
    fall due), nor a pituitary MRI stand in for the abdominal one."""
    adult = {"birth_date": "1980-02-01", "hereditary": "MEN1"}

    def mri_items(completed: list[dict[str, str]]) -> tuple[Any, Any]:
        facts = make_facts(
            "2025-12-01",
            no_tumour=True,
            patient=adult,
            state={"kind": "active_surveillance", "since": "2015-01-01"},
            completed=completed,
        )
        items = by_kind(plan_for(facts, "2025-12-01"))
        return items["mri"], items["mri:pituitary"]

    abdomen, pituitary = mri_items(
        [
            {"kind": "mri", "date": "2023-01-10", "region": "pituitary"},
            {"kind": "mri", "date": "2025-11-01"},  # this year's abdominal MRI
        ]
    )
    assert (pituitary.anchor.date, pituitary.target) == (d("2023-01-10"), d("2026-01-10"))
    assert (abdomen.anchor.date, abdomen.target) == (d("2025-11-01"), d("2026-11-01"))
    assert "pituitary" in pituitary.anchor.event and "pituitary" not in abdomen.anchor.event

    abdomen, pituitary = mri_items(
        [
            {"kind": "mri", "date": "2024-12-01"},
            {"kind": "mri", "date": "2025-11-20", "region": "pituitary"},
        ]
    )
    assert abdomen.anchor.date == d("2024-12-01") and abdomen.status is ItemStatus.DUE
    assert pituitary.target == d("2028-11-20")


@pytest.mark.parametrize(
    "override",
    [
        {"patient": {"deceased_on": "2025-08-01"}},
        {"state": {"kind": "discharged", "since": "2025-08-01"}},
    ],
)
def test_deceased_or_discharged_patients_get_nothing(override: dict[str, Any]) -> None:
    result = plan_for(make_facts(TODAY, tumour={"sstr": "positive"}, **override), TODAY)
    assert result.items == () and result.closed is not None


def test_unknown_profile_is_a_clear_error() -> None:
    with pytest.raises(InvalidInput, match="profile"):
        plan(make_facts(TODAY), shipped_pack(), "nccn-1999", d(TODAY))


def test_plan_json_follows_the_contract() -> None:
    out = plan_to_json(
        plan_for(make_facts(TODAY, completed=[{"kind": "mri", "date": "2025-03-02"}]), TODAY)
    )
    top = {"grade", "profile", "pack", "complete", "no_follow_up", "items", "triggers"}
    assert set(out) == top
    assert out["pack"] == {"id": "net-default", "version": shipped_pack().version}
    assert out["triggers"] == [] and out["grade"] == "G1"
    keys = {"kind", "region", "earliest", "target", "latest", "status", "rule", "source"}
    keys |= {"anchor", "reason"}
    assert all(set(item) == keys for item in out["items"])
    assert out["items"][0]["anchor"] == {"event": "last MRI", "date": "2025-03-02"}


# --- Properties -----------------------------------------------------------------------------------

dates = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2030, 12, 31))
KINDS = ["mri", "ct", "ct_or_mri", "cga", "nse", "sstr_pet", "5hiaa", "gastrin", "echocardiogram"]


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[dict[str, Any], dt.date]:
    since = draw(dates)
    today = since + dt.timedelta(days=draw(st.integers(0, 6000)))
    done = draw(st.lists(st.tuples(st.sampled_from(KINDS), st.integers(0, 6000)), max_size=6))
    tumour = {
        "site": draw(st.sampled_from(["pancreas", "rectum", "small_bowel", "lung", "appendix"])),
        "differentiation": draw(st.sampled_from(["well", "poor"])),
        "ki67": draw(st.floats(0, 100, allow_nan=False)),
        "functional": draw(
            st.sampled_from(["none", "carcinoid_syndrome", "insulinoma", "gastrinoma"])
        ),
        "sstr": draw(st.sampled_from(["positive", "negative", "unknown"])),
        "size_mm": draw(st.floats(1, 60, allow_nan=False)),
    }
    raw = {
        "patient": {
            "id": "H",
            "birth_date": "1950-02-28",
            "hereditary": draw(st.sampled_from(["none", "MEN1"])),
        },
        "tumour": tumour,
        "state": {
            "kind": draw(st.sampled_from(["active_surveillance", "resected", "advanced"])),
            "since": since.isoformat(),
            "resection": draw(st.sampled_from([None, "R0", "R1"])),
        },
        "completed": [
            {"kind": k, "date": min(since + dt.timedelta(days=n), today).isoformat()}
            for k, n in done
        ],
    }
    return raw, today


@settings(max_examples=150, deadline=None)
@given(scenarios(), st.sampled_from(["default", "esmo-2020"]))
def test_windows_are_ordered_anchored_and_deterministic(
    scenario: tuple[dict[str, Any], dt.date], profile: str
) -> None:
    from surveil.core.facts import parse_facts

    raw, today = scenario
    first = plan(parse_facts(raw, today=today), shipped_pack(), profile, today)
    again = plan(parse_facts(raw, today=today), shipped_pack(), profile, today)
    assert first == again
    for item in first.items:
        assert item.earliest <= item.target <= item.latest
        assert item.earliest >= item.anchor.date
        assert item.source in shipped_pack().sources
    assert first.items or first.no_follow_up is not None
