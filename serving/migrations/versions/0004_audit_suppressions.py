"""The audit trail (append-only) and the erasure suppression list; decisions recorded so far enter the audit.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

KEY = sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")

BACKFILL = """
    insert into audit (at, who, action, customer_id, other_customer_id, candidate_id, detail, note)
    select d.at, d.who, 'decision', l.customer_id, r.customer_id, d.candidate_id, d.decision, d.note
    from review_decisions d
    left join source_records l on l.source || ':' || l.source_id = d.record_id_l
    left join source_records r on r.source || ':' || r.source_id = d.record_id_r
    order by d.decision_id"""
"""Every decision already recorded, as the audit would have recorded it (customers as now published)."""


def upgrade() -> None:
    op.create_table(
        "audit",
        sa.Column("audit_id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("who", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("customer_id", KEY),
        sa.Column("other_customer_id", KEY),
        sa.Column("candidate_id", sa.Text),
        sa.Column("detail", sa.Text),
        sa.Column("note", sa.Text),
        sa.PrimaryKeyConstraint("audit_id", name="pk_audit"),
    )
    op.create_index("ix_audit_customer", "audit", ["customer_id", "audit_id"])
    op.create_index("ix_audit_other_customer", "audit", ["other_customer_id", "audit_id"])
    op.create_index("ix_audit_who", "audit", ["who", "audit_id"])
    op.create_table(
        "suppressions",
        sa.Column("suppression_id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("record_hash", KEY, nullable=False),
        sa.Column("key_id", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("suppression_id", name="pk_suppressions"),
    )
    op.create_index("ux_suppressions_hash", "suppressions", ["record_hash"], unique=True)
    op.execute(BACKFILL)


def downgrade() -> None:
    op.drop_table("suppressions")
    op.drop_table("audit")
