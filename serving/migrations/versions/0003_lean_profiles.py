"""Lean serving tables for fast publishes: the profile document in parts with typed traits (no masked
copy: the API masks), id and key columns compared bytewise, the key-only tables without a second copy
as an index on SQLite, and the interactions in per-customer timeline chunks.

The published tables hold derived data only and a publish refills them right after migrating, so they
are recreated empty rather than converted: until that publish ends the API answers 404.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

KEY = sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")
OLD = ("profiles", "search_keys", "source_records", "redirects", "interactions")


def upgrade() -> None:
    for table in OLD:
        op.execute(f"drop table if exists {table}__next")  # a shadow left by a failed publish
        op.drop_table(table)
    op.create_table(
        "profiles",
        sa.Column("customer_id", KEY, nullable=False),
        sa.Column("attributes", sa.Text, nullable=False),
        sa.Column("lineage", sa.Text, nullable=False),
        sa.Column("sources", sa.Text, nullable=False),
        sa.Column("lifetime_value", sa.Float),
        sa.Column("order_count", sa.Integer),
        sa.Column("invoice_count", sa.Integer),
        sa.Column("ticket_count", sa.Integer),
        sa.Column("first_seen", sa.Text),
        sa.Column("last_seen", sa.Text),
        sa.Column("tickets_90d", sa.Integer),
        sa.Column("complaints_90d", sa.Integer),
        sa.Column("recency_tier", sa.Text),
        sa.Column("frequency_tier", sa.Text),
        sa.Column("monetary_tier", sa.Text),
        sa.Column("loyalty", sa.Text),
        sa.Column("churn_risk", sa.Boolean),
        sa.PrimaryKeyConstraint("customer_id", name="pk_profiles"),
    )
    op.create_index("ix_profiles_churn_risk", "profiles", ["customer_id"],
                    postgresql_where=sa.text("churn_risk"), sqlite_where=sa.text("churn_risk = 1"))
    op.create_table(
        "search_keys",
        sa.Column("kind", KEY, nullable=False),
        sa.Column("value", KEY, nullable=False),
        sa.Column("customer_id", KEY, nullable=False),
        sa.PrimaryKeyConstraint("kind", "value", "customer_id", name="pk_search_keys"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "source_records",
        sa.Column("source", KEY, nullable=False),
        sa.Column("source_id", KEY, nullable=False),
        sa.Column("customer_id", KEY, nullable=False),
        sa.PrimaryKeyConstraint("source", "source_id", name="pk_source_records"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "redirects",
        sa.Column("from_id", KEY, nullable=False),
        sa.Column("to_id", KEY, nullable=False),
        sa.PrimaryKeyConstraint("from_id", name="pk_redirects"),
    )
    op.create_table(
        "timeline",
        sa.Column("customer_id", KEY, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("last_at", KEY, nullable=False),
        sa.Column("last_source", KEY, nullable=False),
        sa.Column("last_name", KEY, nullable=False),
        sa.Column("last_interaction_id", KEY, nullable=False),
        sa.Column("events", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "position", name="pk_timeline"),
    )


def downgrade() -> None:
    """Back to 0002's tables, empty (the next publish of that version's code refills them)."""
    for table in ("timeline", "redirects", "source_records", "search_keys", "profiles"):
        op.execute(f"drop table if exists {table}__next")
        op.drop_table(table)
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
