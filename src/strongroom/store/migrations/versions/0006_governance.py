"""Governance: apps, manifest submissions and their reviews.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gov_apps",
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("owner_subject", sa.String(256), nullable=False),
        sa.Column("approved_submission", sa.String(32), nullable=True),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_gov_apps"),
    )
    op.create_table(
        "gov_submissions",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("app", sa.String(63), nullable=False),
        sa.Column("submitter", sa.String(256), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("digest", sa.String(80), nullable=False),
        sa.Column("manifest", sa.Text(), nullable=False),
        sa.Column("findings", sa.Text(), nullable=False),
        sa.Column("decision", sa.Text(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("decided_us", sa.BigInteger(), nullable=True),
        sa.Column("reviewer", sa.String(256), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("envelope", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_gov_submissions"),
    )
    op.create_index("ix_gov_submissions_app", "gov_submissions", ["app"])
    op.create_index("ix_gov_submissions_status", "gov_submissions", ["status"])


def downgrade() -> None:
    op.drop_index("ix_gov_submissions_status", table_name="gov_submissions")
    op.drop_index("ix_gov_submissions_app", table_name="gov_submissions")
    op.drop_table("gov_submissions")
    op.drop_table("gov_apps")
