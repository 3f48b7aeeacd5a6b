"""Managed secrets: per-app keys, secrets and their sealed versions.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "secret_app_keys",
        sa.Column("app", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "secrets",
        sa.Column("app", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("owner", sa.String(256), nullable=False),
        sa.Column("description", sa.String(1024), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("data_class", sa.String(32), nullable=False),
        sa.Column("rotation_period_s", sa.BigInteger(), nullable=True),
        sa.Column("expires_us", sa.BigInteger(), nullable=True),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_us", sa.BigInteger(), nullable=False),
        sa.Column("rotated_us", sa.BigInteger(), nullable=False),
        sa.Column("deleted_us", sa.BigInteger(), nullable=True),
        sa.Column("disabled_us", sa.BigInteger(), nullable=True),
    )
    op.create_table(
        "secret_versions",
        sa.Column("app", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=True),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("destroyed_us", sa.BigInteger(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("secret_versions")
    op.drop_table("secrets")
    op.drop_table("secret_app_keys")
