"""Tokenization vault: policies, wrapped region and policy keys, vaulted values, idempotency.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "token_policies",
        sa.Column("pid", sa.String(32), nullable=False),
        sa.Column("app", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("region", sa.String(16), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("shredded_us", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("pid", name="pk_token_policies"),
        sa.UniqueConstraint("app", "name", name="uq_token_policies_app_name"),
    )
    op.create_table(
        "token_keys",
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("ident", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "ident", "version", name="pk_token_keys"),
    )
    op.create_table(
        "token_values",
        sa.Column("pid", sa.String(32), nullable=False),
        sa.Column("ref", sa.LargeBinary(16), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=True),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("expires_us", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("pid", "ref", name="pk_token_values"),
    )
    op.create_index("ix_token_values_expires_us", "token_values", ["expires_us"])
    op.create_table(
        "token_requests",
        sa.Column("pid", sa.String(32), nullable=False),
        sa.Column("key_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("body_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("result", sa.LargeBinary(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("pid", "key_hash", name="pk_token_requests"),
    )


def downgrade() -> None:
    op.drop_table("token_requests")
    op.drop_index("ix_token_values_expires_us", table_name="token_values")
    op.drop_table("token_values")
    op.drop_table("token_keys")
    op.drop_table("token_policies")
