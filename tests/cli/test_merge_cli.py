"""``surveil patient merge KEEP GONE`` and ``surveil patient unmerge GONE`` for real (both
backends): an administrator's merge and unmerge leave their audit rows (and surveil's stop of
GONE's plan); a navigator is refused with exit 2 and nothing written."""

import getpass
from collections.abc import Iterator

import pytest
from sqlmodel import Session, col, select

from surveil.db import models as m
from tests.cli.conftest import SMALL_PNET, Invoke, add_cli_user
from tests.cli.test_one_way_in_records_shells import Audit, refused

SHELL_COVERED: frozenset[str] = frozenset({"patient merge", "patient unmerge"})
NOT_AUDITED: dict[str, str] = {}


@pytest.fixture
def audit(
    db_url: str,
    cli_user: str,  # noqa: ARG001 - the acting navigator exists before the watcher starts
) -> Iterator[Audit]:
    watcher = Audit(db_url)
    yield watcher
    watcher.engine.dispose()


def _open_items(watcher: Audit, patient: int) -> int:
    with Session(watcher.engine) as session:
        open_states = [s.value for s in m.OPEN_ITEM_STATES]
        rows = session.exec(
            select(m.FollowUpItem).where(
                m.FollowUpItem.patient_id == patient, col(m.FollowUpItem.state).in_(open_states)
            )
        ).all()
        return len(rows)


def test_an_administrator_merges_and_unmerges_and_a_navigator_cannot(
    surveil_cli: Invoke,
    audit: Audit,
    db_url: str,
) -> None:
    cli = surveil_cli
    add_cli_user(db_url, "root", role="admin")
    for mrn in ("100", "101"):
        args = [mrn if a == "100" else a for a in SMALL_PNET]
        assert cli("patient", "add", *args).exit_code == 0
    keep, gone = audit.patient_id("100"), audit.patient_id("101")
    audit.new()

    refused(cli, audit, "patient", "merge", "100", "101")
    result = cli("--as", "root", "patient", "merge", "100", "101", "--reason", "duplicate")
    assert result.exit_code == 0, result.output
    me = getpass.getuser()
    rows = [(r.action, r.actor, r.os_user, r.patient_id) for r in audit.new()]
    assert rows[0] == ("patient.merged", "root", me, keep)
    assert ("plan.stopped", "system", None, gone) in rows
    assert _open_items(audit, gone) == 0 and _open_items(audit, keep) > 0

    refused(cli, audit, "patient", "unmerge", "101")
    result = cli("--as", "root", "patient", "unmerge", "101", "--reason", "two people")
    assert result.exit_code == 0, result.output
    rows = [(r.action, r.actor, r.os_user, r.patient_id) for r in audit.new()]
    assert rows[0] == ("patient.unmerged", "root", me, gone)
    assert _open_items(audit, gone) > 0
    assert "Example:" in cli("patient", "merge", "--help").output
