"""publish_log.model: the match model file the version's customers were resolved with.

/resolve scores against a published version with the model that made it, not whichever model is current
(a `cdp train` whose run stopped before publishing leaves a newer model current).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("publish_log", sa.Column("model", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("publish_log") as batch:  # SQLite drops a column through a copy
        batch.drop_column("model")
