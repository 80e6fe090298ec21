"""Reminder throughput to a local SMTP server (issue 8 target: at least 200 reminders/s).

    .venv/bin/python scripts/bench_smtp.py [--n 1000] [--repeat 3] [--json]

The SMTP server (aiosmtpd, counting what it accepts) runs in a separate process, as a real
mail server would. Measured, each over N messages:

* render       render_message() of the four parts for patient reminders of every item kind;
* bare smtplib one connection, sendmail() of pre-built bytes: the floor for this server;
* transport    SmtpTransport.send() with its kept-open connection (building the MIME message,
               Message-ID from the key, MAIL/RCPT/DATA): what the daemon's dispatch pays;
* end to end   render + send, the daemon's per-reminder work without the database;
* new conn.    SmtpTransport(reuse_connection=False): one connection per message, for contrast.

Each figure is the median of --repeat runs; ratios are against bare smtplib. The server's count
must equal what was sent, and end to end must reach the target, or the exit status is 1.
"""

import argparse
import datetime as dt
import json
import multiprocessing as mp
import smtplib
import socket
import statistics
import sys
import time
from collections.abc import Callable
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from surveil.core.reminders import Stage, message_name
from surveil.core.vocab import ItemKind
from surveil.render.messages import Clinic, RenderedMessage, patient_context, render_message
from surveil.render.templating import make_environment
from surveil.transports import OutgoingMessage, SmtpTransport
from surveil.transports.smtp import WIRE_POLICY

SENDER = '"St Elsewhere Hospital" <no-reply@stelsewhere.example>'
CLINIC = Clinic("St Elsewhere Hospital", "020 7946 0000")
TARGET_PER_SECOND = 200


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def serve(port: int, count: "Synchronized[int]", ready: Any, stop: Any) -> None:
    """The SMTP sink process: accepts everything and counts it."""
    from aiosmtpd.controller import Controller

    class Counter:
        async def handle_DATA(self, _server: Any, _session: Any, _envelope: Any) -> str:
            with count.get_lock():
                count.value += 1
            return "250 2.0.0 Ok: queued"

    controller = Controller(Counter(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


def rendered_messages(n: int) -> tuple[list[RenderedMessage], float]:
    env = make_environment()
    kinds = [k for k in ItemKind if k is not ItemKind.TUMOUR_BOARD]
    stages = [Stage.WINDOW_OPEN, Stage.BEFORE_TARGET]
    day = dt.date(2026, 3, 2)
    started = time.perf_counter()
    out = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        context = patient_context(
            clinic=CLINIC,
            kind=kind,
            earliest=day,
            target=day + dt.timedelta(days=20),
            latest=day + dt.timedelta(days=40),
            first_name="Ann",
        )
        out.append(render_message(env, message_name(stages[i % 2], kind), context))
    return out, time.perf_counter() - started


def outgoing(rendered: list[RenderedMessage], run: str) -> list[OutgoingMessage]:
    return [
        OutgoingMessage(
            f"bench-{run}-{i}", f"patient{i}@example.org", m.subject, m.text, m.html, m.sms
        )
        for i, m in enumerate(rendered)
    ]


def timed(work: Callable[[], None]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def bare_smtplib(port: int, messages: list[OutgoingMessage]) -> float:
    transport = SmtpTransport(host="127.0.0.1", port=port, sender=SENDER, security="none")
    payloads = [transport.build(m).as_bytes(policy=WIRE_POLICY) for m in messages]
    transport.close()

    def work() -> None:
        with smtplib.SMTP("127.0.0.1", port, local_hostname="bench", timeout=15) as conn:
            for message, payload in zip(messages, payloads, strict=True):
                conn.sendmail("no-reply@stelsewhere.example", [message.to], payload)

    return timed(work)


def through_transport(port: int, messages: list[OutgoingMessage], *, reuse: bool) -> float:
    transport = SmtpTransport(
        host="127.0.0.1",
        port=port,
        sender=SENDER,
        security="none",
        helo_domain="bench",
        reuse_connection=reuse,
    )

    def work() -> None:
        for message in messages:
            transport.send(message)
        transport.close()

    return timed(work)


def end_to_end(port: int, n: int) -> float:
    def work() -> None:
        rendered, _ = rendered_messages(n)
        transport = SmtpTransport(
            host="127.0.0.1", port=port, sender=SENDER, security="none", helo_domain="bench"
        )
        for message in outgoing(rendered, "e2e"):
            transport.send(message)
        transport.close()

    return timed(work)


def measure_once(port: int, n: int) -> dict[str, float]:
    """Messages per second for each measurement; sends 3n + n/5 messages."""
    rendered, render_s = rendered_messages(n)
    few = max(1, n // 5)
    return {
        "render": n / render_s,
        "bare smtplib": n / bare_smtplib(port, outgoing(rendered, "bare")),
        "transport": n / through_transport(port, outgoing(rendered, "t"), reuse=True),
        "end to end": n / end_to_end(port, n),
        "new conn.": few / through_transport(port, outgoing(rendered[:few], "nc"), reuse=False),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="messages per measurement")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the median is reported")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    n = args.n

    port = free_port()
    count: Synchronized[int] = mp.Value("i", 0)
    ready, stop = mp.Event(), mp.Event()
    server = mp.Process(target=serve, args=(port, count, ready, stop), daemon=True)
    server.start()
    if not ready.wait(15):
        print("the SMTP sink did not start", file=sys.stderr)
        return 1
    try:
        runs = [measure_once(port, n) for _ in range(args.repeat)]
        time.sleep(0.2)  # let the sink count the last message
        expected = args.repeat * (3 * n + max(1, n // 5))
        delivered = count.value
    finally:
        stop.set()
        server.join(10)

    rates = {name: statistics.median(run[name] for run in runs) for name in runs[0]}
    base = rates["bare smtplib"]
    if args.json:
        figures = {"n": n, "repeat": args.repeat, "per_second": rates}
        print(json.dumps(figures | {"delivered": delivered, "expected": expected}))
    else:
        print(f"{n} reminders to aiosmtpd on 127.0.0.1 (separate process), median of {args.repeat}")
        print(f"{'measurement':<14}{'messages/s':>12}{'vs bare':>10}")
        for name, rate in rates.items():
            ratio = "" if name == "render" else f"{rate / base:>9.2f}x"
            print(f"{name:<14}{rate:>12,.0f}{ratio:>10}")
        verdict = "meets" if rates["end to end"] >= TARGET_PER_SECOND else "MISSES"
        print(f"end to end {verdict} the target of {TARGET_PER_SECOND}/s")
    if delivered != expected:
        print(f"server accepted {delivered}, expected {expected}", file=sys.stderr)
        return 1
    return 0 if rates["end to end"] >= TARGET_PER_SECOND else 1


if __name__ == "__main__":
    sys.exit(main())
