"""match_records: every published record as the match model compares it, for POST /resolve.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

KEY = sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")
COLUMNS = ("first_name", "first_name_root", "middle_name", "last_name", "name_suffix", "email", "email_user",
           "phone", "street", "city", "postcode", "tax_id", "dob")
"""serving.tables.MATCH_COLUMNS as of this revision."""


def upgrade() -> None:
    op.create_table(
        "match_records",
        sa.Column("record_id", KEY, nullable=False),
        sa.Column("customer_id", KEY, nullable=False),
        *(sa.Column(name, sa.Text) for name in COLUMNS),
        sa.PrimaryKeyConstraint("record_id", name="pk_match_records"),
    )
    op.create_index("ix_match_records_customer", "match_records", ["customer_id"])


def downgrade() -> None:
    op.drop_table("match_records")
