"""What ``create_app`` does before the first request: refuse a clinic protocol that does not exist,
and make the unknown-user password hash (which importing surveil no longer does)."""

import dataclasses
import subprocess
import sys

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from surveil.config import Settings
from surveil.errors import ConfigError
from surveil.services.users import accounts
from surveil.web.app import create_app
from tests.web.conftest import BASE


@pytest.mark.parametrize(
    ("key", "value"), [("pack", "nccn-2024"), ("profile", "enets")], ids=["pack", "profile"]
)
def test_create_app_refuses_an_unknown_pack_or_profile(
    web_settings: Settings, web_engine: sa.Engine, key: str, value: str
) -> None:
    clinic = dataclasses.replace(web_settings.clinic, **{key: value})
    with pytest.raises(ConfigError) as caught:
        create_app(dataclasses.replace(web_settings, clinic=clinic), engine=web_engine)
    [problem] = caught.value.problems
    assert problem.field == f"clinic.{key}"
    assert f"'{value}'" in problem.message and "(available: " in problem.message


def test_the_unknown_user_hash_is_made_when_the_app_starts_not_at_import(
    web_settings: Settings, web_engine: sa.Engine
) -> None:
    imported = subprocess.run(
        [sys.executable, "-c",
         "import surveil.cli.users, surveil.services.users.accounts as a; "
         "print(a._dummy_hash.cache_info().currsize)"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert imported.stdout.strip() == "0"
    accounts._dummy_hash.cache_clear()
    with TestClient(create_app(web_settings, engine=web_engine), base_url=BASE):
        assert accounts._dummy_hash.cache_info().currsize == 1
