"""Key escrow: deposits, recovery requests and approvers' decisions.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "escrow_deposits",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("app", sa.String(128), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("key_version", sa.BigInteger(), nullable=False),
        sa.Column("owner", sa.String(256), nullable=False),
        sa.Column("escrow_version", sa.Integer(), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_escrow_deposits_app", "escrow_deposits", ["app"])
    op.create_table(
        "escrow_requests",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("deposit_id", sa.String(32), nullable=False),
        sa.Column("requester", sa.String(256), nullable=False),
        sa.Column("recipient_public", sa.LargeBinary(32), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("released_us", sa.BigInteger(), nullable=True),
    )
    op.create_index("ix_escrow_requests_deposit_id", "escrow_requests", ["deposit_id"])
    op.create_table(
        "escrow_decisions",
        sa.Column("request_id", sa.String(32), primary_key=True),
        sa.Column("approver", sa.String(256), primary_key=True),
        sa.Column("decision", sa.String(8), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("escrow_decisions")
    op.drop_index("ix_escrow_requests_deposit_id", table_name="escrow_requests")
    op.drop_table("escrow_requests")
    op.drop_index("ix_escrow_deposits_app", table_name="escrow_deposits")
    op.drop_table("escrow_deposits")
