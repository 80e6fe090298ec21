"""A patient's message history: every reminder with its channel, state, the reason it was not
sent, every attempt the ledger holds, and the patient's reply (issue #18 point 6).

``message_history`` is an audited read for shells (the patient page, the JSON API): it checks
that the actor may see the patient, reads the outbox rows and their ledger in one transaction,
and records the look in that transaction. Nothing here shows an address or a message body:
the rows hold neither.
"""

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from surveil.db import claims
from surveil.db import models as m
from surveil.db.base import as_utc
from surveil.db.session import session_scope
from surveil.services.actor import Actor
from surveil.services.audit import audit
from surveil.services.entry import audited_read
from surveil.services.reminders.replies import replies_to
from surveil.services.users.accounts import visible_patient

R, A = claims.R, claims.A
F: sa.Table = m.FollowUpItem.__table__  # type: ignore[attr-defined]
HISTORY_LIMIT = 200


@dataclass(frozen=True)
class Attempt:
    """One ledger row: ``sending``, ``sent``, ``retry``, ``unknown``, ``failed``,
    ``suppressed`` or ``dry_run``, and what the provider (or the check) said."""

    status: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    response: str


@dataclass(frozen=True)
class MessageEntry:
    id: int
    channel: str
    state: str
    stage: str
    about: str  # the item kind ("" when the item is gone)
    template: str
    due_at: dt.datetime  # when it was (or is) due to go, UTC
    sent_at: dt.datetime | None
    reason: str  # why it was not sent, or the last error; "" when sent or waiting
    possible_duplicate: bool  # sent again after an unknown outcome
    attempts: tuple[Attempt, ...]
    reply: str | None = None  # the patient's answer(s): 'confirm by email', 'stop by sms "STOP"'


@audited_read("messages.viewed")
def message_history(
    engine: sa.Engine, *, actor: Actor, patient_id: int, limit: int = HISTORY_LIMIT
) -> list[MessageEntry]:
    """The patient's messages, newest due first, each with its ledger, oldest attempt first."""
    with session_scope(engine) as session:
        visible_patient(session, actor=actor, patient_id=patient_id)
        connection = session.connection()
        rows = connection.execute(
            sa.select(R, F.c.kind)
            .select_from(R.outerjoin(F, F.c.id == R.c.item_id))
            .where(R.c.patient_id == patient_id)
            .order_by(R.c.send_after.desc(), R.c.id.desc())
            .limit(limit)
        ).all()
        ledger: dict[int, list[Attempt]] = {}
        ids = [row.id for row in rows]
        for start in range(0, len(ids), 500):
            for attempt in connection.execute(
                sa.select(A)
                .where(A.c.reminder_id.in_(ids[start : start + 500]))
                .order_by(A.c.started_at, A.c.id)
            ):
                ledger.setdefault(attempt.reminder_id, []).append(
                    Attempt(
                        attempt.status,
                        as_utc(attempt.started_at),
                        as_utc(attempt.finished_at) if attempt.finished_at else None,
                        attempt.provider_response,
                    )
                )
        answers = replies_to(connection, ids)
        audit(
            session,
            actor=actor,
            action="messages.viewed",
            patient_id=patient_id,
            subject=f"patient:{patient_id}",
            detail=f"{len(rows)} message(s)",
            channel=actor.channel,
        )
    return [_entry(row, tuple(ledger.get(row.id, ())), answers.get(row.id)) for row in rows]


def _entry(
    row: sa.Row[tuple[object, ...]], attempts: tuple[Attempt, ...], reply: str | None
) -> MessageEntry:
    r = row._mapping
    reason = r["suppressed_reason"] or r["last_error"] or ""
    return MessageEntry(
        id=r["id"],
        channel=r["channel"],
        state=r["state"],
        stage=r["stage"],
        about=r["kind"] or "",
        template=r["template"],
        due_at=as_utc(r["send_after"]),
        sent_at=as_utc(r["sent_at"]) if r["sent_at"] else None,
        reason=reason,
        possible_duplicate=bool(r["resent_after_unknown"]),
        attempts=attempts,
        reply=reply,
    )
