"""Delivery tables: the reminder outbox and its attempts, the daemon's lease and heartbeat, and
the patients' calendar-feed tokens.

Beside ``models.py`` (which would otherwise pass 600 lines) and re-exported at its end, so callers
keep saying ``m.Reminder`` like any other table.
"""

import datetime as dt
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from surveil.db.base import created_field, fk, one_of


class ReminderState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    UNKNOWN = "unknown"


class Reminder(SQLModel, table=True):
    """One message to send (the outbox row). The idempotency key makes re-planning harmless."""

    __table_args__ = (
        one_of("state", ReminderState),
        one_of("channel", ("email", "sms", "log")),
        sa.Index("ix_reminder_due", "state", "send_after"),
        # A patient reminder, or a navigator's digest (user_id): one or the other.
        sa.CheckConstraint(
            "(patient_id IS NULL) <> (user_id IS NULL)", name="patient_or_navigator"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=128, unique=True)
    patient_id: int | None = fk("patient.id", nullable=True, ondelete="CASCADE")
    user_id: int | None = fk("user_account.id", nullable=True, ondelete="CASCADE")
    item_id: int | None = fk("followup_item.id", nullable=True, ondelete="SET NULL")
    stage: str = Field(max_length=32)
    channel: str = Field(max_length=8)
    recipient: str = Field(default="patient", max_length=16)
    template: str = Field(max_length=64)
    urgent: bool = False
    state: str = Field(default=ReminderState.PENDING, max_length=12)
    send_after: dt.datetime
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: dt.datetime | None = None
    attempts: int = 0
    next_attempt_at: dt.datetime | None = None
    last_error: str = Field(default="", max_length=500)
    suppressed_reason: str | None = Field(default=None, max_length=64)
    resent_after_unknown: bool = False
    sent_at: dt.datetime | None = None
    created_at: dt.datetime = created_field()
    updated_at: dt.datetime = created_field()


class DeliveryAttempt(SQLModel, table=True):
    """The ledger: every attempt to send a reminder, whatever its outcome."""

    __tablename__ = "delivery_attempt"

    id: int | None = Field(default=None, primary_key=True)
    reminder_id: int = fk("reminder.id")
    worker: str = Field(max_length=64)
    started_at: dt.datetime = created_field()
    finished_at: dt.datetime | None = None
    status: str = Field(max_length=16)
    provider_response: str = Field(default="", max_length=500)


class DaemonLease(SQLModel, table=True):
    """Leader election without advisory locks: whoever holds an unexpired lease leads."""

    __tablename__ = "daemon_lease"

    name: str = Field(primary_key=True, max_length=32)
    holder: str = Field(max_length=64)
    epoch: int = 0
    expires_at: dt.datetime


class Heartbeat(SQLModel, table=True):
    worker: str = Field(primary_key=True, max_length=64)
    hostname: str = Field(max_length=128)
    pid: int
    started_at: dt.datetime
    last_seen: dt.datetime
    last_job: str = Field(default="", max_length=32)


class FeedToken(SQLModel, table=True):
    """A calendar-feed capability. Only the SHA-256 of the token is stored."""

    __tablename__ = "feed_token"

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = fk("patient.id")
    token_hash: str = Field(max_length=64, unique=True)
    public_id: str = Field(max_length=32, unique=True)
    label: str = Field(default="", max_length=64)
    created_by: str = Field(default="", max_length=64)
    created_at: dt.datetime = created_field()
    revoked_at: dt.datetime | None = None
    last_seen_at: dt.datetime | None = None
    fetch_count: int = 0
