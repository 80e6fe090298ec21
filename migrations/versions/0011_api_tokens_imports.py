"""bearer tokens for the JSON API, and CSV import batches (issue 16)

``api_token``: one row per token, acting as one user with a read or write scope; only the
SHA-256 of the token is stored. The per-token rate limit is counted in the row itself (a
one-minute window), so that every web worker sees the same count. ``import_batch`` records each
committed CSV import (file hash, counts, actor) and ``import_batch_row`` the rows it created, so
that a batch can be rolled back whole.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 23:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEXT = sqlmodel.sql.sqltypes.AutoString
_INSTANT = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", _TEXT(length=64), nullable=False),
        sa.Column("public_id", _TEXT(length=32), nullable=False),
        sa.Column("scope", _TEXT(length=8), nullable=False),
        sa.Column("label", _TEXT(length=64), nullable=False),
        sa.Column("created_by", _TEXT(length=64), nullable=False),
        sa.Column("created_at", _INSTANT(), nullable=False),
        sa.Column("expires_at", _INSTANT(), nullable=True),
        sa.Column("revoked_at", _INSTANT(), nullable=True),
        sa.Column("last_used_at", _INSTANT(), nullable=True),
        sa.Column("window_start", _INSTANT(), nullable=True),
        sa.Column("window_count", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "scope IN ('read', 'write')", name=op.f("ck_api_token_scope_valid")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_api_token_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_token")),
        sa.UniqueConstraint("public_id", name=op.f("uq_api_token_public_id")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_token_token_hash")),
    )
    op.create_index(op.f("ix_api_token_user_id"), "api_token", ["user_id"], unique=False)
    op.create_table(
        "import_batch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", _TEXT(length=16), nullable=False),
        sa.Column("filename", _TEXT(length=200), nullable=False),
        sa.Column("file_sha256", _TEXT(length=64), nullable=False),
        sa.Column("clinic", _TEXT(length=64), nullable=False),
        sa.Column("actor", _TEXT(length=64), nullable=False),
        sa.Column("created_at", _INSTANT(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("rolled_back_at", _INSTANT(), nullable=True),
        sa.Column("rolled_back_by", _TEXT(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_batch")),
    )
    op.create_index(
        op.f("ix_import_batch_file_sha256"), "import_batch", ["file_sha256"], unique=False
    )
    op.create_table(
        "import_batch_row",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("table_name", _TEXT(length=32), nullable=False),
        sa.Column("row_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["import_batch.id"],
            name=op.f("fk_import_batch_row_batch_id_import_batch"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_batch_row")),
    )
    op.create_index(
        op.f("ix_import_batch_row_batch_id"), "import_batch_row", ["batch_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_import_batch_row_batch_id"), table_name="import_batch_row")
    op.drop_table("import_batch_row")
    op.drop_index(op.f("ix_import_batch_file_sha256"), table_name="import_batch")
    op.drop_table("import_batch")
    op.drop_index(op.f("ix_api_token_user_id"), table_name="api_token")
    op.drop_table("api_token")
