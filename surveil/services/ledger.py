"""The outbox rows' writes and the delivery ledger: every change of a reminder's state is a
compare-and-set, and every attempt (sent, retry, failed, suppressed, unknown) is a ledger row.

The statements are built once: building them is a good part of the per-reminder cost.
"""

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from surveil.db import claims
from surveil.db import models as m
from surveil.transports.base import DeliveryResult, OutgoingMessage

R, A = claims.R, claims.A
TEXT_KEPT = 500  # characters of an error or a provider's answer kept in a row


@dataclass(frozen=True)
class Outgoing:
    """A row marked ``sending``, with its rendered message."""

    reminder_id: int
    attempt_id: int
    attempts: int
    channel: str
    message: OutgoingMessage


_MARK_SENDING = (
    sa.update(R)
    .where(
        R.c.id == sa.bindparam("rid"),
        R.c.lease_owner == sa.bindparam("worker"),
        R.c.state.in_(claims.CLAIMABLE),
    )
    .values(
        state=m.ReminderState.SENDING,
        attempts=R.c.attempts + 1,
        # The mark of a possible duplicate: the first try may have reached the server.
        resent_after_unknown=sa.or_(R.c.resent_after_unknown, R.c.state == m.ReminderState.UNKNOWN),
        lease_until=sa.bindparam("until"),
        updated_at=sa.bindparam("now"),
    )
    .returning(R.c.attempts)
)
_END_UNSENT = (
    sa.update(R)
    .where(
        R.c.id == sa.bindparam("rid"),
        R.c.lease_owner == sa.bindparam("worker"),
        R.c.state.in_(claims.CLAIMABLE),
    )
    .values(
        state=sa.bindparam("new_state"),
        suppressed_reason=sa.bindparam("reason"),
        last_error=sa.bindparam("error"),
        lease_owner=None,
        lease_until=None,
        updated_at=sa.bindparam("now"),
    )
)
_MARK_SENT = (
    sa.update(R)
    .where(R.c.id == sa.bindparam("rid"), R.c.state != m.ReminderState.SENT)
    .values(
        state=m.ReminderState.SENT,
        sent_at=sa.bindparam("now"),
        lease_owner=None,
        lease_until=None,
        next_attempt_at=None,
        last_error="",
        updated_at=sa.bindparam("now"),
    )
)
_OPEN_ATTEMPT = sa.insert(A).returning(A.c.id)
_CLOSE_ATTEMPT = (
    sa.update(A)
    .where(A.c.id == sa.bindparam("aid"))
    .values(
        status=sa.bindparam("status"),
        finished_at=sa.bindparam("now"),
        provider_response=sa.bindparam("response"),
    )
)


def mark_sending(
    connection: sa.Connection, rid: int, worker: str, until: dt.datetime, now: dt.datetime
) -> int | None:
    """Mark a row ``sending`` if it is still ours and waiting; its attempt count, or None."""
    attempts = connection.execute(
        _MARK_SENDING, {"rid": rid, "worker": worker, "until": until, "now": now}
    ).scalar()
    return None if attempts is None else int(attempts)


def open_attempt(connection: sa.Connection, rid: int, worker: str, now: dt.datetime) -> int:
    """The ``sending`` ledger row, committed before anything goes out."""
    return int(
        connection.execute(
            _OPEN_ATTEMPT,
            {"reminder_id": rid, "worker": worker, "started_at": now, "status": "sending"},
        ).scalar_one()
    )


def end_unsent(
    connection: sa.Connection, rid: int, worker: str, now: dt.datetime, state: str, why: str
) -> bool:
    """Close a row without sending it (suppressed or failed), saying why in the row and in the
    ledger; False if the row is no longer ours."""
    suppressed = state == m.ReminderState.SUPPRESSED
    changed = connection.execute(
        _END_UNSENT,
        {
            "rid": rid,
            "worker": worker,
            "now": now,
            "new_state": state,
            "reason": why[:64] if suppressed else None,
            "error": "" if suppressed else why[:TEXT_KEPT],
        },
    ).rowcount
    if not changed:
        return False
    connection.execute(
        sa.insert(A).values(
            reminder_id=rid,
            worker=worker,
            started_at=now,
            finished_at=now,
            status=state,
            provider_response=why[:TEXT_KEPT],
        )
    )
    return True


def record_sent(
    connection: sa.Connection, job: Outgoing, result: DeliveryResult, now: dt.datetime
) -> None:
    """Sent: whoever holds the row now, because the message is out (a later try would repeat it)."""
    connection.execute(_MARK_SENT, {"rid": job.reminder_id, "now": now})
    close_attempt(connection, job, now, "sent", result.response)


def record_failure(
    connection: sa.Connection,
    job: Outgoing,
    worker: str,
    now: dt.datetime,
    error: str,
    *,
    retry_at: dt.datetime | None,
) -> None:
    """Pending again until ``retry_at``, or failed for good (None); only while still ours."""
    values: dict[str, Any] = {"lease_owner": None, "lease_until": None, "updated_at": now}
    if retry_at is None:
        state, status = m.ReminderState.FAILED, "failed"
    else:
        state, status = m.ReminderState.PENDING, "retry"
        values["next_attempt_at"] = retry_at
    connection.execute(
        sa.update(R)
        .where(
            R.c.id == job.reminder_id,
            R.c.state == m.ReminderState.SENDING,
            R.c.lease_owner == worker,
        )
        .values(state=state, last_error=error[:TEXT_KEPT], **values)
    )
    close_attempt(connection, job, now, status, error)


def close_attempt(
    connection: sa.Connection, job: Outgoing, now: dt.datetime, status: str, response: str
) -> None:
    connection.execute(
        _CLOSE_ATTEMPT,
        {"aid": job.attempt_id, "status": status, "now": now, "response": response[:TEXT_KEPT]},
    )
