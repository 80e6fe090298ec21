"""``[reasons]`` and ``[bookings]`` (issue 14): the lists are codes, "other" always last, and a
bad code or grace is refused at load with the key named."""

from pathlib import Path

import pytest

from surveil.config import load_settings
from surveil.config_rules import reason_codes
from surveil.errors import ConfigError


def test_a_list_is_its_codes_with_other_last_once() -> None:
    assert reason_codes("other, no_slot,patient_choice , no_slot") == (
        "no_slot",
        "patient_choice",
        "other",
    )


def test_bad_codes_and_grace_are_refused_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        '[reasons]\ndeclined = "Patient Choice, ok_code"\n[bookings]\nno_result_grace_days = 400\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as refused:
        load_settings(config, environ={})
    fields = {p.field for p in refused.value.problems}
    assert fields == {"reasons.declined", "bookings.no_result_grace_days"}
    assert "'Patient Choice'" in str(refused.value)


def test_the_environment_sets_a_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no surveil.toml here
    settings = load_settings(
        None,
        environ={"SURVEIL_REASONS_SNOOZED": "on_holiday, other"},
    )
    assert reason_codes(settings.reasons.snoozed) == ("on_holiday", "other")
