"""Patients' replies as the record shows them: read by the message history
(``services.reminders.history``) and the patient page (``services.registry.record``), which
may not import each other's packages (the reminders import the registry)."""

import sqlalchemy as sa

from surveil.db.models_replies import ChannelOptOut, InboundReply

Q: sa.Table = InboundReply.__table__  # type: ignore[attr-defined]
OPT_OUT: sa.Table = ChannelOptOut.__table__  # type: ignore[attr-defined]


def replies_to(connection: sa.Connection, reminder_ids: list[int]) -> dict[int, str]:
    """The patient's answer to each of these reminders, in words, for the message history."""
    found: dict[int, str] = {}
    for start in range(0, len(reminder_ids), 500):
        for row in connection.execute(
            sa.select(Q.c.reminder_id, Q.c.kind, Q.c.channel, Q.c.received_at, Q.c.text)
            .where(Q.c.reminder_id.in_(reminder_ids[start : start + 500]))
            .order_by(Q.c.received_at, Q.c.id)
        ):
            said = f' "{row.text}"' if row.text else ""
            words = f"{row.kind} by {row.channel}{said}"
            previous = found.get(row.reminder_id)
            found[row.reminder_id] = f"{previous}; {words}" if previous else words
    return found


def stopped_channels(connection: sa.Connection, patient_id: int) -> tuple[str, ...]:
    """The channels the patient has stopped (STOP, a stop link, List-Unsubscribe)."""
    rows = connection.execute(
        sa.select(OPT_OUT.c.channel)
        .where(OPT_OUT.c.patient_id == patient_id)
        .order_by(OPT_OUT.c.channel)
    )
    return tuple(rows.scalars())
