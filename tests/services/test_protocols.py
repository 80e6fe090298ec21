"""The clinic's protocol: the pack and profile the settings name, or a refusal with the choices."""

from pathlib import Path

import pytest

from surveil.config import ClinicSettings, PathSettings, Settings
from surveil.errors import ConfigError, Problem
from surveil.resources import resource_dir
from surveil.services.protocols import active_profile, check_clinic_protocol


def clinic(pack: str = "net-default", profile: str = "default", **paths: Path) -> Settings:
    return Settings(clinic=ClinicSettings(pack=pack, profile=profile), paths=PathSettings(**paths))


def refusal(settings: Settings) -> Problem:
    with pytest.raises(ConfigError) as caught:
        check_clinic_protocol(settings)
    [problem] = caught.value.problems
    return problem


@pytest.mark.parametrize("profile", ["default", "esmo-2020", "net-default:esmo-2020"])
def test_the_profile_is_found_by_its_name_or_by_pack_and_name(profile: str) -> None:
    check_clinic_protocol(clinic(profile=profile))
    pack, found = active_profile(clinic(profile=profile))
    assert (pack.id, found.name) == ("net-default", profile.rpartition(":")[2])


def test_an_unknown_pack_is_refused_naming_the_key_the_value_and_the_packs() -> None:
    problem = refusal(clinic(pack="nccn-2024"))
    assert problem.field == "clinic.pack"
    assert problem.message == "'nccn-2024' is not a protocol pack (available: net-default)"


def test_an_unknown_profile_is_refused_naming_the_profiles_of_the_pack() -> None:
    problem = refusal(clinic(profile="nccn"))
    assert problem.field == "clinic.profile"
    assert problem.message == (
        "'nccn' is not a profile of pack 'net-default' (available: default, esmo-2020)"
    )


def test_a_profile_of_another_pack_is_refused() -> None:
    assert refusal(clinic(profile="enets-2023:default")).field == "clinic.profile"


def test_the_choices_come_from_the_configured_schedules_folder(tmp_path: Path) -> None:
    shipped = (resource_dir("schedules") / "net-default.toml").read_text(encoding="utf-8")
    local = shipped.replace('id = "net-default"', 'id = "st-elsewhere"', 1)
    (tmp_path / "st-elsewhere.toml").write_text(local, encoding="utf-8")
    problem = refusal(clinic(schedules=tmp_path))
    assert problem.message == "'net-default' is not a protocol pack (available: st-elsewhere)"
    pack, _ = active_profile(clinic(pack="st-elsewhere", schedules=tmp_path))
    assert pack.id == "st-elsewhere"
