"""Dry-run channels: say what would go out, consume nothing.

A channel configured as ``"log"`` (the demo's, or a clinic trying the daemon before its mail
server is set up) gets a ``LogTransport(dry_run=True)``. Its due reminders are checked and
rendered exactly as a send would, the transport logs their keys, and the ledger gets one
``dry_run`` attempt per reminder ("would send", or "would not send" and why). The reminder
itself is left as it was: still pending, no attempt counted, no lease. So when the channel is
switched to a real transport, what is still due goes out, and what is no longer due (the
window closed, the item done, the patient opted out) is suppressed by the send-time check,
as for any reminder.

Each reminder is noted once (the ledger row is the mark), so a dry daemon running for weeks
adds one ledger row per reminder, not one per round. On PostgreSQL the rows are picked with
``FOR UPDATE SKIP LOCKED``, so two dry daemons do not note the same reminder twice.
"""

import datetime as dt
import logging
from collections.abc import Mapping

import sqlalchemy as sa
from sqlmodel import Session

from surveil.config import Settings
from surveil.db import claims
from surveil.services.reminders.planning import effective_policy
from surveil.services.reminders.sending import Deferred, environment, load_many, prepare
from surveil.transports import OutgoingMessage, Transport

logger = logging.getLogger(__name__)

R, A = claims.R, claims.A
DRY_RUN = "dry_run"  # the ledger status of a reminder a dry-run channel would have sent
WOULD_SEND = "would send (dry run: nothing sent, still waiting)"
WOULD_NOT_SEND = "would not send (dry run)"
WOULD_WAIT = "would wait for the patient's hours (dry run), until"
_KEPT = 500


def dry_channels(transports: Mapping[str, Transport]) -> dict[str, Transport]:
    """The channels whose transport only pretends to send."""
    return {name: t for name, t in transports.items() if getattr(t, "dry_run", False)}


def _not_noted() -> sa.ColumnElement[bool]:
    return ~sa.exists().where(A.c.reminder_id == R.c.id, A.c.status == DRY_RUN)


def note_due(
    engine: sa.Engine | sa.Connection,
    transports: Mapping[str, Transport],
    settings: Settings,
    now: dt.datetime,
    worker: str,
) -> int:
    """Note every reminder due at ``now`` on the dry-run ``transports`` that is not noted yet;
    how many were noted. Nothing but the ledger changes."""
    if not transports:
        return 0
    batch = settings.daemon.batch_size
    noted = 0
    while True:
        with claims.transaction(engine) as connection:
            ids = list(
                connection.execute(
                    sa.select(R.c.id)
                    .where(claims.due(now), R.c.channel.in_(list(transports)), _not_noted())
                    .order_by(R.c.send_after, R.c.id)
                    .limit(batch)
                    .with_for_update(skip_locked=True)
                ).scalars()
            )
            if ids:
                _note(connection, ids, transports, settings, now, worker)
        noted += len(ids)
        if len(ids) < batch:
            break
    if noted:
        logger.info("dry run: %d reminder(s) would have been sent or suppressed", noted)
    return noted


def _note(
    connection: sa.Connection,
    ids: list[int],
    transports: Mapping[str, Transport],
    settings: Settings,
    now: dt.datetime,
    worker: str,
) -> None:
    policy = effective_policy(settings)
    env = environment(settings.paths.templates)
    with Session(bind=connection) as session:
        loaded = load_many(session, ids)
        for rid in ids:
            row = loaded.get(rid)
            if row is None:
                continue
            reminder = row.reminder
            try:
                prepared = prepare(session, row, settings, policy, env, now)
            except Exception as error:  # noqa: BLE001  (as a send would: a human must look)
                outcome = f"{WOULD_NOT_SEND}: cannot prepare: {error!r}"
            else:
                if isinstance(prepared, str):
                    outcome = f"{WOULD_NOT_SEND}: {prepared}"
                elif isinstance(prepared, Deferred):
                    outcome = f"{WOULD_WAIT} {prepared.until:%Y-%m-%d %H:%M} UTC"
                else:
                    address, message = prepared
                    transports[reminder.channel].send(
                        OutgoingMessage(
                            reminder.idempotency_key, address, message.subject, message.text,
                            message.html, message.sms,
                        )
                    )  # fmt: skip
                    outcome = WOULD_SEND
            session.connection().execute(
                sa.insert(A).values(
                    reminder_id=rid,
                    worker=worker,
                    started_at=now,
                    finished_at=now,
                    status=DRY_RUN,
                    provider_response=outcome[:_KEPT],
                )
            )
