"""The record-keeping commands run for real (click's runner, both backends): ``result strike``,
``result correct``, ``dose add`` and ``outreach add`` leave their audit rows by the CLI user on
channel ``cli`` with the OS account; bad input exits 2 and writes nothing."""

import sqlalchemy as sa
from sqlmodel import Session, select

from surveil.db import models as m
from tests.cli.conftest import Invoke
from tests.cli.test_one_way_in_records_shells import (
    Audit,
    audit,  # noqa: F401 - the fixture
    enrol,
    nurse,
    refused,
    run,
    system,
)

SHELL_COVERED: frozenset[str] = frozenset(
    {"result list", "result strike", "result correct", "dose add", "outreach add"}
)


def _newest(engine: sa.Engine, model: type) -> int:
    with Session(engine) as session:
        return int(session.exec(select(sa.func.max(model.id))).one())


def test_strike_correct_dose_and_outreach_from_the_terminal(
    surveil_cli: Invoke,
    audit: Audit,  # noqa: F811 - the fixture
) -> None:
    cli = surveil_cli
    pid = enrol(cli, audit)
    run(
        cli, audit, "measurement", "add", "100", "--lesion", "L1", "--date", "2025-03-02",
        "--mm", "12", expect=[nurse("measurement.recorded", pid)],
    )  # fmt: skip
    run(
        cli, audit, "measurement", "add", "100", "--lesion", "L1", "--date", "2025-11-20",
        "--mm", "18",
        expect=[
            nurse("measurement.recorded", pid),
            system("trigger.fired", pid),  # leaving surveillance is only proposed (issue 14)
        ],
    )  # fmt: skip
    wrong = _newest(audit.engine, m.Measurement)
    listed = run(cli, audit, "result", "list", "100", expect=[nurse("results.viewed", pid)])
    assert f"measurement {wrong}: 2025-11-20 L1 18 mm (mri)" in listed
    refused(cli, audit, "result", "correct", "100", "--measurement", str(wrong), "--mm", "-1",
            "--reason", "typo")  # fmt: skip
    refused(cli, audit, "result", "strike", "100", "--reason", "no id given")
    out = run(
        cli, audit, "result", "correct", "100", "--measurement", str(wrong), "--mm", "12.4",
        "--reason", "typed 18 for 12.4",
        expect=[
            nurse("measurement.struck_out", pid),
            nurse("measurement.recorded", pid),
            nurse("measurement.corrected", pid),
            system("trigger.withdrawn", pid),  # and its proposals declined with it
        ],
    )  # fmt: skip
    assert "corrected to L1 12.4 mm" in out
    run(
        cli, audit, "marker", "add", "100", "--name", "cga", "--value", "50", "--date",
        "2025-12-01", expect=[nurse("marker.recorded", pid)],
    )  # fmt: skip
    marker = _newest(audit.engine, m.MarkerResult)
    run(
        cli, audit, "result", "strike", "100", "--marker", str(marker), "--reason", "haemolysed",
        expect=[nurse("marker.struck_out", pid)],
    )  # fmt: skip
    run(
        cli, audit, "therapy", "add", "100", "--kind", "ssa", "--started-on", "2026-01-05",
        expect=[nurse("therapy.recorded", pid), system("trigger.fired", pid)],  # SSA overdue
    )  # fmt: skip
    therapy = _newest(audit.engine, m.Therapy)
    refused(cli, audit, "dose", "add", "100", "--therapy", str(therapy), "--given-on", "2025-01-01")
    run(
        cli, audit, "dose", "add", "100", "--therapy", str(therapy), "--given-on", "2026-02-02",
        expect=[nurse("therapy.dose_given", pid)],
    )  # fmt: skip
    refused(cli, audit, "outreach", "add", "100", "--channel", "fax", "--result", "gone")
    out = run(
        cli, audit, "outreach", "add", "100", "--channel", "letter", "--result", "no_answer",
        expect=[nurse("outreach.recorded", pid)],
    )  # fmt: skip
    assert "recorded letter: no answer" in out
