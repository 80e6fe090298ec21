"""``surveil patient purge-merge GONE`` for real (both backends): an administrator makes a merge
final (audited), after which ``surveil patient unmerge`` is refused with exit 2 and nothing
written; a navigator cannot purge."""

import getpass
from collections.abc import Iterator

import pytest

from tests.cli.conftest import SMALL_PNET, Invoke, add_cli_user
from tests.cli.test_one_way_in_records_shells import Audit, refused

SHELL_COVERED: frozenset[str] = frozenset({"patient purge-merge"})
NOT_AUDITED: dict[str, str] = {}


@pytest.fixture
def audit(
    db_url: str,
    cli_user: str,  # noqa: ARG001 - the acting navigator exists before the watcher starts
) -> Iterator[Audit]:
    watcher = Audit(db_url)
    yield watcher
    watcher.engine.dispose()


def test_an_administrator_makes_a_merge_final_and_unmerge_is_refused(
    surveil_cli: Invoke, audit: Audit, db_url: str
) -> None:
    cli = surveil_cli
    add_cli_user(db_url, "root", role="admin")
    for mrn in ("100", "101"):
        args = [mrn if a == "100" else a for a in SMALL_PNET]
        assert cli("patient", "add", *args).exit_code == 0
    keep = audit.patient_id("100")
    assert cli("--as", "root", "patient", "merge", "100", "101").exit_code == 0
    audit.new()

    refused(cli, audit, "patient", "purge-merge", "101")
    result = cli("--as", "root", "patient", "purge-merge", "101", "--reason", "checked")
    assert result.exit_code == 0, result.output
    assert "can no longer be unmerged" in result.output
    rows = [(r.action, r.actor, r.os_user, r.patient_id) for r in audit.new()]
    assert rows == [("patient.merge_purged", "root", getpass.getuser(), keep)]

    result = cli("--as", "root", "patient", "unmerge", "101")
    assert result.exit_code == 2 and "cannot be undone" in result.output
    assert audit.new() == []
    assert "Example:" in cli("patient", "purge-merge", "--help").output
