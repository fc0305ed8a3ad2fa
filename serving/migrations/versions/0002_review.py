"""The stewards' review: review_candidates (published with each version) and review_decisions (kept).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "review_candidates",
        sa.Column("candidate_id", sa.Text, nullable=False),
        sa.Column("record_id_l", sa.Text, nullable=False),
        sa.Column("record_id_r", sa.Text, nullable=False),
        sa.Column("match_probability", sa.Float, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("left_record", sa.Text, nullable=False),
        sa.Column("right_record", sa.Text, nullable=False),
        sa.Column("explanation", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("candidate_id", name="pk_review_candidates"),
    )
    op.create_index("ix_review_candidates_queue", "review_candidates", ["status", "match_probability", "candidate_id"])
    op.create_table(
        "review_decisions",
        sa.Column("decision_id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("candidate_id", sa.Text, nullable=False),
        sa.Column("record_id_l", sa.Text, nullable=False),
        sa.Column("record_id_r", sa.Text, nullable=False),
        sa.Column("decision", sa.Text, nullable=False),
        sa.Column("who", sa.Text, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("decision_id", name="pk_review_decisions"),
    )
    op.create_index("ix_review_decisions_candidate", "review_decisions", ["candidate_id", "decision_id"])


def downgrade() -> None:
    op.drop_table("review_decisions")
    op.drop_table("review_candidates")
