"""The HL7 v2 message store (issue 17): every message a hospital feed sent, kept before its ACK.

A message is written (raw text, its SHA-256, its control id) and committed before the listener
answers, so a message acknowledged is never lost. ``(sender, control_id)`` is unique: a resent
message (same MSH-10 from the same system) finds the stored one and changes nothing. ``state`` is
the processing state: ``received`` (stored, not yet applied), ``applied``, ``queued`` (waiting for
a navigator: unknown patient, unknown code, unit not comparable...), ``rejected`` (not HL7 we can
read) and ``dismissed`` (a navigator decided, with a reason). The raw text is cleared after the
configured retention; the row and its hash stay as the record that it came. ``refresh_due``
marks an applied result whose triggers and replan are still to run (the listener coalesces them);
``refresh_failed`` is such a result whose refresh failed ``refresh_attempts`` times: the result
stays stored and the message waits in the navigators' queue, to be retried once the cause is fixed.
"""

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from surveil.db.base import created_field, fk, one_of

HL7_STATES = ("received", "applied", "queued", "rejected", "dismissed", "refresh_failed")


class Hl7Message(SQLModel, table=True):
    __tablename__ = "hl7_message"
    __table_args__ = (
        sa.UniqueConstraint("sender", "control_id"),
        # The listeners' sweep and the navigators' queue read messages by state, oldest first.
        sa.Index("ix_hl7_message_state", "state", "id"),
        # The listener's refresher reads the results whose triggers and replan are still due.
        sa.Index("ix_hl7_message_refresh_due", "refresh_due", "id"),
        one_of("state", HL7_STATES),
    )

    id: int | None = Field(default=None, primary_key=True)
    sender: str = Field(max_length=200)  # MSH-3^MSH-4: the sending application and facility
    control_id: str = Field(max_length=200)  # MSH-10, or "sha256:<digest>" when unreadable
    kind: str = Field(default="", max_length=16)  # MSH-9 as "ORU^R01"
    raw: str | None = Field(default=None, sa_type=sa.Text)  # cleared after the retention time
    sha256: str = Field(max_length=64)
    state: str = Field(default="received", max_length=16)
    reason: str = Field(default="", max_length=1000)  # why queued, rejected or dismissed
    patient_id: int | None = fk("patient.id", nullable=True, ondelete="SET NULL")
    received_at: dt.datetime = created_field()
    processed_at: dt.datetime | None = None
    resolved_by: str | None = Field(default=None, max_length=64)  # the navigator who decided
    # An applied result whose patient's triggers and replan the listener runs next, coalesced
    # with the other results of a burst (migration 0017); set in the transaction that applied
    # it, so a listener killed before the refresh leaves it due for the next one.
    refresh_due: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    # Failed refreshes of this result so far, and when the next may run (migration 0026): a
    # patient whose refresh raises is retried with a growing wait, then queued, while the other
    # patients of its burst are refreshed normally.
    refresh_attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    refresh_retry_at: dt.datetime | None = None
