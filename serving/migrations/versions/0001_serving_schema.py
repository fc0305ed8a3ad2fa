"""The serving store's first schema: profiles, search_keys, source_records, redirects, interactions, publish_log.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "profiles",
        sa.Column("customer_id", sa.Text, nullable=False),
        sa.Column("doc", sa.Text, nullable=False),
        sa.Column("doc_masked", sa.Text, nullable=False),
        sa.Column("first_name", sa.Text),
        sa.Column("last_name", sa.Text),
        sa.Column("recency_tier", sa.Text),
        sa.Column("frequency_tier", sa.Text),
        sa.Column("monetary_tier", sa.Text),
        sa.Column("loyalty", sa.Text),
        sa.Column("churn_risk", sa.Boolean),
        sa.Column("lifetime_value", sa.Float),
        sa.PrimaryKeyConstraint("customer_id", name="pk_profiles"),
    )
    for column in ("recency_tier", "frequency_tier", "monetary_tier", "loyalty", "churn_risk"):
        op.create_index(f"ix_profiles_{column}", "profiles", [column, "customer_id"])
    op.create_table(
        "search_keys",
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("customer_id", sa.Text, nullable=False),
    )
    op.create_index("ix_search_keys", "search_keys", ["kind", "value", "customer_id"])
    op.create_table(
        "source_records",
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("source_id", sa.Text, nullable=False),
        sa.Column("customer_id", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("source", "source_id", name="pk_source_records"),
    )
    op.create_index("ix_source_records_customer_id", "source_records", ["customer_id"])
    op.create_table(
        "redirects",
        sa.Column("from_id", sa.Text, nullable=False),
        sa.Column("to_id", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("from_id", name="pk_redirects"),
    )
    op.create_table(
        "interactions",
        sa.Column("customer_id", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("interaction_id", sa.Text, nullable=False),
        sa.Column("amount", sa.Float),
        sa.Column("attributes", sa.Text),
    )
    op.create_index("ix_interactions_timeline", "interactions",
                    ["customer_id", "at", "source", "name", "interaction_id"])
    op.create_table(
        "publish_log",
        sa.Column("version", sa.Integer, autoincrement=False, nullable=False),
        sa.Column("published_at", sa.DateTime, nullable=False),
        sa.Column("run_id", sa.Text),
        sa.Column("customers", sa.Integer, nullable=False),
        sa.Column("records", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("version", name="pk_publish_log"),
    )


def downgrade() -> None:
    for table in ("publish_log", "interactions", "redirects", "source_records", "search_keys", "profiles"):
        op.drop_table(table)
