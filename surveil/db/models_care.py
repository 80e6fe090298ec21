"""Tables for keeping the record honest and for reaching the patient (issue 13 part B-2): the
columns that strike out or replace a mistyped result, the doses given of a therapy (each SSA
injection), and the navigator's outreach log. Kept beside ``models.py`` so that file stays small;
``models.py`` imports this module, so every table is on the same metadata."""

import datetime as dt
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from surveil.db.base import created_field, fk, one_of


class OutreachChannel(StrEnum):
    CALL = "call"
    LETTER = "letter"
    MESSAGE = "message"


class OutreachResult(StrEnum):
    REACHED = "reached"
    VOICEMAIL = "voicemail"
    NO_ANSWER = "no_answer"
    WRONG_NUMBER = "wrong_number"
    WILL_BOOK = "will_book"
    DECLINED = "declined"


class Correctable(SQLModel):
    """A result that can be struck out (kept, with who, when and why) or replaced by a
    correction (a new row whose ``replaces_id`` names this one). Rows are never edited in
    place; growth and marker triggers read only rows that are not struck out."""

    struck_out_at: dt.datetime | None = None
    struck_out_by: str | None = Field(default=None, max_length=64)
    struck_out_reason: str | None = Field(default=None, max_length=300)
    # The row this one corrects (a plain id, not a foreign key: adding a foreign key to an
    # existing SQLite table would rebuild it).
    replaces_id: int | None = None


class TherapyDose(SQLModel, table=True):
    """One dose of a therapy as given: an SSA injection, a PRRT cycle."""

    __tablename__ = "therapy_dose"

    id: int | None = Field(default=None, primary_key=True)
    therapy_id: int = fk("therapy.id")
    given_on: dt.date
    note: str = Field(default="", max_length=300)
    recorded_by: str = Field(default="", max_length=64)
    created_at: dt.datetime = created_field()


class OutreachContact(SQLModel, table=True):
    """A navigator's attempt to reach the patient and how it went."""

    __tablename__ = "outreach_contact"
    __table_args__ = (
        one_of("channel", OutreachChannel),
        one_of("result", OutreachResult),
        sa.Index("ix_outreach_contact_patient_at", "patient_id", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = fk("patient.id", index=False)
    item_id: int | None = fk("followup_item.id", nullable=True, ondelete="SET NULL")
    channel: str = Field(max_length=8)
    result: str = Field(max_length=16)
    note: str = Field(default="", max_length=500)
    at: dt.datetime
    recorded_by: str = Field(max_length=64)
    created_at: dt.datetime = created_field()
