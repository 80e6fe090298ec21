"""The life of a follow-up item beyond its state: booking attempts and coded reasons.

Both tables are append-mostly histories beside ``followup_item`` (whose columns stay as they
are): a booking that is cancelled or missed keeps its row with how it ended, and every decline,
not-needed, snooze, override, outside-window booking and reopening keeps its coded reason, so a
report can count them by rule and reason.
"""

import datetime as dt
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from surveil.db.base import created_field, fk, one_of


class BookingWindow(StrEnum):
    """Where the appointment falls against the item's due window."""

    INSIDE = "inside"
    BEFORE = "before"
    AFTER = "after"


class BookingStatus(StrEnum):
    ACTIVE = "active"  # the appointment to come (or passed, with no result yet)
    DONE = "done"  # the item was recorded done
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"
    REOPENED = "reopened"  # the item was closed another way and then reopened


class BookingAttempt(SQLModel, table=True):
    """One booking of one item: kept when cancelled or missed (an attempts history)."""

    __tablename__ = "booking_attempt"
    __table_args__ = (
        one_of("placement", BookingWindow),
        one_of("status", BookingStatus),
        sa.Index("ix_booking_attempt_item_status", "item_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = fk("followup_item.id", index=False)
    patient_id: int = fk("patient.id")
    booked_at: dt.datetime
    placement: str = Field(max_length=8)  # inside, before or after the window
    reason_code: str | None = Field(default=None, max_length=32)
    reason_text: str = Field(default="", max_length=300)
    status: str = Field(default=BookingStatus.ACTIVE, max_length=12)
    booked_by: str = Field(max_length=64)
    ended_by: str | None = Field(default=None, max_length=64)
    ended_at: dt.datetime | None = None
    end_note: str = Field(default="", max_length=300)
    created_at: dt.datetime = created_field()


class CodedReason(SQLModel, table=True):
    """Why a person closed, held, moved or reopened something: a code from the clinic's list
    (``[reasons]`` in the config) and free text. One row per decision, never edited."""

    __tablename__ = "coded_reason"
    __table_args__ = (sa.Index("ix_coded_reason_action_rule", "action", "rule_id"),)

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = fk("patient.id")
    action: str = Field(max_length=32)  # item.declined, item.snoozed, override.added, ...
    subject: str = Field(max_length=64)  # item:12, override:3
    rule_id: str = Field(max_length=64)  # the item's rule, or override:<kind>
    code: str = Field(max_length=32)
    note: str = Field(default="", max_length=300)
    actor: str = Field(max_length=64)
    created_at: dt.datetime = created_field()
