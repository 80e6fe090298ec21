"""parse_pack: typed packs from raw mappings, and every problem reported with its place."""

import copy
from typing import Any

import pytest

from surveil.core.protocol import Evidence, Schedule, Unit
from surveil.core.protocol_pack import parse_pack
from surveil.core.thresholds import Comparator
from surveil.core.vocab import Grade, ItemKind, StateKind
from surveil.errors import RuleError


def minimal() -> dict[str, Any]:
    return {
        "id": "test-pack",
        "version": "1",
        "title": "Test pack",
        "sources": {"S4": {"title": "ESMO 2020", "evidence": "S"}},
        "profiles": {
            "default": {
                "title": "Default",
                "thresholds": {"size_mm": 15, "size_comparator": ">"},
                "on_trigger": {
                    "size": {
                        "refer": "tumour_board",
                        "set_state": "advanced",
                        "imaging": {"min": 3, "max": 6, "unit": "months"},
                        "source": "S4",
                        "evidence": "S",
                    }
                },
                "rules": [
                    {
                        "id": "none-needed",
                        "title": "small rectal",
                        "group": "disease",
                        "no_follow_up": True,
                        "source": "S4",
                        "evidence": "S",
                        "when": {"site": ["rectum"], "size_under_mm": 10},
                    },
                    {
                        "id": "g1g2",
                        "title": "NET G1/G2",
                        "group": "disease",
                        "source": "S4",
                        "evidence": "S",
                        "stop": {"after_years": 10},
                        "when": {"grade": ["G1", "G2"], "state": ["resected"]},
                        "items": [
                            {
                                "kind": "ct_or_mri",
                                "source": "S4",
                                "evidence": "S",
                                "phases": [
                                    {
                                        "from_year": 0,
                                        "to_year": 5,
                                        "interval": {"min": 6, "max": 12, "unit": "months"},
                                    },
                                    {
                                        "from_year": 5,
                                        "interval": {"min": 12, "max": 24, "unit": "months"},
                                    },
                                ],
                            },
                            {"kind": "cga", "with": "ct_or_mri", "source": "S4", "evidence": "S"},
                        ],
                    },
                ],
            }
        },
    }


def test_a_valid_pack_is_typed() -> None:
    pack = parse_pack(minimal(), where="test.toml")
    profile = pack.profile()
    assert pack.default_profile == "default" and profile.name == "default"
    none_needed, g1g2 = profile.rules
    assert none_needed.no_follow_up and none_needed.eligibility.size_under_mm == 10
    assert g1g2.eligibility.grades == {Grade.G1, Grade.G2}
    assert g1g2.eligibility.states == {StateKind.RESECTED}
    imaging, marker = g1g2.items
    assert (
        imaging.phases[1].interval.unit is Unit.MONTHS and imaging.phases[1].interval.target == 18
    )
    assert imaging.phases[0].to_year == 5 and imaging.phases[1].to_year is None
    assert imaging.evidence is Evidence.SECONDARY and imaging.schedule is Schedule.REPEAT
    assert marker.with_kind is ItemKind.CT_OR_MRI and marker.phases == ()
    assert g1g2.stop is not None and g1g2.stop.after_years == 10
    assert (
        profile.thresholds.size_mm == 15 and profile.thresholds.size_comparator is Comparator.ABOVE
    )
    consequence = profile.on_trigger["size"]
    assert (
        consequence.refer is ItemKind.TUMOUR_BOARD and consequence.set_state is StateKind.ADVANCED
    )
    assert consequence.imaging is not None and consequence.imaging.max == 6


def problems_of(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(RuleError) as caught:
        parse_pack(raw, where="broken.toml")
    return [str(p) for p in caught.value.problems]


def test_every_problem_is_reported_with_its_place() -> None:
    raw = minimal()
    rules = raw["profiles"]["default"]["rules"]
    item = rules[1]["items"][0]
    item["phases"][1]["interval"] = {"min": 24, "max": 12, "unit": "months"}  # min > max
    item["colour"] = "blue"  # unknown key
    rules[1]["items"][1]["source"] = "S99"  # not in [sources]
    del rules[0]["evidence"]  # missing evidence class
    rules[1]["when"]["site"] = ["liver"]  # not a site
    raw["profiles"]["default"]["thresholds"]["growth_mm_per_year"] = -1
    found = problems_of(raw)
    at = "broken.toml: profiles.default"
    expected = [
        f"{at}.rules[1].items[0].phases[1].interval.max: 12 is below min (24)",
        f"{at}.rules[1].items[0].colour: unknown key",
        f"{at}.rules[1].items[1].source: 'S99' is not in this pack's [sources]",
        f"{at}.rules[0].evidence: is required",
        f"{at}.rules[1].when.site[0]: 'liver' is not one of",
        f"{at}.thresholds.growth_mm_per_year: -1",
    ]
    for prefix in expected:
        assert any(p.startswith(prefix) for p in found), (prefix, found)
    assert len(found) == len(expected)  # one message per mistake


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.pop("version"), "broken.toml: version: is required"),
        (lambda r: r.update(colour=1), "broken.toml: colour: unknown key"),
        (
            lambda r: r["sources"]["S4"].update(evidence="X"),
            "sources.S4.evidence: 'X' is not one of",
        ),
        (lambda r: _rule(r, 1).pop("stop"), "rules[1].stop: is required"),
        (
            lambda r: _rule(r, 1).update(stop={"lifelong": True, "after_years": 3}),
            "needs exactly one",
        ),
        (lambda r: _rule(r, 0).update(items=[]), "a no_follow_up rule asks for no items"),
        (lambda r: _rule(r, 1).update(items=[]), "rules[1].items: is required"),
        (
            lambda r: _item(r).update(interval={"min": 1, "max": 2, "unit": "years"}),
            "needs exactly one of interval or phases",
        ),
        (
            lambda r: _item(r)["phases"][1].update(from_year=6),
            "from_year: 6 leaves a gap (expected 5)",
        ),
        (
            lambda r: _item(r)["phases"][0].update(
                interval={"min": 6, "max": 12, "unit": "months", "target": 13}
            ),
            "target: 13 is outside",
        ),
        (lambda r: _item(r).update(schedule="dose"), "therapy: is required for schedule dose"),
        (lambda r: _rule(r, 1)["items"][1].update(**{"with": "mri"}), "items[1].with: no mri item"),
        (lambda r: r.update(default_profile="esmo"), "default_profile: 'esmo' is not a profile"),
        (
            lambda r: r["profiles"]["default"]["on_trigger"]["size"].update(set_state="gone"),
            "on_trigger.size.set_state",
        ),
    ],
)
def test_broken_packs(change: Any, message: str) -> None:
    raw = minimal()
    change(raw)
    found = problems_of(raw)
    assert any(message in p for p in found), found


def _rule(raw: dict[str, Any], index: int) -> dict[str, Any]:
    rule: dict[str, Any] = raw["profiles"]["default"]["rules"][index]
    return rule


def _item(raw: dict[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = _rule(raw, 1)["items"][0]
    return item


def with_child(child: dict[str, Any]) -> dict[str, Any]:
    raw = minimal()
    raw["profiles"]["child"] = {"title": "Child", "extends": "default", **child}
    return raw


def test_a_profile_extends_another_replacing_dropping_and_inserting_rules() -> None:
    new_rule = copy.deepcopy(minimal()["profiles"]["default"]["rules"][1])
    new_rule.update(id="high-risk", insert_before="g1g2", stop={"lifelong": True})
    replaced = copy.deepcopy(new_rule)
    replaced.update(id="g1g2", title="replaced")
    del replaced["insert_before"]
    pack = parse_pack(
        with_child(
            {"drop": ["none-needed"], "rules": [new_rule, replaced], "thresholds": {"size_mm": 25}}
        ),
        where="t.toml",
    )
    child = pack.profile("child")
    assert [r.id for r in child.rules] == ["high-risk", "g1g2"]
    assert child.rule("g1g2").title == "replaced"
    assert [r.id for r in pack.profile("default").rules] == ["none-needed", "g1g2"]
    # Thresholds are inherited key by key; the trigger consequences too.
    assert child.thresholds.size_mm == 25 and child.thresholds.size_comparator is Comparator.ABOVE
    assert "size" in child.on_trigger


@pytest.mark.parametrize(
    ("child", "message"),
    [
        ({"drop": ["nothing"]}, "profiles.child.drop[0]: 'nothing' is not a rule"),
        ({"extends": "ghost"}, "profiles.child.extends: 'ghost' is not a profile"),
        (
            {
                "rules": [
                    {
                        **minimal()["profiles"]["default"]["rules"][0],
                        "id": "x",
                        "insert_before": "y",
                    }
                ]
            },
            "insert_before: 'y'",
        ),
    ],
)
def test_broken_extensions(child: dict[str, Any], message: str) -> None:
    assert any(message in p for p in problems_of(with_child(child)))


def test_extension_cycles_are_reported() -> None:
    raw = with_child({})
    raw["profiles"]["default"]["extends"] = "child"
    assert any("cycle" in p for p in problems_of(raw))
