"""The reminder daemon: an APScheduler 3.11 clock that calls seven jobs, and nothing more.

Reminders are rows in our own tables (the outbox), never scheduler jobs: the scheduler only
decides *when to look*. It uses a memory job store and jobs defined here in code, so a restart
re-creates them and nothing is pickled; ``coalesce`` and ``max_instances=1`` keep a slow round
from piling up; every job also runs at start-up, so a restarted daemon catches up at once.

Jobs: *sweep* (recover what a dead daemon left, every daemon), *dispatch* (claim and send, every
daemon), *heartbeat* (the ``heartbeat`` row, and renewing the leader lease), *plan*, *digest*,
*feeds* (retiring the calendar feeds of patients no longer followed up) and *protocol* (applying
a protocol activation dated later once its day comes: replan the clinic, exactly once) only on
the leader: the holder of the ``daemon_lease`` row.

Several daemons may share a PostgreSQL database (claims use ``SKIP LOCKED``; one leads). On
SQLite only one may run: ``single_daemon_lock`` takes an exclusive ``flock`` on
``<database file>.daemon.lock``. The kernel drops it when the process dies, even by ``kill -9``,
so a restart is never blocked by a stale lock (a lease row would block it until it expired).
SIGTERM or SIGINT: the message being sent is finished, claimed rows not yet started are handed
back, leadership is given up so another daemon can take over at once.
"""

import contextlib
import datetime as dt
import fcntl
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Protocol

import sqlalchemy as sa
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy.engine import make_url

from surveil.config import Settings
from surveil.db.engine import make_engine, normalise_url
from surveil.errors import Conflict
from surveil.services import leases
from surveil.services.actor import Actor
from surveil.services.feeds.manage import retire_unneeded_feeds
from surveil.services.leases import Fence
from surveil.services.protocols import check_clinic_protocol
from surveil.services.reminders import delivery
from surveil.services.reminders.jobs import plan_due_reminders, queue_digests
from surveil.services.reminders.planning import effective_policy
from surveil.services.rollout.scheduled import apply_due_activations
from surveil.transports import Transport

logger = logging.getLogger("surveil.daemon")

DIGEST_CHECK_SECONDS = 300  # how often the leader looks whether today's digest is due
MISFIRE_GRACE_SECONDS = 300  # a late tick still runs; each tick re-reads the database anyway


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class LeaderJob(Protocol):
    """A leader's job: an entry point that checks ``fence`` in its own transaction."""

    def __call__(
        self,
        engine: sa.Engine,
        *,
        actor: Actor,
        fence: Fence,
        settings: Settings,
        now: dt.datetime,
    ) -> int: ...


class Daemon:
    """What the scheduled jobs do. Each job reads the clock once and never raises.

    The daemon changes the registry only through service entry points, acting as ``actor``:
    surveil itself on the daemon channel, unless a command runs a round for a named user."""

    def __init__(
        self,
        settings: Settings,
        *,
        engine: sa.Engine | None = None,
        transports: Mapping[str, Transport] | None = None,
        worker: str | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
        actor: Actor | None = None,
    ) -> None:
        # A bad [reminders] table or an unknown clinic pack or profile stops the start, loudly.
        effective_policy(settings)
        check_clinic_protocol(settings)
        self.settings = settings
        self.engine = engine or make_engine(settings.database.url)
        self.transports = dict(transports if transports is not None else
                               delivery.build_transports(settings))  # fmt: skip
        self.worker = worker or leases.new_worker_id()
        self.clock = clock
        self.actor = actor or Actor.system()
        self.stop = threading.Event()
        self.epoch: int | None = None
        self.lease_seconds = settings.daemon.lease_seconds
        # New rows are sent at once, not at the next tick: a running dispatch goes round again,
        # an idle one is woken (build_scheduler sets ``nudge``).
        self.nudge: Callable[[], None] = lambda: None
        self._again = threading.Event()
        self._dispatching = False

    # ----------------------------------------------------------------- jobs

    def sweep_job(self) -> leases.SweepResult:
        return delivery.sweep(self.engine, self.clock())

    def dispatch_job(self) -> int:
        handled = 0
        self._dispatching = True
        try:
            while not self.stop.is_set():
                self._again.clear()
                handled += delivery.dispatch_due(
                    self.engine, self.transports, self.settings, self.clock(), self.worker,
                    stop=self.stop,
                )  # fmt: skip
                if not self._again.is_set():
                    break
        finally:
            self._dispatching = False
        if handled:
            logger.info("dispatch: %d reminder(s) handled", handled)
        return handled

    def plan_job(self) -> int:
        return self._as_leader("plan", plan_due_reminders)

    def digest_job(self) -> int:
        return self._as_leader("digest", queue_digests)

    def feeds_job(self) -> int:
        return self._as_leader("feeds", retire_unneeded_feeds)

    def protocol_job(self) -> int:
        """Patients replanned for a protocol change whose day has come (0 on most ticks)."""
        now = self.clock()
        if not self.lead(now) or self.epoch is None:
            return 0
        fence = Fence(self.worker, self.epoch)
        changed = apply_due_activations(
            self.engine, actor=self.actor, fence=fence, settings=self.settings, now=now
        )
        if changed:
            logger.info("protocol: %d patient plan(s) changed by a protocol change", changed)
        return changed

    def heartbeat_job(self) -> None:
        now = self.clock()
        leases.beat(self.engine, worker=self.worker, now=now)
        self.lead(now)

    def lead(self, now: dt.datetime) -> bool:
        """Take or renew the leader lease; whether this daemon leads now."""
        epoch = leases.take_lead(
            self.engine, worker=self.worker, now=now, ttl_seconds=self.lease_seconds
        )
        if epoch != self.epoch:
            if epoch is None:
                logger.info("no longer the leader (epoch %s)", self.epoch)
            else:
                logger.info("leading (epoch %d): planning and the digest run here", epoch)
        self.epoch = epoch
        return epoch is not None

    def _as_leader(self, job: str, work: LeaderJob) -> int:
        now = self.clock()
        if not self.lead(now) or self.epoch is None:
            return 0
        # Fencing: the job re-checks the lease in its own transaction, so a daemon that lost it
        # while paused does not write as leader.
        fence = Fence(self.worker, self.epoch)
        added = work(self.engine, actor=self.actor, fence=fence, settings=self.settings, now=now)
        if added:
            logger.info("%s: %d new reminder row(s)", job, added)
            self._again.set()
            if not self._dispatching:
                self.nudge()
        return added

    # ----------------------------------------------------------------- life cycle

    def run_once(self) -> dict[str, int]:
        """Everything a scheduler tick would do, once, in order; then stop (``--once``)."""
        swept = self.sweep_job()
        summary = {"recovered": len(swept.unknown), "released": swept.released}
        # A protocol change due today first: the reminders planned next follow the new plans.
        summary["protocol"] = self.protocol_job()
        summary["planned"] = self.plan_job()
        summary["digests"] = self.digest_job()
        summary["handled"] = self.dispatch_job()
        return summary

    def close(self) -> None:
        """Hand back unstarted claims, give up leadership, close the channels."""
        now = self.clock()
        try:
            released = leases.release_claims(self.engine, worker=self.worker)
            if released:
                logger.info("handed back %d claimed reminder(s)", released)
            if self.epoch is not None:
                leases.resign(self.engine, worker=self.worker, now=now)
            leases.beat(self.engine, worker=self.worker, now=now, job="stopped")
        finally:
            for transport in self.transports.values():
                transport.close()


def _safely(job: Callable[[], object], name: str) -> Callable[[], None]:
    def run() -> None:
        try:
            job()
        except Exception:  # a database or network outage: log it, the next tick tries again
            logger.exception("%s failed; it runs again at the next tick", name)

    run.__name__ = name
    return run


def build_scheduler(
    settings: Settings,
    daemon: Daemon,
    *,
    scheduler_class: type[BaseScheduler] = BlockingScheduler,
    start_at: dt.datetime | None = None,
) -> BaseScheduler:
    """The scheduler with its seven interval jobs, each first run at ``start_at`` (now)."""
    config = settings.daemon
    scheduler = scheduler_class(
        jobstores={"default": MemoryJobStore()},
        executors={"default": ThreadPoolExecutor(max_workers=5)},
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": MISFIRE_GRACE_SECONDS,
        },
        timezone=dt.UTC,
    )
    first = start_at or utcnow()
    heartbeat = max(5, min(30, config.lease_seconds // 4))
    jobs: list[tuple[str, Callable[[], object], int]] = [
        ("sweep", daemon.sweep_job, config.sweep_seconds),
        ("plan", daemon.plan_job, config.plan_minutes * 60),
        ("digest", daemon.digest_job, DIGEST_CHECK_SECONDS),
        ("feeds", daemon.feeds_job, config.plan_minutes * 60),  # retire feeds no longer needed
        ("protocol", daemon.protocol_job, config.plan_minutes * 60),  # a change dated today
        ("dispatch", daemon.dispatch_job, config.dispatch_seconds),
        ("heartbeat", daemon.heartbeat_job, heartbeat),
    ]
    for name, job, seconds in jobs:
        scheduler.add_job(
            _safely(job, name),
            "interval",
            seconds=max(1, seconds),
            id=name,
            name=name,
            next_run_time=first,
            replace_existing=True,
        )
    daemon.nudge = lambda: _run_soon(scheduler, "dispatch")
    return scheduler


def _run_soon(scheduler: BaseScheduler, job_id: str) -> None:
    job = scheduler.get_job(job_id)
    if job is not None:  # None while shutting down
        job.modify(next_run_time=utcnow())


@contextlib.contextmanager
def single_daemon_lock(url: str) -> Iterator[Path | None]:
    """On SQLite, refuse to start beside another daemon on the same file (see module doc)."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        yield None
        return
    path = Path(parsed.database or "").resolve()
    lock = path.with_name(path.name + ".daemon.lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise Conflict(
                f"another surveil daemon (pid {holder}) is already running on {path}. "
                "SQLite allows one daemon; stop it first, or use PostgreSQL to run several."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield lock
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def run(settings: Settings, *, once: bool = False) -> dict[str, int] | None:
    """``surveil daemon``: run until SIGTERM/SIGINT (or one round with ``once``)."""
    with single_daemon_lock(settings.database.url):
        daemon = Daemon(settings)
        _describe(daemon)
        if once:
            try:
                return daemon.run_once()
            finally:
                daemon.close()
        scheduler = build_scheduler(settings, daemon)
        stopper: list[threading.Thread] = []

        def on_signal(signum: int, _frame: object) -> None:
            if stopper:
                return
            logger.info(
                "%s: finishing the message in flight, then stopping", signal.Signals(signum).name
            )
            daemon.stop.set()
            # shutdown() waits for running jobs; not from inside the signal handler.
            stopper.append(threading.Thread(target=scheduler.shutdown, name="shutdown"))
            stopper[0].start()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        try:
            scheduler.start()
        finally:
            for thread in stopper:
                thread.join()
            daemon.close()
            logger.info("stopped")
    return None


def _describe(daemon: Daemon) -> None:
    settings = daemon.settings
    where = daemon.engine.url.render_as_string(hide_password=True)
    channels = ", ".join(f"{name} via {type(t).__name__}" for name, t in daemon.transports.items())
    logger.info(
        "daemon %s on %s; %s; dispatch every %d s, plan every %d min, digest at %s %s",
        daemon.worker,
        where,
        channels,
        settings.daemon.dispatch_seconds,
        settings.daemon.plan_minutes,
        settings.daemon.digest_time,
        settings.clinic.timezone,
    )
