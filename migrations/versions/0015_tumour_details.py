"""tumour details for pack 2027.1: nodes, adverse histology, carcinoid and gastric type, heart

Adds the optional tumour facts of the 2027.1 contract to ``tumour``, all nullable (NULL: not
recorded, so rules that need a fact do not match). ``adverse_histology`` holds the features as a
sorted comma-separated list; an empty string means "reported, none seen". Plain ``add_column``
(no batch rebuild).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 01:20:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("node_status", "adverse_histology", "carcinoid_type", "gastric_type")


def upgrade() -> None:
    op.add_column("tumour", sa.Column("node_status", sa.String(length=4), nullable=True))
    op.add_column("tumour", sa.Column("adverse_histology", sa.String(length=64), nullable=True))
    op.add_column("tumour", sa.Column("carcinoid_type", sa.String(length=12), nullable=True))
    op.add_column("tumour", sa.Column("gastric_type", sa.String(length=8), nullable=True))
    op.add_column("tumour", sa.Column("carcinoid_heart_disease", sa.Boolean(), nullable=True))


def downgrade() -> None:
    # SQLite >= 3.35 drops a column in place; no rebuild of the table.
    op.drop_column("tumour", "carcinoid_heart_disease")
    for name in reversed(COLUMNS):
        op.drop_column("tumour", name)
