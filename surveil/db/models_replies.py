"""Patients' answers to reminders (issue 18 point 3): replies by text message and by the links in
a reminder e-mail, and the channels a patient stopped.

Beside ``models.py`` (near 600 lines) and re-exported at its end like the delivery tables.
"""

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from surveil.core.replies import Reply as ReplyKind
from surveil.db.base import created_field, fk, one_of

__all__ = ["ChannelOptOut", "InboundReply", "ReplyKind"]


class InboundReply(SQLModel, table=True):
    """One answer from a patient, applied once.

    ``dedupe_key`` is unique: ``sms:<provider message id>`` for a text, ``link:<SHA-256 of the
    token>`` for a link. A provider's retry, a replayed webhook and a second click on a used link
    all hit it and change nothing; the link token itself is never stored, only its hash.
    """

    __tablename__ = "inbound_reply"
    __table_args__ = (
        one_of("kind", ReplyKind),
        one_of("channel", ("email", "sms")),
        # The navigators' "replies" section: open rows, oldest first.
        sa.Index("ix_inbound_reply_open", "needs_action", "handled_at", "received_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(max_length=200, unique=True)
    channel: str = Field(max_length=8)
    kind: str = Field(max_length=16)
    patient_id: int | None = fk("patient.id", nullable=True, ondelete="CASCADE")
    reminder_id: int | None = fk("reminder.id", nullable=True, ondelete="SET NULL")
    item_id: int | None = fk("followup_item.id", nullable=True, ondelete="SET NULL")
    text: str = Field(default="", max_length=480)  # what the patient wrote (SMS only)
    # The number of a text nobody's number matched, until a navigator matches or dismisses it.
    sender: str | None = Field(default=None, max_length=32)
    received_at: dt.datetime = created_field()
    needs_action: bool = False  # on the navigators' worklist until handled
    handled_at: dt.datetime | None = None
    handled_by: str | None = Field(default=None, max_length=64)
    handled_note: str = Field(default="", max_length=500)


class ChannelOptOut(SQLModel, table=True):
    """A patient stopped one channel (STOP by text, "stop" link, List-Unsubscribe). Nothing more
    is sent on it: the send-time check and the ``sending`` mark both look for this row."""

    __tablename__ = "channel_opt_out"
    __table_args__ = (one_of("channel", ("email", "sms")),)

    patient_id: int = Field(
        sa_column=sa.Column(
            sa.Integer,
            sa.ForeignKey("patient.id", ondelete="CASCADE"),
            primary_key=True,
            nullable=False,
        )
    )
    channel: str = Field(primary_key=True, max_length=8)
    since: dt.datetime = created_field()
    reply_id: int | None = fk("inbound_reply.id", nullable=True, ondelete="SET NULL")
