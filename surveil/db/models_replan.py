"""The claim table of a replan run split between processes (``surveil replan --all --workers N``,
PostgreSQL only; ``services.planning.replan_workers``).

One row per range of patient ids. A worker takes the first range nobody holds with
``SELECT ... FOR UPDATE SKIP LOCKED`` and plans it **in the same transaction** that marks the
row done: the row lock is the claim. Two workers never hold the same row, a finished range is
never taken again, and a worker that dies mid-range rolls its transaction back, which releases
the row, still not done, for the next worker. No lease, no clock. The row also keeps the range's
counts, which the run's single audit event adds up.

Beside ``models.py`` (near its 600-line limit) and re-exported at its end.
"""

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

import surveil.db.base  # noqa: F401  (the constraint names' convention, set before any table)


class ReplanClaim(SQLModel, table=True):
    __tablename__ = "replan_claim"
    __table_args__ = (
        sa.UniqueConstraint("run", "first_id"),
        sa.CheckConstraint("last_id >= first_id", name="range_ordered"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run: str = Field(max_length=36, index=True)  # one run of replan --all --workers N
    first_id: int  # the range's first and last patient id (inclusive)
    last_id: int
    done: bool = Field(default=False)
    worker: str | None = Field(default=None, max_length=64)  # host:pid that planned it
    patients: int = 0
    created: int = 0
    kept: int = 0
    superseded: int = 0
    changed: int = 0  # patients whose plan moved (each has its own plan.replanned event)
    skipped: int = 0  # patients whose inputs had not changed (``services.planning.memo``)
    finished_at: dt.datetime | None = None


class PlanMemo(SQLModel, table=True):
    """What a routine replan last found for a patient whose plan and triggers came out unchanged
    (``services.planning.memo``): a digest of everything it read for them, and the days between
    which the same inputs plan the same. A later run that reads the same digest on a day in that
    span skips deriving the plan again. Nothing else reads it: a row that is wrong or missing
    only costs a derivation."""

    __tablename__ = "plan_memo"
    __table_args__ = (sa.CheckConstraint("holds_until > checked_on", name="span_ordered"),)

    patient_id: int = Field(foreign_key="patient.id", ondelete="CASCADE", primary_key=True)
    inputs: bytes = Field(sa_column=sa.Column(sa.LargeBinary(16), nullable=False))
    checked_on: dt.date  # the day those inputs were last planned from
    holds_until: dt.date  # the first day on which the same inputs may plan differently
    kept: int = 0  # the items the run kept, counted again for the run's audit event
