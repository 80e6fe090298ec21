"""The outbox rows' writes and the delivery ledger: every change of a reminder's state is a
compare-and-set, and every attempt (sent, retry, failed, suppressed, unknown) is a ledger row.

The statements are built once: building them is a good part of the per-reminder cost. On
PostgreSQL the hot path (record the previous message sent, mark this one ``sending``, open its
attempt) is one statement with data-modifying CTEs: three round trips fewer per reminder, in the
same transaction as before, so the guarantees do not change. SQLite runs the same steps as
separate statements, which cost no round trip there.
"""

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from surveil.db import claims
from surveil.db import models as m
from surveil.transports.base import DeliveryResult, OutgoingMessage

R, A = claims.R, claims.A
OPT_OUT: sa.Table = m.ChannelOptOut.__table__  # type: ignore[attr-defined]
TEXT_KEPT = 500  # characters of an error or a provider's answer kept in a row


@dataclass(frozen=True)
class Outgoing:
    """A row marked ``sending``, with its rendered message."""

    reminder_id: int
    attempt_id: int
    attempts: int
    channel: str
    message: OutgoingMessage


# A STOP on the row's channel (``channel_opt_out``) is checked in the very statement that marks
# the row ``sending``: a STOP committed after the send-time check, while the row was claimed,
# still stops it (issue 18). The lookup is one probe of the opt-out table's primary key.
STOPPED = sa.exists().where(
    OPT_OUT.c.patient_id == R.c.patient_id, OPT_OUT.c.channel == R.c.channel
)
_MARK_SENDING = (
    sa.update(R)
    .where(
        R.c.id == sa.bindparam("rid"),
        R.c.lease_owner == sa.bindparam("claimant"),
        R.c.state.in_(claims.CLAIMABLE),
        ~STOPPED,
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


def _mark_sent_statement(rid: str, now: str) -> sa.Update:
    return (
        sa.update(R)
        .where(R.c.id == sa.bindparam(rid), R.c.state != m.ReminderState.SENT)
        .values(
            state=m.ReminderState.SENT,
            sent_at=sa.bindparam(now),
            lease_owner=None,
            lease_until=None,
            next_attempt_at=None,
            last_error="",
            updated_at=sa.bindparam(now),
        )
    )


def _close_attempt_statement(aid: str, now: str, response: str, status: str = "sent") -> sa.Update:
    return (
        sa.update(A)
        .where(A.c.id == sa.bindparam(aid))
        .values(
            status=sa.bindparam("status", status),
            finished_at=sa.bindparam(now),
            provider_response=sa.bindparam(response),
        )
    )


_MARK_SENT = _mark_sent_statement("rid", "now")
_OPEN_ATTEMPT = sa.insert(A).returning(A.c.id)
_CLOSE_ATTEMPT = _close_attempt_statement("aid", "now", "response")


@dataclass(frozen=True)
class Accepted:
    """A message the provider accepted whose ``sent`` is not recorded yet."""

    job: Outgoing
    result: DeliveryResult
    at: dt.datetime


def _sending_in_one(*, after_sent: bool) -> sa.Select[Any]:
    """PostgreSQL: mark ``sending`` and open the attempt (and, ``after_sent``, record the
    previous message sent) in one statement. The attempt is inserted from the marked row, so a
    row that is no longer ours gets none; PostgreSQL runs every data-modifying CTE to the end,
    so the previous message is recorded either way. The CTEs touch different rows: sharing
    one snapshot changes nothing."""
    marked = _MARK_SENDING.returning(R.c.id).cte("marked")
    opened = (
        sa.insert(A)
        .from_select(
            ["reminder_id", "worker", "started_at", "status", "provider_response"],
            sa.select(
                marked.c.id,
                sa.bindparam("claimant"),
                sa.bindparam("now"),
                sa.literal("sending"),
                sa.literal(""),  # named, else the column default is a parameter to pass
            ),
        )
        .returning(A.c.id, A.c.reminder_id)
        .cte("opened")
    )
    query = sa.select(marked.c.attempts, opened.c.id).join_from(
        marked, opened, opened.c.reminder_id == marked.c.id
    )
    if not after_sent:
        return query
    sent = _mark_sent_statement("sent_rid", "accepted_at").cte("sent")
    closed = _close_attempt_statement("sent_aid", "accepted_at", "sent_response").cte("closed")
    return query.add_cte(sent, closed)


_SENDING = _sending_in_one(after_sent=False)
_SENDING_AFTER_SENT = _sending_in_one(after_sent=True)


def mark_sending(
    connection: sa.Connection,
    rid: int,
    worker: str,
    until: dt.datetime,
    now: dt.datetime,
    *,
    after: Accepted | None = None,
) -> tuple[int, int] | None:
    """Mark a row ``sending`` if it is still ours and waiting, and open its ``sending`` attempt
    (committed before anything goes out); its attempt count and attempt id, or None.

    ``after`` (the previous message) is recorded sent in the same transaction, whatever
    happens to this row.
    """
    # No parameter may be named like a column: SQLAlchemy would add it to every UPDATE's SET.
    values: dict[str, Any] = {"rid": rid, "claimant": worker, "until": until, "now": now}
    if connection.dialect.name != "postgresql":
        if after is not None:
            record_sent(connection, after.job, after.result, after.at)
        attempts = connection.execute(_MARK_SENDING, values).scalar()
        if attempts is None:
            return None
        opened = {"reminder_id": rid, "worker": worker, "started_at": now, "status": "sending"}
        return int(attempts), int(connection.execute(_OPEN_ATTEMPT, opened).scalar_one())
    if after is not None:
        values |= {
            "sent_rid": after.job.reminder_id,
            "sent_aid": after.job.attempt_id,
            "accepted_at": after.at,
            "sent_response": after.result.response[:TEXT_KEPT],
        }
    row = connection.execute(_SENDING_AFTER_SENT if after else _SENDING, values).first()
    return None if row is None else (int(row[0]), int(row[1]))


def end_if_stopped(connection: sa.Connection, rid: int, worker: str, now: dt.datetime) -> bool:
    """Suppress a row that ``mark_sending`` refused because the patient stopped its channel
    in the meantime; False if it was refused for another reason (no longer ours)."""
    stopped = connection.execute(sa.select(R.c.id).where(R.c.id == rid, STOPPED)).first()
    return stopped is not None and end_unsent(
        connection, rid, worker, now, m.ReminderState.SUPPRESSED, "opted out"
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
    outcome_unknown: bool = False,
) -> None:
    """Pending again until ``retry_at``, or failed for good (None); only while still ours.

    ``outcome_unknown``: the provider may have the message. The attempt says ``unknown``, not
    ``retry``, and the row waits as ``unknown``, so its resend is marked
    ``resent_after_unknown`` (as after a crash mid-send).
    """
    values: dict[str, Any] = {"lease_owner": None, "lease_until": None, "updated_at": now}
    if retry_at is None:
        state, status = m.ReminderState.FAILED, "failed"
    else:
        state, status = m.ReminderState.PENDING, "retry"
        values["next_attempt_at"] = retry_at
    if outcome_unknown:
        status = "unknown"
        state = m.ReminderState.FAILED if retry_at is None else m.ReminderState.UNKNOWN
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


def defer(
    connection: sa.Connection, rid: int, worker: str, until: dt.datetime, now: dt.datetime
) -> bool:
    """Hand a row back to wait until ``until`` (the patient's preferred hours), its state and
    attempt count unchanged: nothing was tried. False if the row is no longer ours."""
    changed = connection.execute(
        sa.update(R)
        .where(R.c.id == rid, R.c.lease_owner == worker, R.c.state.in_(claims.CLAIMABLE))
        .values(next_attempt_at=until, lease_owner=None, lease_until=None, updated_at=now)
    ).rowcount
    return bool(changed)
