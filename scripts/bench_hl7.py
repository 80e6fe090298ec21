"""Benchmark: ORU^R01 results applied end to end by a real MLLP listener, beside bare parsing.

    .venv/bin/python scripts/bench_hl7.py            # a fresh SQLite database in a temp folder
    .venv/bin/python scripts/bench_hl7.py 400        # messages to send (default 400)
    .venv/bin/python scripts/bench.py --only hl7     # the same from the harness (its 100k
                                                     # registry is not used: see ``run``)

``run()`` builds a migrated SQLite registry with 200 demo patients (``generate_demo``: real
tumours, plans and open items), starts the listener (``surveil.hl7.listener``) on a loopback
port in this process, and sends ORU^R01 messages, each a CgA result for one of those patients
(by MRN), over one MLLP connection, waiting for each ACK before the next, as an interface engine
does. Each message is parsed, stored (committed before its ACK), matched on PID-3, recorded as a
marker result that closes the open CgA item if there is one, then ACKed; the triggers and the
replan of its patient follow in the listener's coalesced refresh (``services.hl7.refresh``). The
clock stops when the last ACK has come **and** every patient's refresh has committed
(``Listener.settle``), so the rate counts all of the work. It reports:

- ``end_to_end_per_s``: messages per second, first send to last refresh (target, issue 17:
  ≥ 200/s), and ``acked_per_s`` (first send to last ACK);
- ``parse_per_s``: ``hl7.parse`` of the same texts alone (python-hl7, no I/O);
- ``ratio``: parse rate / end-to-end rate (how many bare parses one applied message costs);
- ``cpu_ms_per_message``: CPU time of this process (client, listener, SQLite) per message,
  and ``cpu_ratio`` (against ``hl7.parse``'s CPU time), which shared cores disturb less than
  the wall clock: 200/s on a free core needs ``cpu_ms_per_message`` ≤ 5, with margin ≤ 3.5
  (the ``met`` target);
- ``refreshes``: how many refresh transactions the burst took (coalescing at work).

``run(db_url)`` follows the harness's signature but builds its own 200-patient registry: the
figure is per message, and the 100k registry's size changes nothing of a message's work (every
query is by patient).
"""

import asyncio
import datetime as dt
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import hl7
import sqlalchemy as sa
from sqlmodel import Session, col, select
from targets import above, below

from surveil.config import DatabaseSettings, Settings
from surveil.db import migrate
from surveil.db import models as m
from surveil.db.engine import make_engine
from surveil.demo.generate import generate_demo
from surveil.hl7.listener import Listener, serve
from surveil.hl7.mllp import Deframer, frame
from surveil.hl7.sender import ack_code

MESSAGES = 400
PATIENTS = 200
# 200/s on one core with margin: 5 ms a message is the edge, 3.5 leaves 30 % (issue 17).
CPU_MS_TARGET = 3.5


def oru(control: str, mrn: str, value: float, day: dt.date) -> bytes:
    stamp = day.strftime("%Y%m%d")
    return (
        "\r".join(
            [
                f"MSH|^~\\&|LAB|HOSP|SURVEIL|NET|{stamp}0900||ORU^R01^ORU_R01|{control}|P|2.5.1",
                f"PID|1||{mrn}^^^HOSP^MR||Demo^Patient||19600101|F",
                f"OBR|1|ORD{control}||9811-1^Chromogranin A^LN|||{stamp}0800",
                f"OBX|1|NM|9811-1^Chromogranin A^LN||{value:g}|ug/L|0-100|N|||F|||{stamp}0800",
            ]
        ).encode()
        + b"\r"
    )


def run(db_url: str = "", messages: int = MESSAGES) -> dict[str, Any]:
    del db_url  # see the module's docstring
    folder = Path(tempfile.mkdtemp(prefix="bench-hl7-"))
    url = f"sqlite:///{folder / 'registry.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    settings = Settings(database=DatabaseSettings(url=url))
    now = dt.datetime.now(dt.UTC)
    generate_demo(
        engine,
        patients=PATIENTS,
        seed=7,
        clinic=settings.clinic.name,
        timezone=settings.clinic.timezone,
        today=now.date(),
        now=now,
    )
    with Session(engine) as session:
        # The demo puts a few patients in a second clinic; the feed serves the configured one.
        mine = select(m.Patient).where(m.Patient.clinic == settings.clinic.name)
        mrns = [p.mrn for p in session.exec(mine.order_by(col(m.Patient.id)))]
    # Results dated today, so each joins its patient's series as the newest value.
    day = now.date()
    batch = [oru(f"B{i:06d}", mrns[i % len(mrns)], 50 + i % 40, day) for i in range(messages)]
    listener = Listener(engine, settings)
    port = _start_listener(listener)

    codes: dict[str, int] = {}
    start, cpu_start = time.perf_counter(), time.process_time()
    with socket.create_connection(("127.0.0.1", port)) as connection:
        deframer = Deframer()
        for message in batch:
            connection.sendall(frame(message))
            got: list[bytes] = []
            while not got:
                got = deframer.feed(connection.recv(65536))
            code = ack_code(got[0].decode())
            codes[code] = codes.get(code, 0) + 1
    acked = time.perf_counter() - start
    listener.settle()  # the refresh of the last burst, if the refresher has not run it yet
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    refreshes = _refreshes(engine)

    texts = [b.decode() for b in batch]
    parse_start, parse_cpu_start = time.perf_counter(), time.process_time()
    for text in texts:
        hl7.parse(text)
    parse_elapsed = time.perf_counter() - parse_start
    parse_cpu = time.process_time() - parse_cpu_start
    end_to_end = messages / elapsed
    parse_rate = messages / parse_elapsed
    listener.stop()
    engine.dispose()
    return {
        "messages": messages,
        "ack_codes": codes,
        "end_to_end_per_s": round(end_to_end, 1),
        "acked_per_s": round(messages / acked, 1),
        "parse_per_s": round(parse_rate, 1),
        "ratio": round(parse_rate / end_to_end, 1),
        "cpu_ms_per_message": round(1000 * cpu / messages, 2),
        "cpu_ratio": round(cpu / parse_cpu, 1),
        "refreshes": refreshes,
        "load_average": round(os.getloadavg()[0], 1),
        "target_per_s": 200,
        "meets_target": end_to_end >= 200,
        # The wall rate is the target; on a shared machine it moves with the load,
        # so the CPU a message (one free core applies 1000 / cpu_ms a second) is shown beside
        # it, each with its ratio against bare hl7.parse in the same run.
        "met": {
            "ORU^R01 end to end": above(
                round(end_to_end, 1), 200, "/s", ratio=round(parse_rate / end_to_end, 1)
            ),
            "CPU a message": below(
                round(1000 * cpu / messages, 2),
                CPU_MS_TARGET,
                "ms",
                inclusive=True,
                ratio=round(cpu / parse_cpu, 1),
            ),
        },
    }


def _refreshes(engine: sa.Engine) -> int:
    with Session(engine) as session:
        query = select(sa.func.count()).where(m.AuditEvent.action == "hl7.refreshed")
        return int(session.exec(query).one())


def _start_listener(listener: Listener) -> int:
    loop = asyncio.new_event_loop()
    bound: list[int] = []
    ready = threading.Event()

    def on_ready(port: int) -> None:
        bound.append(port)
        ready.set()

    def serve_forever() -> None:
        loop.run_until_complete(serve(listener, "127.0.0.1", 0, on_ready))

    threading.Thread(target=serve_forever, daemon=True).start()
    if not ready.wait(30):
        raise RuntimeError("the listener did not start")
    return bound[0]


if __name__ == "__main__":
    result = run(messages=int(sys.argv[1]) if len(sys.argv) > 1 else MESSAGES)
    for key, value in result.items():
        print(f"{key}: {value}")
