"""results can be struck out or corrected; each dose of a therapy; surgery's R status; outreach

Adds to ``measurement`` and ``markerresult`` the strike-out columns (when, by whom, why) and
``replaces_id`` (the row a correction replaces), ``therapy.resection``, and two new tables:
``therapy_dose`` (each SSA injection or PRRT cycle given) and ``outreach_contact`` (a navigator's
call, letter or message and how it went). Plain nullable columns only: no table is rebuilt.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 23:40:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEXT = sqlmodel.sql.sqltypes.AutoString
_CORRECTABLE = ("measurement", "markerresult")
_STRIKE_COLUMNS = ("replaces_id", "struck_out_reason", "struck_out_by", "struck_out_at")


def upgrade() -> None:
    for table in _CORRECTABLE:
        op.add_column(table, sa.Column("struck_out_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        op.add_column(table, sa.Column("struck_out_by", _TEXT(length=64), nullable=True))
        op.add_column(table, sa.Column("struck_out_reason", _TEXT(length=300), nullable=True))
        op.add_column(table, sa.Column("replaces_id", sa.Integer(), nullable=True))
    op.add_column("therapy", sa.Column("resection", _TEXT(length=4), nullable=True))
    op.create_table(
        "therapy_dose",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("therapy_id", sa.Integer(), nullable=False),
        sa.Column("given_on", sa.Date(), nullable=False),
        sa.Column("note", _TEXT(length=300), nullable=False),
        sa.Column("recorded_by", _TEXT(length=64), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["therapy_id"],
            ["therapy.id"],
            name="fk_therapy_dose_therapy_id_therapy",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_therapy_dose"),
    )
    op.create_index("ix_therapy_dose_therapy_id", "therapy_dose", ["therapy_id"])
    op.create_table(
        "outreach_contact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("channel", _TEXT(length=8), nullable=False),
        sa.Column("result", _TEXT(length=16), nullable=False),
        sa.Column("note", _TEXT(length=500), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("recorded_by", _TEXT(length=64), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "channel IN ('call', 'letter', 'message')", name="ck_outreach_contact_channel_valid"
        ),
        sa.CheckConstraint(
            "result IN ('reached', 'voicemail', 'no_answer', 'wrong_number', 'will_book',"
            " 'declined')",
            name="ck_outreach_contact_result_valid",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patient.id"],
            name="fk_outreach_contact_patient_id_patient",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["followup_item.id"],
            name="fk_outreach_contact_item_id_followup_item",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_outreach_contact"),
    )
    op.create_index("ix_outreach_contact_item_id", "outreach_contact", ["item_id"])
    op.create_index("ix_outreach_contact_patient_at", "outreach_contact", ["patient_id", "at"])


def downgrade() -> None:
    op.drop_table("outreach_contact")
    op.drop_table("therapy_dose")
    op.drop_column("therapy", "resection")
    for table in _CORRECTABLE:
        for column in _STRIKE_COLUMNS:
            op.drop_column(table, column)
