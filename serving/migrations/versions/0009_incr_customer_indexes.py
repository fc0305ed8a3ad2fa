"""Indexes by customer on search_keys, source_records and redirects' to_id, for partial publishes.

A partial publish deletes the dirty customers' rows from every table and diffs their source records for the
change feed; without these, each of those is a scan of the whole table.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_search_keys_customer", "search_keys", ["customer_id"])
    op.create_index("ix_source_records_customer", "source_records", ["customer_id"])
    op.create_index("ix_redirects_to", "redirects", ["to_id"])


def downgrade() -> None:
    op.drop_index("ix_redirects_to", "redirects")
    op.drop_index("ix_source_records_customer", "source_records")
    op.drop_index("ix_search_keys_customer", "search_keys")
