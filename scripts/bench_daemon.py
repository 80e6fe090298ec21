"""Benchmark: reminders per second from one daemon to a local SMTP server (issue 8: >= 200/s),
against the bare transport sending the very same messages.

    .venv/bin/python scripts/bench_daemon.py sqlite:///var/bench.db [--n 500] [--repeat 3] [--json]

``run(db_url)`` is what ``make bench`` calls, on the 100,000-patient registry (the tables'
sizes are part of what is measured). It adds ``n`` bench patients, each with an item whose
window opened yesterday, and their reminder rows, then measures:

- ``daemon``: ``dispatch_due`` on them: claim, the send-time check, render, ``sending`` record,
  SMTP (one kept-open connection), outcome record: the daemon's whole per-reminder path;
- ``bare_transport``: ``SmtpTransport.send`` of the same rendered messages, nothing else.

The SMTP server (aiosmtpd) runs in its own process and must count every message. Figures are
the median of ``repeat`` runs (each with fresh rows). The bench patients are deleted at the
end, with their rows and ledger. If reminders of the registry itself are due, the bench stops:
a daemon would send those too.
"""

import argparse
import datetime as dt
import json
import multiprocessing as mp
import statistics
import sys
import time
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, delete, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.bench_smtp import free_port, serve
from surveil.config import DaemonSettings, DatabaseSettings, Settings, SmtpSettings
from surveil.core.reminders import Channel, select_reminders
from surveil.db import claims, migrate
from surveil.db import models as m
from surveil.db.engine import make_engine
from surveil.services.reminders.delivery import dispatch_due
from surveil.services.reminders.planning import (
    effective_policy,
    insert_reminders,
    reminder_item,
    reminder_patient,
)
from surveil.transports import OutgoingMessage, SmtpTransport
from surveil.transports.base import DeliveryResult

CLINIC = "bench-daemon"
SENDER = '"St Elsewhere Hospital" <no-reply@stelsewhere.example>'
TARGET_PER_SECOND = 200
WORKER = "bench-daemon"


class Recording:
    """The daemon's SMTP transport, keeping what it sent for the bare comparison."""

    def __init__(self, transport: SmtpTransport) -> None:
        self.transport = transport
        self.sent: list[OutgoingMessage] = []

    def send(self, message: OutgoingMessage) -> DeliveryResult:
        self.sent.append(message)
        return self.transport.send(message)

    def close(self) -> None:
        self.transport.close()


def run(db_url: str, *, n: int = 500, repeat: int = 3) -> dict[str, Any]:
    """Reminders per second through the daemon and through the bare transport (see above)."""
    engine = make_engine(db_url)
    if migrate.current_revision(engine) is None:
        migrate.upgrade(engine)
    port = free_port()
    count: Synchronized[int] = mp.Value("i", 0)
    ready, stop = mp.Event(), mp.Event()
    server = mp.Process(target=serve, args=(port, count, ready, stop), daemon=True)
    server.start()
    if not ready.wait(15):
        raise RuntimeError("bench_daemon: the SMTP sink did not start")
    settings = Settings(
        database=DatabaseSettings(url=db_url),
        smtp=SmtpSettings(host="127.0.0.1", port=port, security="none", sender=SENDER),
        daemon=DaemonSettings(sms_channel="log"),
        reminders={"channels": ["email"]},
    )
    runs: list[dict[str, float]] = []
    try:
        for attempt in range(repeat):
            runs.append(_measure_once(engine, settings, n, attempt))
        time.sleep(0.2)  # let the sink count the last message
        delivered = count.value
    finally:
        stop.set()
        server.join(10)
        _clean_up(engine)
        engine.dispose()
    daemon = statistics.median(r["daemon"] for r in runs)
    bare = statistics.median(r["bare_transport"] for r in runs)
    expected = 2 * n * repeat
    return {
        "n": n,
        "repeat": repeat,
        "backend": engine.dialect.name,
        "daemon_per_s": daemon,
        "bare_transport_per_s": bare,
        "ratio_daemon_to_bare": daemon / bare,
        "cpu_ms_per_reminder": statistics.median(r["cpu_ms"] for r in runs),
        "delivered": delivered,
        "expected": expected,
        "met": {
            f">= {TARGET_PER_SECOND} reminders/s from one daemon": daemon >= TARGET_PER_SECOND,
            "every message reached the SMTP server": delivered == expected,
        },
    }


def _measure_once(engine: sa.Engine, settings: Settings, n: int, attempt: int) -> dict[str, float]:
    now = dt.datetime.now(dt.UTC)
    _add_bench_rows(engine, settings, n, now, attempt)
    transport = Recording(
        SmtpTransport(host="127.0.0.1", port=settings.smtp.port, sender=SENDER, security="none")
    )
    started, cpu = time.perf_counter(), time.process_time()
    handled = dispatch_due(engine, {"email": transport}, settings, now, WORKER)
    daemon_s, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    transport.close()
    if handled != n or len(transport.sent) != n:
        raise RuntimeError(f"bench_daemon: handled {handled} of {n} (sent {len(transport.sent)})")
    bare = SmtpTransport(host="127.0.0.1", port=settings.smtp.port, sender=SENDER, security="none")
    started = time.perf_counter()
    for message in transport.sent:
        bare.send(message)
    bare_s = time.perf_counter() - started
    bare.close()
    return {"daemon": n / daemon_s, "bare_transport": n / bare_s, "cpu_ms": cpu_s / n * 1000}


def _add_bench_rows(
    engine: sa.Engine, settings: Settings, n: int, now: dt.datetime, attempt: int
) -> None:
    """``n`` bench patients with a window that opened yesterday, and their reminder rows."""
    with Session(engine) as session:
        _refuse_if_registry_due(session, now)
        opened = (now - dt.timedelta(days=1)).date()
        patients = [
            m.Patient(
                clinic=CLINIC, mrn=f"BENCH{attempt}-{i:05d}", given_name="Ann",
                family_name="Bench", birth_date=dt.date(1960, 1, 1), timezone="Europe/London",
                email=f"bench{i}@example.org",
            )
            for i in range(n)
        ]  # fmt: skip
        session.add_all(patients)
        session.flush()
        items = [
            m.FollowUpItem(
                patient_id=p.id or 0, kind="mri", earliest=opened,
                target=opened + dt.timedelta(days=30), latest=opened + dt.timedelta(days=60),
                rule_id="bench", pack_id="bench", pack_version="1", profile="default",
            )
            for p in patients
        ]  # fmt: skip
        session.add_all(items)
        session.flush()
        policy = effective_policy(settings)
        rows = []
        for patient, item in zip(patients, items, strict=True):
            for intent in select_reminders(
                [reminder_item(item)], reminder_patient(patient, False), policy, now
            ):
                if intent.channel is Channel.EMAIL:
                    rows.append(
                        {
                            "idempotency_key": intent.idempotency_key,
                            "patient_id": patient.id, "user_id": None, "item_id": item.id,
                            "stage": intent.stage.value, "channel": "email",
                            "recipient": intent.recipient.value, "template": intent.message,
                            "urgent": False, "send_after": intent.send_after,
                        }
                    )  # fmt: skip
        if insert_reminders(session, rows, now) != n:
            raise RuntimeError("bench_daemon: could not plan one reminder per bench patient")
        session.commit()


def _refuse_if_registry_due(session: Session, now: dt.datetime) -> None:
    due = session.exec(
        select(sa.func.count())
        .select_from(m.Reminder)
        .join(m.Patient, col(m.Patient.id) == m.Reminder.patient_id, isouter=True)
        .where(claims.due(now), sa.or_(m.Patient.clinic != CLINIC, col(m.Patient.id).is_(None)))
    ).one()
    if due:
        raise RuntimeError(
            f"bench_daemon: {due} reminder(s) of the registry are due; the daemon under test "
            "would send them to the benchmark's SMTP sink. Use a registry without due reminders."
        )


def _clean_up(engine: sa.Engine) -> None:
    with Session(engine) as session:
        ids = list(session.exec(select(m.Patient.id).where(m.Patient.clinic == CLINIC)))
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            reminders = select(m.Reminder.id).where(col(m.Reminder.patient_id).in_(chunk))
            session.exec(
                delete(m.DeliveryAttempt).where(col(m.DeliveryAttempt.reminder_id).in_(reminders))
            )  # type: ignore[call-overload]
            session.exec(delete(m.Reminder).where(col(m.Reminder.patient_id).in_(chunk)))  # type: ignore[call-overload]
            session.exec(delete(m.FollowUpItem).where(col(m.FollowUpItem.patient_id).in_(chunk)))  # type: ignore[call-overload]
            session.exec(delete(m.Patient).where(col(m.Patient.id).in_(chunk)))  # type: ignore[call-overload]
        session.exec(delete(m.Heartbeat).where(m.Heartbeat.worker == WORKER))  # type: ignore[call-overload]
        session.commit()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db_url", help="registry to measure on, e.g. sqlite:///var/bench.db")
    parser.add_argument("--n", type=int, default=500, help="reminders per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the median is reported")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    figures = run(args.db_url, n=args.n, repeat=args.repeat)
    met = all(figures["met"].values())
    if args.json:
        print(json.dumps(figures))
    else:
        print(f"{args.n} reminders to aiosmtpd on 127.0.0.1 ({figures['backend']}), "
              f"median of {args.repeat}")  # fmt: skip
        print(f"  daemon (dispatch_due)   {figures['daemon_per_s']:8,.0f}/s")
        print(f"  bare SmtpTransport      {figures['bare_transport_per_s']:8,.0f}/s")
        print(f"  daemon / bare           {figures['ratio_daemon_to_bare']:8.2f}")
        print(f"  daemon CPU per reminder {figures['cpu_ms_per_reminder']:8.2f} ms")
        for target, ok in figures["met"].items():
            print(f"  {'✓' if ok else '✗'} {target}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
