"""server-side web sessions and shared rate-limit counters

Adds ``web_session`` (the cookie carries only a random id; its SHA-256 is the key) and
``rate_limit`` (fixed-window counters incremented by one atomic upsert, shared by every web
worker). New tables only: nothing existing is rebuilt.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 23:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEXT = sqlmodel.sql.sqltypes.AutoString
_WHEN = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "web_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("id_hash", _TEXT(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", _WHEN(), nullable=False),
        sa.Column("last_seen_at", _WHEN(), nullable=False),
        sa.Column("idle_expires_at", _WHEN(), nullable=False),
        sa.Column("absolute_expires_at", _WHEN(), nullable=False),
        sa.Column("ended_at", _WHEN(), nullable=True),
        sa.Column("end_reason", _TEXT(length=32), nullable=False),
        sa.Column("user_agent", _TEXT(length=120), nullable=False),
        sa.Column("address", _TEXT(length=64), nullable=False),
        sa.Column("data", _TEXT(length=8000), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_web_session_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_session")),
        sa.UniqueConstraint("id_hash", name=op.f("uq_web_session_id_hash")),
    )
    op.create_index("ix_web_session_user", "web_session", ["user_id", "ended_at"])
    op.create_index(
        op.f("ix_web_session_idle_expires_at"), "web_session", ["idle_expires_at"]
    )
    op.create_table(
        "rate_limit",
        sa.Column("key", _TEXT(length=160), nullable=False),
        sa.Column("window_start", _WHEN(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires_at", _WHEN(), nullable=False),
        sa.PrimaryKeyConstraint("key", "window_start", name=op.f("pk_rate_limit")),
    )
    op.create_index(op.f("ix_rate_limit_expires_at"), "rate_limit", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_rate_limit_expires_at"), table_name="rate_limit")
    op.drop_table("rate_limit")
    op.drop_index(op.f("ix_web_session_idle_expires_at"), table_name="web_session")
    op.drop_index("ix_web_session_user", table_name="web_session")
    op.drop_table("web_session")
