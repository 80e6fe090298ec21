"""Reading schedules/*.toml: every shipped pack loads; broken files are reported in full."""

from pathlib import Path

import pytest

from surveil.errors import RuleError
from surveil.resources import resource_dir
from surveil.schedules import check_schedules, get_profile, load_packs, pack_files

SHIPPED = pack_files()


def test_there_are_shipped_packs() -> None:
    assert [p.name for p in SHIPPED] == ["net-default.toml"] or len(SHIPPED) > 1


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_pack_loads_and_cites_every_item(path: Path, tmp_path: Path) -> None:
    (tmp_path / path.name).write_bytes(path.read_bytes())
    assert check_schedules(tmp_path) == []
    for pack in load_packs(tmp_path).values():
        for profile in pack.profiles.values():
            assert profile.rules
            for rule in profile.rules:
                assert rule.source in pack.sources
                assert rule.no_follow_up or rule.stop is not None
                for item in rule.items:
                    assert item.source in pack.sources and item.evidence


def test_the_default_profile_has_an_explicit_no_follow_up_rule() -> None:
    profile = load_packs()["net-default"].profile("default")
    verdicts = [r for r in profile.rules if r.no_follow_up]
    assert {r.id for r in verdicts} >= {"rectal-small-no-follow-up", "appendix-small-no-follow-up"}
    assert all(r.reason for r in verdicts)


BROKEN = """
id = "broken"
version = "1"
title = "Broken"
[sources]
S4 = { title = "ESMO", evidence = "S" }
[profiles.default]
title = "Default"
[[profiles.default.rules]]
id = "r"
title = "rule"
source = "S4"
evidence = "S"
stop = { lifelong = true }
[[profiles.default.rules.items]]
kind = "mri"
interval = { min = 12, max = 6, unit = "months" }
source = "S5"
evidence = "S"
colour = "red"
"""


def test_a_broken_pack_lists_all_its_problems_with_file_and_place(tmp_path: Path) -> None:
    (tmp_path / "broken.toml").write_text(BROKEN, encoding="utf-8")
    (tmp_path / "not-toml.toml").write_text("id = ", encoding="utf-8")
    found = [str(p) for p in check_schedules(tmp_path)]
    at = "broken.toml: profiles.default.rules[0].items[0]"
    assert f"{at}.interval.max: 6 is below min (12)" in found
    assert f"{at}.source: 'S5' is not in this pack's [sources]" in found
    assert any(p.startswith(f"{at}.colour: unknown key") for p in found)
    assert any(p.startswith("not-toml.toml: not valid TOML") for p in found)
    assert len(found) == 4
    with pytest.raises(RuleError) as caught:
        load_packs(tmp_path)
    assert len(caught.value.problems) == 4


def test_an_empty_folder_is_a_problem(tmp_path: Path) -> None:
    assert "holds no *.toml pack" in str(check_schedules(tmp_path)[0])


def test_duplicate_pack_ids_are_refused(tmp_path: Path) -> None:
    shipped = resource_dir("schedules") / "net-default.toml"
    for name in ("a.toml", "b.toml"):
        (tmp_path / name).write_bytes(shipped.read_bytes())
    assert [str(p) for p in check_schedules(tmp_path)] == [
        "b.toml: id: pack id 'net-default' is used twice"
    ]


@pytest.mark.parametrize(
    ("name", "profile"),
    [
        (None, "default"),
        ("default", "default"),
        ("esmo-2020", "esmo-2020"),
        ("net-default:esmo-2020", "esmo-2020"),
    ],
)
def test_get_profile(name: str | None, profile: str) -> None:
    pack, found = get_profile(load_packs(), name)
    assert pack.id == "net-default" and found.name == profile


def test_get_profile_names_the_known_profiles_when_wrong() -> None:
    with pytest.raises(RuleError, match="net-default:esmo-2020"):
        get_profile(load_packs(), "nccn")
