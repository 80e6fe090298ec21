"""Which protocol a clinic plans with: an append-only log of activations and rollbacks.

Kept beside ``models.py`` (which is near its size limit); ``models.py`` imports it at its end so
that every table is on the metadata wherever the models are.
"""

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from surveil.db.base import created_field, fk, one_of

ACTIVATE = "activate"
ROLLBACK = "rollback"


class ProtocolActivation(SQLModel, table=True):
    """A pack version and profile for a clinic from ``effective_on``, approved by a clinician.

    Never updated or deleted: a rollback is a new row naming what it restores, so the log says
    which protocol was in force on any day (stored plans also name their pack version). With no
    row, the clinic plans with its configured pack's baseline (oldest shipped) version.
    """

    __tablename__ = "protocol_activation"
    __table_args__ = (
        sa.Index("ix_protocol_activation_in_force", "clinic", "pack_id", "effective_on", "id"),
        one_of("action", (ACTIVATE, ROLLBACK)),
    )

    id: int | None = Field(default=None, primary_key=True)
    clinic: str = Field(max_length=64)
    pack_id: str = Field(max_length=64)
    version: str = Field(max_length=32)
    profile: str = Field(max_length=64)
    effective_on: dt.date
    action: str = Field(max_length=16)
    approved_by_id: int = fk("user_account.id", ondelete="RESTRICT")
    recorded_by: str = Field(max_length=64)  # the user who ran the command (may be the approver)
    recorded_at: dt.datetime = created_field()
    previous_version: str | None = Field(default=None, max_length=32)
    previous_profile: str | None = Field(default=None, max_length=64)
    # When the clinic was replanned for it: at once by the command when in force that day, else by
    # the daemon's leader on ``effective_on`` (NULL until then: pending). The leader claims the row
    # with ``WHERE applied_at IS NULL``, so it is applied exactly once however many daemons run.
    applied_at: dt.datetime | None = None
    applied_by: str | None = Field(default=None, max_length=64)  # a user, or a daemon worker id
