"""A routine ``replan --all`` skips the patients whose inputs have not changed (``memo``), on
SQLite and PostgreSQL. Every change below goes straight into the tables, past every service, as
an import or a hand-made fix could: nothing but the database's own triggers tells the memo that
something changed. After each routine run, a ``--full`` run must find nothing left to change: the
skipping lost nothing."""

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.config import Settings
from surveil.core.vocab import Channel
from surveil.db import models as m
from surveil.demo import generate as demo
from surveil.schedules import pack_files
from surveil.services import protocols
from surveil.services.actor import Actor
from surveil.services.planning import memo
from surveil.services.planning.plans import ReplanResult
from surveil.services.planning.replan import replan_every_patient

TODAY = dt.date(2026, 12, 5)
PATIENTS = 60
ADMIN = Actor.system(channel=Channel.CLI)


@pytest.fixture
def planned(engine: sa.Engine, settings: Settings) -> sa.Engine:
    """A demo registry planned, then replanned once: every patient whose plan is stable has
    its memo stored."""
    demo.generate_demo(
        engine,
        patients=PATIENTS,
        seed=5,
        clinic="Neuroendocrine Tumour Clinic",
        timezone="Europe/London",
        today=TODAY,
        now=dt.datetime(2026, 12, 5, 12, tzinfo=dt.UTC),
    )
    _replan(engine, settings)
    _replan(engine, settings)
    return engine


def _replan(
    engine: sa.Engine, settings: Settings, today: dt.date = TODAY, *, full: bool = False
) -> ReplanResult:
    return replan_every_patient(engine, actor=ADMIN, settings=settings, today=today, full=full)


def _nothing_left_to_change(engine: sa.Engine, settings: Settings, today: dt.date) -> None:
    result = _replan(engine, settings, today, full=True)
    assert (result.created, result.superseded, result.skipped) == (0, 0, 0)


def _memo(engine: sa.Engine) -> dict[int, m.PlanMemo]:
    with Session(engine) as session:
        return {row.patient_id: row for row in session.exec(select(m.PlanMemo))}


def test_a_second_routine_run_skips_every_stable_patient(
    planned: sa.Engine, settings: Settings
) -> None:
    stored = _memo(planned)
    assert len(stored) > PATIENTS * 0.8  # the few left out have a paused plan or changed
    result = _replan(planned, settings)
    assert result.skipped == len(stored) and result.patients == PATIENTS
    assert (result.created, result.superseded) == (0, 0)
    with Session(planned) as session:
        run = session.exec(
            select(m.AuditEvent)
            .where(m.AuditEvent.action == "plan.replanned_all")
            .order_by(col(m.AuditEvent.id).desc())
        ).first()
    assert run is not None and run.after is not None
    assert json.loads(run.after)["skipped"] == len(stored)
    full = _replan(planned, settings, full=True)
    assert full.skipped == 0 and full.kept == result.kept  # the same count, kept or derived
    _nothing_left_to_change(planned, settings, TODAY)


def _patient_with_a_memo(engine: sa.Engine, *, with_items: bool = True) -> int:
    with Session(engine) as session:
        ids = set(_memo(engine))
        rows = session.exec(
            select(m.FollowUpItem.patient_id).where(m.FollowUpItem.state == m.ItemState.PLANNED)
        ).all()
        candidates = sorted(ids & set(rows)) if with_items else sorted(ids)
    return candidates[0]


def _add_marker(session: Session, pid: int) -> None:
    session.add(m.MarkerResult(patient_id=pid, name="cga", value=900.0, uln=100.0, date=TODAY))


def _end_state(session: Session, pid: int) -> None:
    state = session.exec(
        select(m.DiseaseState).where(
            m.DiseaseState.patient_id == pid, col(m.DiseaseState.end_date).is_(None)
        )
    ).first()
    session.add(
        m.DiseaseState(patient_id=pid, kind="discharged", start_date=TODAY, reason="moved away")
    )
    if state is not None:
        state.end_date = TODAY
        session.add(state)


def _override(session: Session, pid: int) -> None:
    item = session.exec(
        select(m.FollowUpItem).where(
            m.FollowUpItem.patient_id == pid, m.FollowUpItem.state == m.ItemState.PLANNED
        )
    ).first()
    assert item is not None
    session.add(
        m.PlanOverride(
            patient_id=pid, kind=item.kind, interval_min=2, interval_max=3,
            interval_unit="months", reason="clinician's choice", author="dr",
        )
    )  # fmt: skip


def _cancel_an_item(session: Session, pid: int) -> None:
    item = session.exec(
        select(m.FollowUpItem).where(
            m.FollowUpItem.patient_id == pid, m.FollowUpItem.state == m.ItemState.PLANNED
        )
    ).first()
    assert item is not None
    item.state = m.ItemState.CANCELLED
    session.add(item)


def _born_earlier(session: Session, pid: int) -> None:
    patient = session.get_one(m.Patient, pid)
    patient.birth_date = patient.birth_date - dt.timedelta(days=3650)
    session.add(patient)


def _new_trigger(session: Session, pid: int) -> None:
    session.add(
        m.Trigger(
            patient_id=pid, kind="marker_rise", subject_key="marker_rise:cga",
            fingerprint="marker_rise:cga:2026-12-01", detected_on=dt.date(2026, 12, 1),
            explanation="entered by hand",
        )
    )  # fmt: skip


CHANGES: dict[str, Callable[[Session, int], None]] = {
    "a marker result": _add_marker,
    "a discharge": _end_state,
    "an override": _override,
    "an item cancelled": _cancel_an_item,
    "the birth date": _born_earlier,
    "a trigger": _new_trigger,
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_any_change_to_an_input_plans_that_patient_again(
    planned: sa.Engine, settings: Settings, change: str
) -> None:
    before = _replan(planned, settings)
    pid = _patient_with_a_memo(planned)
    with Session(planned) as session:
        CHANGES[change](session, pid)
        session.commit()
    after = _replan(planned, settings)
    assert after.skipped == before.skipped - 1
    # The routine run did all a full derivation would: nothing is left for one to change.
    _nothing_left_to_change(planned, settings, TODAY)


def test_a_day_outside_the_stored_span_plans_again(planned: sa.Engine, settings: Settings) -> None:
    stored = _memo(planned)
    pid = min(stored, key=lambda p: stored[p].holds_until)
    first = stored[pid].holds_until
    assert first > TODAY
    on_the_day = _replan(planned, settings, first)
    assert on_the_day.skipped < len(stored)
    assert _memo(planned)[pid].checked_on == first  # derived again, and stored from that day
    _nothing_left_to_change(planned, settings, first)
    # A run dated before the stored span (a backdated run) derives everything it covers.
    earlier = _replan(planned, settings, first - dt.timedelta(days=1))
    assert earlier.skipped < len(stored)


def test_the_span_never_exceeds_four_weeks(planned: sa.Engine) -> None:
    for row in _memo(planned).values():
        assert row.checked_on < row.holds_until <= row.checked_on + memo.MAX_SPAN


def test_an_ssa_injection_falling_overdue_fires_on_its_day(
    planned: sa.Engine, settings: Settings
) -> None:
    """Nothing in the inputs changes, only the day: the SSA alert still comes on its day (the
    default thresholds: an injection every 28 days, 3 days' grace)."""
    pid = _patient_with_a_memo(planned)
    last_given = dt.date(2026, 11, 20)
    with Session(planned) as session:
        for therapy in session.exec(select(m.Therapy).where(m.Therapy.patient_id == pid)):
            session.delete(therapy)
        session.add(
            m.Therapy(
                patient_id=pid, kind="ssa", agent="lanreotide", started_on=dt.date(2025, 1, 10),
                last_given_on=last_given,
            )
        )  # fmt: skip
        session.commit()
    alert = last_given + dt.timedelta(days=28 + 3 + 1)
    _replan(planned, settings)  # derived: the therapy changed, and its doses are planned
    _replan(planned, settings)  # derived again, nothing to write: stored as stable
    assert _memo(planned)[pid].holds_until <= alert
    day = TODAY
    while day < alert - dt.timedelta(days=1):
        day += dt.timedelta(days=1)
        _replan(planned, settings, day)
        assert _ssa_alerts(planned, pid) == []
    assert _replan(planned, settings, alert).skipped > 0  # the others are still skipped
    assert _ssa_alerts(planned, pid) == [alert]


def _ssa_alerts(engine: sa.Engine, pid: int) -> list[dt.date]:
    with Session(engine) as session:
        found = session.exec(
            select(m.Trigger).where(m.Trigger.patient_id == pid, m.Trigger.kind == "ssa_overdue")
        )
        return [trigger.detected_on for trigger in found]


def test_an_edited_protocol_file_changes_the_run_key(tmp_path: Path) -> None:
    folder = tmp_path / "schedules"
    folder.mkdir()
    for path in pack_files(None):
        (folder / path.name).write_bytes(path.read_bytes())
    before = protocols.packs_digest(folder)
    first = sorted(folder.glob("*.toml"))[0]
    first.write_text(first.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert protocols.packs_digest(folder) == before  # what this process read and plans with
    protocols._loaded.cache_clear()  # as a process started after the edit
    assert protocols.packs_digest(folder) != before


def test_code_changed_under_the_process_is_never_trusted(monkeypatch: pytest.MonkeyPatch) -> None:
    """An upgrade installed under a running daemon: its memos must match no other process's."""
    honest = memo._code_digest.__wrapped__()
    assert honest == memo._code_digest.__wrapped__() and len(honest) == 32
    path, size, mtime = memo._SOURCES_AT_IMPORT[0]
    monkeypatch.setattr(memo, "_SOURCES_AT_IMPORT", [(path, size, mtime - 1)])
    assert memo._code_digest.__wrapped__().startswith("changed under process")
    monkeypatch.setattr(memo, "_SOURCES_AT_IMPORT", [])
    monkeypatch.setattr(memo, "_IMPORTED_AT_NS", 0)  # every file newer than the import
    assert memo._code_digest.__wrapped__().startswith("changed under process")


def test_another_process_finds_the_same_run_key(planned: sa.Engine, db_url: str) -> None:
    """The run key is bytes of the protocol files and the source, not of this process: another
    interpreter (its own string hashing, its own objects) skips exactly the patients stored
    here."""
    stored = len(_memo(planned))
    script = (
        "import datetime as dt, sys\n"
        "from surveil.config import DatabaseSettings, Settings\n"
        "from surveil.core.vocab import Channel\n"
        "from surveil.db.engine import make_engine\n"
        "from surveil.services.actor import Actor\n"
        "from surveil.services.planning.replan import replan_every_patient\n"
        "url = sys.argv[1]\n"
        "result = replan_every_patient(make_engine(url), actor=Actor.system(channel=Channel.CLI),"
        " settings=Settings(database=DatabaseSettings(url=url)), today=dt.date(2026, 12, 5))\n"
        "print(result.skipped)\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "random"}
    out = subprocess.run(
        [sys.executable, "-c", script, db_url], capture_output=True, text=True, env=env, check=True
    )
    assert int(out.stdout.split()[-1]) == stored
