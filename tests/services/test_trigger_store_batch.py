"""New triggers stored in bulk (``triggers.escalation``: a statement per table for a whole batch)
leave the same rows as storing them one patient at a time: the triggers, their tumour-board and
ordered items, their consequences (some applied on open, a patient moved off surveillance), the
disease states and the audit events, compared without ids and timestamps, on both backends."""

import dataclasses
import datetime as dt
import re
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from surveil.config import Settings
from surveil.core.vocab import Channel
from surveil.db import models as m
from surveil.demo import generate as demo
from surveil.resources import resource_dir
from surveil.services.planning.care import refresh_patients

TODAY = dt.date(2026, 6, 1)
NOW = dt.datetime(2026, 6, 1, 8, 30, tzinfo=dt.UTC)
CLINIC = "Neuroendocrine Tumour Clinic"
TIMESTAMPS = re.compile(r"(^at$|_at$)")


def _leaving_on_open(settings: Settings, folder: Path) -> Settings:
    """The shipped pack, every consequence applied as soon as its trigger fires, and growth or
    size ordering an SSTR PET too (the shipped pack orders one after a rare marker rise)."""
    pack = (resource_dir("schedules", None) / "net-default.toml").read_text(encoding="utf-8")
    confirm = 'apply = { set_state = "on_confirm", imaging = "on_open" }'
    assert pack.count(confirm) == 2
    pack = pack.replace(confirm, 'apply = "on_open"\norder = ["sstr_pet"]')
    (folder / "net-default.toml").write_text(pack, "utf-8")
    paths = dataclasses.replace(settings.paths, schedules=folder)
    return dataclasses.replace(settings, paths=paths)


def _rows(session: Session, model: Any) -> list[dict[str, Any]]:
    table = model.__table__
    return [dict(r._mapping) for r in session.execute(sa.select(table).order_by(table.c.id))]


def _without_ids(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Every row the refresh can write, its ids and id references replaced by what they name
    (a trigger by its fingerprint, an item by its kind and rule, a disease state by its kind)."""
    triggers = {t["id"]: f"{t['patient_id']}/{t['fingerprint']}" for t in _rows(session, m.Trigger)}
    states = {s["id"]: f"{s['patient_id']}/{s['kind']}" for s in _rows(session, m.DiseaseState)}

    def named(text: Any) -> Any:
        if not isinstance(text, str):
            return text
        text = re.sub(r"trigger #(\d+)", lambda g: f"trigger {triggers[int(g[1])]}", text)
        text = re.sub(r"trigger:(\d+)", lambda g: f"trigger:{triggers[int(g[1])]}", text)
        return re.sub(r"state:(\d+)", lambda g: f"state:{states[int(g[1])]}", text)

    items = {i["id"]: f"{i['kind']}/{named(i['rule_id'])}" for i in _rows(session, m.FollowUpItem)}
    refs = {
        "trigger_id": triggers,
        "item_id": items,
        "superseded_by_id": items,
        "state_id": states,
        "ended_state_id": states,
    }
    out: dict[str, list[tuple[Any, ...]]] = {}
    for model in (m.Trigger, m.FollowUpItem, m.TriggerConsequence, m.DiseaseState, m.AuditEvent):
        out[model.__name__] = sorted(
            (
                tuple(
                    (name, refs[name].get(v) if name in refs else named(v))
                    for name, v in row.items()
                    if name != "id" and not TIMESTAMPS.search(name)
                )
                for row in _rows(session, model)
            ),
            key=repr,
        )
    return out


def _ids_as_if_new(engine: sa.Engine) -> None:
    """PostgreSQL's sequences do not roll back: each run starts from the same ids, as SQLite's
    do (a trigger's id is in its items' reasons, cut at 500 characters)."""
    if engine.dialect.name != "postgresql":
        return
    with engine.begin() as connection:
        for name in ("trigger", "followup_item", "trigger_consequence", "diseasestate"):
            connection.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('\"{name}\"', 'id'),"
                f' coalesce(max(id), 0) + 1, false) FROM "{name}"'
            )


def test_a_batch_stores_what_one_patient_at_a_time_stores(
    engine: sa.Engine, settings: Settings, tmp_path: Path
) -> None:
    demo.generate_demo(
        engine, patients=120, seed=11, clinic=CLINIC, timezone="Europe/London", today=TODAY,
        now=NOW,
    )  # fmt: skip
    settings = _leaving_on_open(settings, tmp_path)

    def planned(one_at_a_time: bool) -> dict[str, list[tuple[Any, ...]]]:
        _ids_as_if_new(engine)
        with Session(engine) as session:
            patients = list(session.exec(select(m.Patient).order_by(col(m.Patient.id))))
            batches = [[p] for p in patients] if one_at_a_time else [patients]
            for batch in batches:
                refresh_patients(
                    session, patients=batch, settings=settings, today=TODAY, channel=Channel.CLI
                )
            session.flush()
            rows = _without_ids(session)
            session.rollback()
            return rows

    together, alone = planned(one_at_a_time=False), planned(one_at_a_time=True)
    assert together == alone
    # The case covers every kind of row the store writes.
    consequences = together["TriggerConsequence"]
    assert len(together["Trigger"]) >= 10
    assert {dict(c)["kind"] for c in consequences} >= {"set_state", "imaging", "order"}
    assert {dict(c)["status"] for c in consequences} == {"applied"}
    assert any(dict(s)["reason"].startswith("trigger ") for s in together["DiseaseState"])
    assert {dict(e)["action"] for e in together["AuditEvent"]} >= {"trigger.fired", "state.set"}
