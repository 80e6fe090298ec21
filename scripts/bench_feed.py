"""Benchmark: calendar-feed requests through the whole web app, against bare icalendar.

    .venv/bin/python scripts/bench_feed.py sqlite:///var/bench.db [--feeds 300] [--json]

``run(db_url)`` is what ``make bench`` calls, on the 100,000-patient demo registry (already
planned). It issues feeds for a random sample of patients that have follow-up items, then sends
ASGI requests straight into the app made by ``create_app`` (middleware, routing, the thread
pool, the database and the renderer included; no HTTP client or socket):

- ``cold``: the first request for each feed, rendered from the registry (nothing about that
  feed is cached yet);
- ``warm``: the same request again (the body comes from the render cache);
- ``not_modified``: with ``If-None-Match``, answered 304;
- ``bare_icalendar``: the same calendar serialised with plain ``Calendar()``/``Event()``
  (``bench_ical.bare_icalendar``); every body is checked byte-identical to the one served;
- ``ours_no_http``: the endpoint's query, words and builder without HTTP.

Cold requests and bare serialisations alternate in blocks of ``BLOCK`` feeds, so each side runs
as in a stream of polls and load from other processes hits both alike.

Targets (issue 7): cold p95 < 15 ms and within 2x of bare icalendar; 304 p95 < 5 ms. The feeds
issued here are deleted at the end, with their audit rows, leaving the registry as it was.
"""

import argparse
import asyncio
import datetime as dt
import functools
import json
import os
import random
import secrets
import statistics
import sys
import time
from collections.abc import MutableMapping, Sequence
from typing import Any

import feed_served
import sqlalchemy as sa

# scripts/ is on sys.path whether this runs alone or under scripts/bench.py: one baseline.
from bench_ical import bare_icalendar
from fastapi import FastAPI
from sqlmodel import col, select
from targets import below

from surveil.config import DatabaseSettings, Settings, WebSettings
from surveil.core.feed import FeedCalendar, FeedEvent
from surveil.core.zones import today_in
from surveil.db import models as m
from surveil.db.engine import make_engine
from surveil.db.session import read_connection, session_scope
from surveil.ical import build_feed
from surveil.services.feeds import tokens as feeds
from surveil.web import feeds as feed_web
from surveil.web.app import ROUTERS, create_app

BASE = "https://bench.example.org"
TARGETS = {"cold_p95_ms": 15.0, "ratio_p95": 2.0, "not_modified_p95_ms": 5.0}
# Requests and bare serialisations run in alternating blocks of this many feeds: each side runs
# as it would in a stream (a server answering poll after poll), and load from other processes
# still falls on both sides alike.
BLOCK = 25


def run(
    db_url: str, *, sample: int = 300, seed: int = 7, prepared_statements: bool = True
) -> dict[str, Any]:
    """Feed request timings on the registry at ``db_url`` (see the module docstring).

    ``prepared_statements``: the served side's ``[database] prepared_statements`` (PostgreSQL
    only; on by default here, as the benchmark connects to PostgreSQL directly, as a deployment
    without PgBouncer would; ``--no-prepared-statements`` measures the default setting)."""
    engine = make_engine(db_url)
    # The limiter runs but never trips: this measures answers, not refusals.
    settings = Settings(
        database=DatabaseSettings(url=db_url),
        web=WebSettings(
            base_url=BASE,
            feed_requests_per_minute=10**9,
            secret_key=secrets.token_urlsafe(48),  # the app refuses to start without a key
        ),
    )
    tokens = _issue(engine, sample=sample, seed=seed)
    # The servers' warm-up poll is for a feed of its own: a poll for a token that opens
    # nothing would mark this client's address as one that missed, and every request from it
    # for the next minute would then also read the shared miss count (a cost a calendar
    # service's addresses do not pay unless they miss).
    warm_up = _issue(engine, sample=1, seed=seed + 1)
    try:
        result, bodies, calendars = _measure(engine, settings, tokens)
        # The same feeds again, through real sockets (scripts/feed_served.py).
        served = feed_served.measure(
            db_url,
            base_url=BASE,
            bodies=bodies,
            bare={t: functools.partial(bare_icalendar, *calendars[t]) for t in bodies},
            events={t: len(calendars[t][1]) for t in bodies},
            warm_up=next(iter(warm_up)),
            prepared_statements=prepared_statements,
        )
        result["prepared_statements"] = prepared_statements and engine.dialect.name != "sqlite"
        result.update(served)
        result["met"].update(feed_served.met(served))
        result["targets"] = {**TARGETS, **feed_served.TARGETS}
        result["load_average_1m_end"] = round(os.getloadavg()[0], 2)
        return result
    finally:
        _clean_up(engine, [*tokens.values(), *warm_up.values()])
        engine.dispose()


def _issue(engine: sa.Engine, *, sample: int, seed: int) -> dict[str, str]:
    """token -> public id, for up to ``sample`` random patients that have follow-up items."""
    with session_scope(engine) as session:
        ids = sorted(set(session.exec(select(m.FollowUpItem.patient_id).distinct()).all()))
        chosen = random.Random(seed).sample(ids, min(sample, len(ids)))
        if not chosen:
            raise SystemExit("bench_feed: the registry has no follow-up items (run replan)")
        tokens = {}
        for patient_id in chosen:
            issued = feeds.issue_feed(session, patient_id=patient_id, base_url=BASE, label="bench")
            tokens[issued.urls.https.rsplit("/", 1)[1].removesuffix(".ics")] = issued.feed.public_id
    return tokens


class Timings:
    """Wall-clock and process CPU time per call. CPU time is what the request cost us; wall
    time is what the client waited, including any wait for the shared machine's cores."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def start(self) -> tuple[float, float]:
        return time.perf_counter(), time.process_time()

    def stop(self, started: tuple[float, float]) -> None:
        self.wall.append(time.perf_counter() - started[0])
        self.cpu.append(time.process_time() - started[1])

    def summary(self) -> dict[str, float]:
        return {**_summary(self.wall), "cpu_p50": round(statistics.median(self.cpu) * 1e3, 2)}


Calendars = dict[str, tuple[FeedCalendar, list[FeedEvent]]]


def _measure(
    engine: sa.Engine, settings: Settings, tokens: dict[str, str]
) -> tuple[dict[str, Any], dict[str, bytes], Calendars]:
    """The in-process timings, with each feed's body and what ``build_feed`` received."""
    extra = [] if feed_web.router in ROUTERS else [feed_web.router]
    app = create_app(settings, engine=engine, extra_routers=extra)
    renderer = feeds.FeedRenderer(settings, cache_size=0)
    today = today_in(settings.clinic.timezone, dt.datetime.now(dt.UTC))
    t = {name: Timings() for name in ("cold", "warm", "not_modified", "not_found", "bare", "ours")}
    sizes: list[int] = []
    events_per_feed: list[int] = []
    etags: dict[str, str] = {}
    all_bodies: dict[str, bytes] = {}
    calendars: Calendars = {}

    async def measure() -> None:
        await _get(app, "/feeds/warm-up.ics")
        listed = list(tokens)
        for first in range(0, len(listed), BLOCK):
            block = listed[first : first + BLOCK]
            bodies = {}
            for token in block:  # a stream of first polls, each for a feed never rendered
                started = t["cold"].start()
                status, headers, body = await _get(app, f"/feeds/{token}.ics")
                t["cold"].stop(started)
                assert status == 200, status
                etags[token] = headers[b"etag"].decode()
                bodies[token] = body
            served = {token: _events(engine, renderer, token, today) for token in block}
            all_bodies.update(bodies)
            calendars.update(served)
            for token in block:  # the same feeds, serialised with bare icalendar
                calendar, events = served[token]
                started = t["bare"].start()
                bare = bare_icalendar(calendar, events)
                t["bare"].stop(started)
                assert bare == bodies[token], "the baseline must write what the endpoint served"
                sizes.append(len(bare))
                events_per_feed.append(len(events))
            for token in block:  # our query, words and builder, without HTTP
                started = t["ours"].start()
                with read_connection(engine) as connection:
                    opened = feeds.open_feed(connection, feeds.hash_token(token), today=today,
                                             retention=renderer.retention)  # fmt: skip
                assert opened is not None
                calendar = renderer.calendar(opened)
                build_feed(calendar, renderer.events(opened.items, opened.timezone))
                t["ours"].stop(started)
        for token in tokens:
            started = t["warm"].start()
            status, _, _ = await _get(app, f"/feeds/{token}.ics")
            t["warm"].stop(started)
            started = t["not_modified"].start()
            status304, _, _ = await _get(
                app, f"/feeds/{token}.ics", [(b"if-none-match", etags[token].encode())]
            )
            t["not_modified"].stop(started)
            started = t["not_found"].start()
            status404, _, _ = await _get(app, f"/feeds/{token[::-1]}.ics")
            t["not_found"].stop(started)
            assert (status, status304, status404) == (200, 304, 404)

    asyncio.run(measure())
    cold, bare = t["cold"].wall, t["bare"].wall
    result: dict[str, Any] = {
        "feeds": len(tokens),
        "events_per_feed_mean": round(statistics.fmean(events_per_feed), 1),
        "body_bytes_mean": round(statistics.fmean(sizes)),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "cold_ms": t["cold"].summary(),
        "warm_ms": t["warm"].summary(),
        "not_modified_ms": t["not_modified"].summary(),
        "not_found_ms": t["not_found"].summary(),
        "bare_icalendar_ms": t["bare"].summary(),
        "ours_no_http_ms": t["ours"].summary(),
        "ratio_p50": round(statistics.median(cold) / statistics.median(bare), 2),
        "ratio_p95": round(_p95(cold) / _p95(bare), 2),
        "ratio_ours_no_http_p95": round(_p95(t["ours"].wall) / _p95(bare), 2),
        "targets": TARGETS,
    }
    result["met"] = {
        "cold p95 (in-process)": below(
            result["cold_ms"]["p95"], TARGETS["cold_p95_ms"], "ms", ratio=result["ratio_p95"]
        ),
        "cold p95 / bare icalendar p95": below(
            result["ratio_p95"], TARGETS["ratio_p95"], "×", inclusive=True
        ),
        "304 p95 (in-process)": below(
            result["not_modified_ms"]["p95"], TARGETS["not_modified_p95_ms"], "ms"
        ),
    }
    return result, all_bodies, calendars


def _events(
    engine: sa.Engine, renderer: feeds.FeedRenderer, token: str, today: dt.date
) -> tuple[FeedCalendar, list[FeedEvent]]:
    """Exactly what the endpoint's ``build_feed`` call receives for this token today."""
    with read_connection(engine) as connection:
        opened = feeds.open_feed(connection, feeds.hash_token(token), today=today,
                                 retention=renderer.retention)  # fmt: skip
    assert opened is not None
    return renderer.calendar(opened), renderer.events(opened.items, opened.timezone)


async def _get(
    app: FastAPI, path: str, headers: Sequence[tuple[bytes, bytes]] = ()
) -> tuple[int, dict[bytes, bytes], bytes]:
    """One GET through the ASGI app, as uvicorn would deliver it."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"bench.example.org"), *headers],
        "client": ("192.0.2.10", 50000),
        "server": ("bench.example.org", 443),
        "state": {},
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    await app(scope, receive, send)
    start = next(msg for msg in sent if msg["type"] == "http.response.start")
    body = b"".join(msg.get("body", b"") for msg in sent if msg["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), body


def _clean_up(engine: sa.Engine, public_ids: list[str]) -> None:
    with session_scope(engine) as session:
        for chunk in range(0, len(public_ids), 500):
            ids = public_ids[chunk : chunk + 500]
            session.execute(sa.delete(m.FeedToken).where(col(m.FeedToken.public_id).in_(ids)))
            details = [f"feed {pid} 'bench'" for pid in ids]
            session.execute(sa.delete(m.AuditEvent).where(col(m.AuditEvent.detail).in_(details)))


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(statistics.median(values) * 1e3, 2),
        "p95": round(_p95(values) * 1e3, 2),
        "max": round(max(values) * 1e3, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("db_url", help="a planned registry, e.g. sqlite:///var/bench.db")
    parser.add_argument("--feeds", type=int, default=300, help="feeds to sample (default 300)")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    parser.add_argument(
        "--no-prepared-statements",
        dest="prepared",
        action="store_false",
        help="serve with [database] prepared_statements = false (PostgreSQL; the default setting)",
    )
    args = parser.parse_args(argv)
    result = run(args.db_url, sample=args.feeds, prepared_statements=args.prepared)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{result['feeds']} feeds, {result['events_per_feed_mean']} events and "
          f"{result['body_bytes_mean']} bytes each on average")  # fmt: skip
    print(f"(load average {result['load_average_1m']} on {result['cpus']} CPUs; times in ms)")
    for name in ("cold_ms", "warm_ms", "not_modified_ms", "not_found_ms", "bare_icalendar_ms",
                 "ours_no_http_ms"):  # fmt: skip
        row = result[name]
        print(
            f"  {name:<18} p50 {row['p50']:6.2f}  p95 {row['p95']:6.2f}  max {row['max']:7.2f}"
            f"  cpu p50 {row['cpu_p50']:6.2f}"
        )
    print(f"  cold / bare icalendar: p50 x{result['ratio_p50']}, p95 x{result['ratio_p95']}")
    print(f"  ours without HTTP / bare icalendar: p95 x{result['ratio_ours_no_http_p95']}")
    prepared = "on" if result["prepared_statements"] else "off"
    print(f"through loopback sockets (server CPU per request is a mean; prepared: {prepared}):")
    for name, row in result.items():
        if name.startswith(("served_", "socket_")):
            cpu = f"  server cpu {row['server_cpu_mean']:6.2f}" if "server_cpu_mean" in row else ""
            print(f"  {name:<22} p50 {row['p50']:6.2f}  p95 {row['p95']:6.2f}{cpu}")
    print(f"  served / Radicale p95 x{result['ratio_served_vs_radicale_p95']}")
    print(f"  served / (bare icalendar + bare ASGI) p95 x{result['ratio_served_vs_bare_sum_p95']}")
    print(f"  targets met: {result['met']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
