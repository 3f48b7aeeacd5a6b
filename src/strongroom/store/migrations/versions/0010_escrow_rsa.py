"""Key escrow: apps' RSA-OAEP-3072 key pairs, private halves sealed under the keyring.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "escrow_rsa_keys",
        sa.Column("app", sa.String(128), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("public_spki", sa.LargeBinary(), nullable=False),
        sa.Column("sealed_private", sa.LargeBinary(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("escrow_rsa_keys")
