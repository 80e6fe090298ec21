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
    (``services.planning.memo``): the protocol and code it planned with (``run_key``), and the
    days between which the same inputs plan the same. A later run with the same key, on a day in
    that span, for a patient none of whose inputs changed since (no :class:`PlanInputChange`),
    skips deriving the plan again. Nothing else reads it: a row that is missing only costs a
    derivation."""

    __tablename__ = "plan_memo"
    __table_args__ = (sa.CheckConstraint("holds_until > checked_on", name="span_ordered"),)

    patient_id: int = Field(foreign_key="patient.id", ondelete="CASCADE", primary_key=True)
    run_key: bytes = Field(sa_column=sa.Column(sa.LargeBinary(16), nullable=False))
    checked_on: dt.date  # the day those inputs were last planned from
    holds_until: dt.date  # the first day on which the same inputs may plan differently
    kept: int = 0  # the items the run kept, counted again for the run's audit event


class PlanInputChange(SQLModel, table=True):
    """A patient some of whose planning inputs changed since a routine replan last looked at
    them. Written only by the database's own triggers (migration 0030), on every insert, update
    and delete of a row planning reads, whoever writes it; taken away only by the replan that
    plans the patient again, in the transaction that does (``services.planning.memo``).

    Append-only on PostgreSQL: a change is one new row, never an update of an existing one, so
    a change committed while a replan runs leaves a row that replan cannot have taken away. On
    SQLite, where one transaction writes at a time, a patient already marked is not marked again.
    No foreign key: the insert must not lock the patient's row, and a row left for a patient
    merged away or removed costs only its few bytes."""

    __tablename__ = "plan_input_change"

    # 64 bits where it is not the rowid already: every write adds rows on PostgreSQL.
    id: int | None = Field(
        default=None,
        sa_column=sa.Column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    )
    patient_id: int = Field(index=True)
