"""customer_links: each record's strongest scored link inside its customer, for the steward's customer page.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

KEY = sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")


def upgrade() -> None:
    # Empty until the next publish fills it, as every published table is after its migration.
    op.create_table(
        "customer_links",
        sa.Column("customer_id", KEY, nullable=False),
        sa.Column("record_id_l", sa.Text, nullable=False),
        sa.Column("record_id_r", sa.Text, nullable=False),
        sa.Column("match_probability", sa.Float, nullable=False),
        sa.Column("explanation", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "record_id_l", "record_id_r", name="pk_customer_links"),
    )


def downgrade() -> None:
    op.drop_table("customer_links")
