"""The change feed's outbox (changes) and the webhooks' delivery attempts.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

KEY = sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")
SERIAL = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "changes",
        sa.Column("event_id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("version", sa.Integer),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("type", KEY, nullable=False),
        sa.Column("customer_id", KEY, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("attributes", sa.Text),
        sa.PrimaryKeyConstraint("event_id", name="pk_changes"),
    )
    op.create_index("ix_changes_type", "changes", ["type", "event_id"])
    op.create_index("ix_changes_customer", "changes", ["customer_id"])
    op.create_table(
        "webhook_attempts",
        sa.Column("attempt_id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("endpoint", sa.Text, nullable=False),
        sa.Column("event_id", SERIAL, nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("status", sa.Integer),
        sa.Column("error", sa.Text),
        sa.PrimaryKeyConstraint("attempt_id", name="pk_webhook_attempts"),
    )
    op.create_index("ix_webhook_attempts_endpoint", "webhook_attempts", ["endpoint", "attempt_id"])


def downgrade() -> None:
    op.drop_table("webhook_attempts")
    op.drop_table("changes")
