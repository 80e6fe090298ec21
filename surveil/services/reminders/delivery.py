"""Sending reminders from the outbox, at least once, with every attempt in the ledger.

A row goes through short transactions, never one held across the network:

1. **claim** a batch (``db/claims.py``): a lease, nothing else;
2. **start**: re-read the row, the item and the patient (at most ``CHECK_FRESH_SECONDS``
   before the send); suppress it with the reason if it must not go out any more (done,
   cancelled, superseded, deceased, discharged, opted out, no contact, window closed); render
   it; then mark it ``sending`` and add a ``sending`` attempt to the ledger;
3. after the transport answered: ``sent`` (recorded in the same transaction as the next row's
   step 2, one commit per reminder instead of two); or a transient failure, retried after an
   exponential backoff (``next_attempt_at``) until ``daemon.max_attempts``; or a permanent one,
   ``failed``, which puts it on the navigators' worklist.

A crash between 2 and 3 leaves the row ``sending``; the sweep makes it ``unknown`` and it is
sent again, marked ``resent_after_unknown``; so is a row whose transport lost the answer
after handing the message over (a reply timeout after DATA, an SMS request with no answer).
Only one message is ever between the server's
answer and its record, so a crash may repeat one message; it never drops one.

Fault injection for the crash tests: ``SURVEIL_TEST_KILL_AT=point[:n][,...]`` makes the process
``os._exit(137)`` (no cleanup, like ``kill -9``) the n-th time (default 1st) it passes ``point``:
``after_claim`` (batch leased), ``after_sending`` (``sending`` committed, nothing sent) or
``after_smtp_accept`` (the transport accepted the message, the outcome not yet recorded).
Unset, the hook costs one dictionary lookup.
"""

import datetime as dt
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import jinja2
import sqlalchemy as sa
from sqlmodel import Session

from surveil.config import Settings
from surveil.core.reminders import ReminderPolicy
from surveil.db import claims
from surveil.db import models as m
from surveil.errors import TransportError
from surveil.services.reminders import dryrun, ledger
from surveil.services.reminders.digest import send_digest
from surveil.services.reminders.faults import KILL_ENV, failpoint
from surveil.services.reminders.ledger import Accepted, Outgoing
from surveil.services.reminders.outbox import list_reminders, preview_due, retry_reminder
from surveil.services.reminders.planning import effective_policy, plan_reminders
from surveil.services.reminders.sending import (
    Deferred,
    Loaded,
    Prepared,
    environment,
    load_many,
    prepare,
)
from surveil.transports import LogTransport, SmtpTransport, Transport, WebhookSmsTransport
from surveil.transports.base import OutgoingMessage

logger = logging.getLogger(__name__)

__all__ = [
    "KILL_ENV",
    "build_transports",
    "dispatch_due",
    "list_reminders",
    "plan_reminders",
    "preview_due",
    "retry_reminder",
    "send_digest",
    "sweep",
]

KILL_POINTS = ("after_claim", "after_sending", "after_smtp_accept")
RETRY_FIRST = dt.timedelta(minutes=1)
RETRY_MAX = dt.timedelta(hours=1)
# Consecutive transient failures after which a channel is left alone until the next round: a
# mail server that is down costs a few connection attempts per round, not one per reminder.
CHANNEL_DOWN_AFTER = 3
DEFERRED = "deferred"  # handed back to wait for the patient's preferred hours


# How old the send-time check may be: rows are read in small groups, never more than this
# before their send (a batch sent through a slow server is re-read as it goes).
CHECK_FRESH_SECONDS = 5.0
CHECK_GROUP = 25


@dataclass
class _Round:
    """One ``dispatch_due`` call: its settings, its clock, and what it has seen so far."""

    engine: sa.Connection  # one connection for the whole round
    transports: Mapping[str, Transport]
    settings: Settings
    worker: str
    now: dt.datetime
    policy: ReminderPolicy = field(init=False)
    env: jinja2.Environment = field(init=False)
    started: float = field(default_factory=time.monotonic)
    handled: int = 0
    failures: dict[str, int] = field(default_factory=dict)  # consecutive, per channel
    checked: dict[int, tuple[float, Loaded]] = field(default_factory=dict)
    # The last accepted message, recorded as sent in the same transaction that marks the next
    # one sending (one commit per reminder, not two). At most one is ever waiting here.
    unrecorded: list[Accepted] = field(default_factory=list)
    # PostgreSQL: an autocommit connection for the hot path, which is one statement there
    # (ledger.mark_sending). A statement is a transaction of its own, committed before it
    # returns, so nothing changes but the round trips: one instead of BEGIN, it and COMMIT.
    solo: sa.Connection | None = None

    def __post_init__(self) -> None:
        self.policy = effective_policy(self.settings)
        self.env = environment(self.settings.paths.templates)

    def clock(self) -> dt.datetime:
        """``now`` moving on with real time, so a long round keeps its leases honest."""
        return self.now + dt.timedelta(seconds=time.monotonic() - self.started)

    def record_sent(self, connection: sa.Connection) -> None:
        for sent in self.unrecorded:
            ledger.record_sent(connection, sent.job, sent.result, sent.at)
        self.unrecorded.clear()

    def flush(self) -> None:
        if self.unrecorded:
            with claims.transaction(self.engine) as connection:
                self.record_sent(connection)

    def down(self, channel: str) -> bool:
        return self.failures.get(channel, 0) >= CHANNEL_DOWN_AFTER

    def loaded(self, claimed: list[claims.Claim], index: int) -> Loaded | None:
        """The row ``claimed[index]``, read at most ``CHECK_FRESH_SECONDS`` ago."""
        rid = claimed[index].id
        seen = self.checked.get(rid)
        if seen is None or time.monotonic() - seen[0] > CHECK_FRESH_SECONDS:
            group = [c.id for c in claimed[index : index + CHECK_GROUP]]
            with claims.transaction(self.engine), Session(bind=self.engine) as session:
                fresh = load_many(session, group)
            read_at = time.monotonic()
            self.checked.update((k, (read_at, v)) for k, v in fresh.items())
            seen = self.checked.get(rid)
        return None if seen is None else seen[1]


def dispatch_due(
    engine: sa.Engine,
    transports: Mapping[str, Transport],
    settings: Settings,
    now: dt.datetime,
    worker: str,
    *,
    stop: threading.Event | None = None,
) -> int:
    """Send everything due at ``now`` on the channels in ``transports``; how many rows ended.

    Claims batches of ``daemon.batch_size`` until none is left, ``stop`` is set (the message in
    flight is finished, the rest of the batch handed back) or a channel looks down. Dry-run
    channels (``dryrun.py``) only note what they would send: those rows are not counted.
    """
    dry = dryrun.dry_channels(transports)
    if dry:
        dryrun.note_due(engine, dry, settings, now, worker)
        transports = {name: t for name, t in transports.items() if name not in dry}
    with engine.connect() as connection:
        run = _Round(connection, transports, settings, worker, now)
        if engine.dialect.name != "postgresql":
            return _dispatch(run, stop)
        with engine.connect() as solo:
            run.solo = solo.execution_options(isolation_level="AUTOCOMMIT")
            return _dispatch(run, stop)


def _dispatch(run: _Round, stop: threading.Event | None) -> int:
    try:
        _batches(run, stop)
    finally:
        run.flush()
    return run.handled


def _batches(run: _Round, stop: threading.Event | None) -> None:
    engine, worker, settings, transports = run.engine, run.worker, run.settings, run.transports
    batch = settings.daemon.batch_size
    while not (stop and stop.is_set()):
        claimed = claims.claim_due(
            engine,
            worker=worker,
            now=run.clock(),
            lease_seconds=settings.daemon.lease_seconds,
            limit=batch,
            channels=list(transports),
        )
        if not claimed:
            break
        failpoint("after_claim")
        for index, claim in enumerate(claimed):
            if stop and stop.is_set():
                claims.release(engine, [c.id for c in claimed[index:]], worker)
                break
            if run.down(claim.channel):
                claims.release(engine, [claim.id], worker)  # untouched: no attempt is counted
                continue
            _one(run, claimed, index)
        run.checked.clear()
        run.flush()
        if len(claimed) < batch or any(map(run.down, transports)):
            break


def _one(run: _Round, claimed: list[claims.Claim], index: int) -> None:
    claim = claimed[index]
    loaded = run.loaded(claimed, index)
    started = "lost" if loaded is None else start(run, loaded)
    if not isinstance(started, Outgoing):
        run.handled += started not in ("lost", DEFERRED)  # a deferred row has not ended
        return
    failpoint("after_sending")
    try:
        result = run.transports[claim.channel].send(started.message)
    except TransportError as error:
        finish_failed(
            run, started, str(error), permanent=error.permanent, unknown=error.outcome_unknown
        )
        if not error.permanent:
            run.failures[claim.channel] = run.failures.get(claim.channel, 0) + 1
    except Exception as error:  # a transport bug: the outcome is unknown, so retry it
        logger.exception("transport %s raised; will retry reminder %s", claim.channel, claim.id)
        finish_failed(run, started, repr(error), permanent=False)
        run.failures[claim.channel] = run.failures.get(claim.channel, 0) + 1
    else:
        failpoint("after_smtp_accept")
        run.unrecorded.append(Accepted(started, result, run.clock()))
        run.failures[claim.channel] = 0
    run.handled += 1


def start(run: _Round, loaded: Loaded) -> Outgoing | str:
    """Check, render and mark ``sending``; or end the row: "suppressed", "failed" or "lost".

    Every write is a compare-and-set on "still ours and still waiting", so a row whose lease
    ran out and moved on is left alone ("lost"). The previous message is recorded sent in the
    same transaction, whichever way this row goes.
    """
    row, now, worker = loaded.reminder, run.clock(), run.worker
    rid = row.id or 0
    with claims.transaction(run.engine), Session(bind=run.engine) as session:
        connection = session.connection()
        checked = _check(run, session, loaded, now)
        if isinstance(checked, _Unsent):
            run.record_sent(connection)
            return _end(session, rid, worker, now, checked.state, checked.why)
        if isinstance(checked, Deferred):
            run.record_sent(connection)
            deferred = ledger.defer(connection, rid, worker, checked.until, now)
            return DEFERRED if deferred else "lost"
        until = now + dt.timedelta(seconds=run.settings.daemon.lease_seconds)
        after = run.unrecorded.pop() if run.unrecorded else None
        if run.solo is None:
            marked = ledger.mark_sending(connection, rid, worker, until, now, after=after)
    if run.solo is not None:  # the check above wrote nothing: marking is a transaction alone
        marked = ledger.mark_sending(run.solo, rid, worker, until, now, after=after)
    if marked is None:  # no longer ours, or a STOP came in after the check above
        with claims.transaction(run.engine) as connection:
            stopped = ledger.end_if_stopped(connection, rid, worker, run.clock())
        return m.ReminderState.SUPPRESSED if stopped else "lost"
    attempts, attempt_id = marked
    address, rendered = checked
    message = OutgoingMessage(
        idempotency_key=row.idempotency_key,
        to=address,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        sms=rendered.sms,
        headers=rendered.headers,
    )
    return Outgoing(rid, attempt_id, attempts, row.channel, message)


class _Unsent(NamedTuple):
    state: str
    why: str


def _check(
    run: _Round, session: Session, loaded: Loaded, now: dt.datetime
) -> Prepared | Deferred | _Unsent:
    """The send-time check and the render; or how the row ends without being sent, or when
    it is to be tried instead."""
    row = loaded.reminder
    try:
        prepared = prepare(session, loaded, run.settings, run.policy, run.env, now)
    except Exception as error:  # a template or data bug: a human must look, not a loop
        logger.exception("cannot prepare reminder %s", row.id)
        return _Unsent(m.ReminderState.FAILED, f"cannot prepare: {error!r}")
    if isinstance(prepared, str):
        return _Unsent(m.ReminderState.SUPPRESSED, prepared)
    if isinstance(prepared, Deferred):
        return prepared
    if row.attempts >= run.settings.daemon.max_attempts:
        why = f"gave up after {row.attempts} attempts; last: {row.last_error}"
        return _Unsent(m.ReminderState.FAILED, why)
    return prepared


def _end(session: Session, rid: int, worker: str, now: dt.datetime, state: str, why: str) -> str:
    return (
        state if ledger.end_unsent(session.connection(), rid, worker, now, state, why) else "lost"
    )


def finish_failed(
    run: _Round, job: Outgoing, error: str, *, permanent: bool, unknown: bool = False
) -> None:
    """Failed for good, or waiting again after a backoff; only while the row is still ours.

    ``unknown``: the provider may have the message (see ``TransportError.outcome_unknown``);
    the row waits as ``unknown`` and its resend is marked."""
    now = run.clock()
    retry_at: dt.datetime | None = now + retry_delay(job.attempts)
    if permanent or job.attempts >= run.settings.daemon.max_attempts:
        retry_at = None
        if not permanent:
            error = f"gave up after {job.attempts} attempts: {error}"
    with claims.transaction(run.engine) as connection:
        run.record_sent(connection)
        ledger.record_failure(
            connection, job, run.worker, now, error, retry_at=retry_at, outcome_unknown=unknown
        )
    status = "failed" if retry_at is None else f"retry at {retry_at:%H:%M:%S} UTC"
    logger.warning("reminder %s: %s (%s)", job.reminder_id, status, error)


def retry_delay(attempts: int) -> dt.timedelta:
    """1, 2, 4 ... minutes, at most an hour: eight attempts span about two hours."""
    delay: dt.timedelta = RETRY_FIRST * 2 ** min(max(attempts - 1, 0), 16)
    return min(delay, RETRY_MAX)


def sweep(engine: sa.Engine, now: dt.datetime) -> claims.SweepResult:
    result = claims.sweep(engine, now)
    if result.unknown:
        logger.warning(
            "%d reminder(s) were being sent when a daemon stopped; they will be sent again: %s",
            len(result.unknown),
            result.unknown[:20],
        )
    return result


def build_transports(settings: Settings) -> dict[str, Transport]:
    """The channels this daemon can send on, by the outbox's channel names."""
    effective_policy(settings)  # refuses unknown transport names with a ConfigError
    transports: dict[str, Transport] = {}
    if settings.daemon.email_channel == "log":
        transports["email"] = LogTransport(dry_run=True)
    else:
        smtp = settings.smtp
        transports["email"] = SmtpTransport(
            host=smtp.host,
            port=smtp.port,
            sender=smtp.sender,
            security=smtp.security,  # type: ignore[arg-type]  # checked by the config loader
            username=smtp.username or None,
            password=smtp.password or None,
            timeout=smtp.timeout_seconds,
        )
    if settings.daemon.sms_channel == "log":
        transports["sms"] = LogTransport(dry_run=True)
    elif settings.sms.url:
        transports["sms"] = WebhookSmsTransport(
            url=settings.sms.url,
            auth_header=settings.sms.auth_header or None,
            timeout=settings.sms.timeout_seconds,
        )
    return transports
