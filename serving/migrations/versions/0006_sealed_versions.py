"""Encryption at rest: each published version names the data key its personal values are sealed with and the
search key kinds it stores as keyed hashes (both NULL for the plain versions published so far).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("publish_log", sa.Column("key_id", sa.Text))
    op.add_column("publish_log", sa.Column("hashed_search", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("publish_log") as batch:  # SQLite drops a column through a copy
        batch.drop_column("hashed_search")
        batch.drop_column("key_id")
