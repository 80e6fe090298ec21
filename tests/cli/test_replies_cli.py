"""``surveil replies ...`` for real (both backends): texts from unknown numbers listed, matched to
a patient or dismissed, and a patient's reply marked handled, each with its audit rows; refusals
exit 2 and write nothing."""

import datetime as dt
import json

from surveil.db.engine import make_engine
from surveil.services.reminders.replies import receive_sms
from tests.cli.conftest import Invoke
from tests.cli.test_one_way_in_records_shells import Audit, enrol, nurse, refused, run
from tests.cli.test_trigger_decisions_cli import audit  # the watcher, after the acting nurse

__all__ = ["audit"]

SHELL_COVERED = frozenset({"replies handled", "replies match", "replies dismiss"})
NOT_AUDITED = {
    "replies unknown": "like the worklist table: a view of the day's work, not an export",
}
NOW = dt.datetime(2026, 12, 5, 9, 0, tzinfo=dt.UTC)


def text_in(db_url: str, message_id: str, text: str) -> None:
    engine = make_engine(db_url)
    receive_sms(engine, message_id=message_id, sender="+15550100999", text=text, now=NOW)
    engine.dispose()


def test_texts_from_unknown_numbers_are_matched_dismissed_and_handled(
    surveil_cli: Invoke, audit: Audit, db_url: str
) -> None:
    cli = surveil_cli
    pid = enrol(cli, audit)
    text_in(db_url, "SM1", "it's Ann, new phone, please ring me")
    text_in(db_url, "SM2", "wrong number?")
    audit.new()
    listed = json.loads(run(cli, audit, "replies", "unknown", "--json", expect=[]))
    assert [(r["from"], r["kind"]) for r in listed] == [("+15550100999", "unrecognised")] * 2
    first, second = (str(r["id"]) for r in listed)
    assert "2 waiting" in run(cli, audit, "replies", "unknown", expect=[])

    refused(cli, audit, "replies", "match", first, "--mrn", " ")
    refused(cli, audit, "replies", "dismiss", second, "--note", " ")
    run(
        cli, audit, "replies", "match", first, "--mrn", "100",
        expect=[nurse("reply.matched", pid), nurse("reply.unrecognised", pid)],
    )  # fmt: skip
    run(
        cli, audit, "replies", "dismiss", second, "--note", "wrong number",
        expect=[nurse("reply.dismissed", None)],
    )  # fmt: skip
    assert json.loads(run(cli, audit, "replies", "unknown", "--json", expect=[])) == []
    # The matched text is now the patient's reply, closed like any other.
    run(
        cli, audit, "replies", "handled", first, "--note", "rang her back, new number noted",
        expect=[nurse("reply.handled", pid)],
    )  # fmt: skip
    refused(cli, audit, "replies", "handled", first, "--note", "again")


def test_help_shows_examples(surveil_cli: Invoke) -> None:
    result = surveil_cli("replies", "--help")
    assert result.exit_code == 0
    assert "surveil replies match 9 --mrn 100234" in result.output
