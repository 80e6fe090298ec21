"""Tables of clinical decisions that can be undone: a trigger's consequences (proposed, applied,
reverted) and the merge of two records of one patient (reversible until purged).

Beside ``models.py`` (which would otherwise pass 600 lines) and imported at its end, so the
tables are part of the one registry metadata.
"""

import datetime as dt
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from surveil.db.base import created_field, fk, one_of


class ConsequenceKind(StrEnum):
    SET_STATE = "set_state"  # leave the surveillance pathway (a new disease-state episode)
    IMAGING = "imaging"  # shorten imaging to the pack's interval
    PAUSE_PLAN = "pause_plan"  # hold automatic rescheduling of the protocol's items
    ORDER = "order"  # a one-off item ordered when the trigger opened (an SSTR PET)


class ConsequenceStatus(StrEnum):
    PROPOSED = "proposed"  # waiting for a clinician (apply = "on_confirm")
    APPLIED = "applied"  # in force
    REVERTED = "reverted"  # undone: the trigger was a false alarm (or re-opened)
    DECLINED = "declined"  # never applied: the trigger was closed without confirming it


class ApplyWhen(StrEnum):
    ON_OPEN = "on_open"
    ON_CONFIRM = "on_confirm"


class TriggerConsequence(SQLModel, table=True):
    """One automatic consequence of one trigger, and what became of it."""

    __tablename__ = "trigger_consequence"
    __table_args__ = (
        one_of("kind", ConsequenceKind),
        one_of("status", ConsequenceStatus),
        one_of("apply", ApplyWhen),
    )

    id: int | None = Field(default=None, primary_key=True)
    trigger_id: int = fk("trigger.id")
    patient_id: int = fk("patient.id")
    kind: str = Field(max_length=16)
    apply: str = Field(max_length=12)
    status: str = Field(max_length=12)
    # What it does, in words the patient page shows ("advanced", "3–6 months").
    proposal: str = Field(default="", max_length=200)
    to_state: str | None = Field(default=None, max_length=24)
    # The disease-state episodes it ended and opened, so reverting restores exactly these.
    ended_state_id: int | None = fk("diseasestate.id", nullable=True, ondelete="SET NULL")
    state_id: int | None = fk("diseasestate.id", nullable=True, ondelete="SET NULL")
    item_id: int | None = fk("followup_item.id", nullable=True, ondelete="SET NULL")
    decided_by: str | None = Field(default=None, max_length=64)
    decided_at: dt.datetime | None = None
    reverted_by: str | None = Field(default=None, max_length=64)
    reverted_at: dt.datetime | None = None
    note: str = Field(default="", max_length=300)
    created_at: dt.datetime = created_field()


class PatientMerge(SQLModel, table=True):
    """Two records of one patient made one: what moved from GONE to KEEP, so it can be undone."""

    __tablename__ = "patient_merge"

    id: int | None = Field(default=None, primary_key=True)
    keep_id: int = fk("patient.id")
    gone_id: int = fk("patient.id")
    # {"table": [ids...]} of every row moved, and the feeds revoked (JSON).
    moved: str = Field(default="{}", sa_type=sa.Text)
    reason: str = Field(default="", max_length=300)
    merged_by: str = Field(max_length=64)
    merged_at: dt.datetime = created_field()
    unmerged_by: str | None = Field(default=None, max_length=64)
    unmerged_at: dt.datetime | None = None
    # Made final by an administrator (``surveil patient purge-merge``): no unmerge after it.
    purged_by: str | None = Field(default=None, max_length=64)
    purged_at: dt.datetime | None = None
