"""``surveil hl7 listen``: the MLLP server on asyncio streams.

For each message: store and apply it (one transaction, committed), then answer with its ACK.
The database work runs in a worker thread so one slow message does not stall other
connections; messages on one connection are answered in order, one ACK each. On start the
listener applies what a killed listener stored but did not apply, and clears raw text older
than the retention time.

A result's triggers and replan are not run per message: the result is stored, closes its item
and is marked due in the transaction that applies it (then ACKed), and a refresher thread runs
the triggers and replan of every patient a burst touched in one transaction, ``COALESCE_SECONDS``
after the first result of the burst (``services.hl7.refresh``): one patient alone costs about
fifteen times what a patient in a batch does. A mark left by a killed listener is refreshed by
the next one when it starts. On SQLite the listener's own writes take turns on a lock instead of
SQLite's busy wait, which sleeps in steps of up to 100 ms.

``SURVEIL_CRASH_TEST_HL7_PAUSE`` (``after_persist`` or ``before_refresh``)
makes the listener wait at that point: the crash tests kill it there with SIGKILL. It is read
once at start and does nothing unless set.
"""

import asyncio
import contextlib
import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Callable

import sqlalchemy as sa

from surveil.config import Settings
from surveil.core.vocab import Channel
from surveil.core.zones import today_in
from surveil.hl7.mllp import Deframer, FrameTooLarge, frame
from surveil.services.actor import Actor
from surveil.services.hl7 import refresh, store
from surveil.services.hl7.ack import build_ack
from surveil.services.hl7.parse import Header, Unreadable, decode, read

log = logging.getLogger(__name__)

PAUSE_ENV = "SURVEIL_CRASH_TEST_HL7_PAUSE"
PURGE_SECONDS = 24 * 3600
# How long the refresher lets a burst of results gather before it refreshes their patients:
# short beside what a person notices, long beside one message (a few milliseconds). A patient
# costs less in a larger batch (measured: 1.7 ms a message in batches of 25, 1.15 in 50, 0.9
# in 200); half a second gathers about a hundred at 200 messages a second.
COALESCE_SECONDS = 0.5


class Listener:
    def __init__(self, engine: sa.Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self.actor = Actor.system(Channel.HL7, clinic=settings.clinic.name)
        self.pause_at = os.environ.get(PAUSE_ENV, "")
        self.coalesce_seconds = COALESCE_SECONDS
        self._due = threading.Event()  # a result waits for its refresh
        self._stopping = threading.Event()
        # SQLite has one writer: the listener's threads queue here, woken at once, rather than
        # in SQLite's busy handler. PostgreSQL's row locks need no such turn.
        sqlite = engine.dialect.name == "sqlite"
        self._writes: contextlib.AbstractContextManager[object] = (
            threading.Lock() if sqlite else contextlib.nullcontext()
        )

    def today(self) -> dt.date:
        return today_in(self.settings.clinic.timezone, dt.datetime.now(dt.UTC))

    def handle(self, raw: bytes) -> str:
        """Store, apply, and word the ACK for one message (blocking: runs in a thread)."""
        with self._writes:  # stored and applied in one transaction, committed before the ACK
            receipt = store.receive_and_apply(
                self.engine,
                actor=self.actor,
                raw=raw,
                settings=self.settings,
                today=self.today(),
                defer_refresh=True,
            )
        if receipt.state == "applied":
            self._due.set()
        self._pause("after_persist")
        log.info("hl7 message %s %s -> %s", receipt.message_id, receipt.state, receipt.ack_code)
        return build_ack(
            receipt.ack_code,
            header=receipt.header,
            reason=_ack_words(receipt.state, receipt.reason),
            now=dt.datetime.now(dt.UTC),
            raw_digest=receipt.sha256,
        )

    def answer(self, raw: bytes) -> str:
        """``handle``, or an AE when surveil itself failed (the database gone, a bug): the
        message is then either not stored (the engine resends it) or stored and applied by the
        next recovery; either way the sender is told it was not applied."""
        try:
            return self.handle(raw)
        except Exception:
            log.exception("hl7 message not handled")
            return build_ack(
                "AE",
                header=_header_or_none(raw),
                reason="surveil could not process the message now; send it again",
                now=dt.datetime.now(dt.UTC),
            )

    def _pause(self, point: str) -> None:
        if self.pause_at == point:
            log.warning("paused %s for a crash test", point)
            time.sleep(3600)

    def recover(self) -> int:
        """Apply what was stored and never applied, and refresh what was applied and never
        refreshed; returns how many messages were applied."""
        done = 0
        for message_id in store.pending_ids(self.engine):
            store.apply_message(
                self.engine,
                actor=self.actor,
                message_id=message_id,
                settings=self.settings,
                today=self.today(),
                defer_refresh=True,
            )
            done += 1
        self.settle()
        self.purge()
        return done

    def settle(self, *, until_empty: bool = True) -> int:
        """Refresh now the patients whose results wait for it; returns how many messages.
        The refresher stops after a partial batch (``until_empty=False``): what arrived during
        it waits for the next window, so a steady stream is refreshed in bursts, not one by one."""
        total = 0
        while True:
            with self._writes:
                done = refresh.refresh_due(
                    self.engine, actor=self.actor, settings=self.settings, today=self.today()
                )
            total += done
            if not done or (done < refresh.BATCH and not until_empty):
                return total

    def refresher(self) -> None:
        """The refresher thread: after the first result of a burst, wait for the rest of it,
        then refresh all their patients together."""
        # When a patient whose refresh failed is due again (one may be waiting from before
        # this start: ``recover`` leaves those whose wait is not over).
        retry_at = refresh.next_retry(self.engine)
        while not self._stopping.is_set():
            if not self._due.wait(1.0) and (retry_at is None or _now() < retry_at):
                continue
            self._stopping.wait(self.coalesce_seconds)
            self._due.clear()
            self._pause("before_refresh")
            try:
                self.settle(until_empty=False)
                retry_at = refresh.next_retry(self.engine)
            except Exception:  # the marks stay: the next burst, or the next start, retries
                log.exception("hl7 refresh failed")
                self._stopping.wait(5)

    def stop(self) -> None:
        self._stopping.set()

    def purge(self) -> int:
        """Clear the raw text of messages past the retention time (at start, then daily)."""
        return store.purge_raw(
            self.engine,
            actor=self.actor,
            days=self.settings.hl7.retention_days,
            now=dt.datetime.now(dt.UTC),
        )

    async def connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        deframer = Deframer()
        try:
            while data := await reader.read(65536):
                for raw in deframer.feed(data):
                    ack = await asyncio.to_thread(self.answer, raw)
                    writer.write(frame(ack))
                    await writer.drain()
        except FrameTooLarge as error:
            log.warning("hl7 connection closed: %s", error)
        except ConnectionError:
            pass
        finally:
            writer.close()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _header_or_none(raw: bytes) -> Header | None:
    try:
        return read(decode(raw))[1]
    except Unreadable as error:
        return error.header


def _ack_words(state: str, reason: str) -> str:
    if state == "applied":
        return "applied"
    if state == "queued":
        return f"queued for a navigator: {reason}"
    if state == "dismissed":
        return "already handled by a navigator"
    return reason or state


async def serve(
    listener: Listener, host: str, port: int, ready: Callable[[int], None] | None = None
) -> None:
    recovered = await asyncio.to_thread(listener.recover)
    threading.Thread(target=listener.refresher, name="hl7-refresher", daemon=True).start()
    server = await asyncio.start_server(listener.connection, host, port)
    bound = server.sockets[0].getsockname()[1]
    log.info("hl7 listening on %s:%s (recovered %s stored message(s))", host, bound, recovered)
    if ready is not None:
        ready(bound)
    purging = asyncio.create_task(_purge_daily(listener))
    try:
        async with server:
            await server.serve_forever()
    finally:
        purging.cancel()
        listener.stop()


async def _purge_daily(listener: Listener) -> None:
    while True:
        await asyncio.sleep(PURGE_SECONDS)
        try:
            await asyncio.to_thread(listener.purge)
        except Exception:  # the next day tries again; the listener keeps listening
            log.exception("hl7 retention purge failed")
