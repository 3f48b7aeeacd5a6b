"""OAuth clients, token revocations, kill-switch epochs, used DPoP proofs.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oauth_clients",
        sa.Column("client_id", sa.String(128), primary_key=True),
        sa.Column("auth_method", sa.String(32), nullable=False),
        sa.Column("secret_hash", sa.LargeBinary(32), nullable=True),
        sa.Column("secret_key_version", sa.Integer(), nullable=True),
        sa.Column("jwks", sa.Text(), nullable=True),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "token_revocations",
        sa.Column("token_id", sa.String(128), primary_key=True),
        sa.Column("revoked_us", sa.BigInteger(), nullable=False),
        sa.Column("expires_us", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_token_revocations_expires_us", "token_revocations", ["expires_us"])
    op.create_table(
        "revocation_epochs",
        sa.Column("kind", sa.String(8), primary_key=True),
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("epoch_s", sa.BigInteger(), nullable=False),
        sa.Column("updated_us", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "proof_uses",
        sa.Column("digest", sa.LargeBinary(32), primary_key=True),
        sa.Column("expires_us", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_proof_uses_expires_us", "proof_uses", ["expires_us"])


def downgrade() -> None:
    op.drop_index("ix_proof_uses_expires_us", table_name="proof_uses")
    op.drop_table("proof_uses")
    op.drop_table("revocation_epochs")
    op.drop_index("ix_token_revocations_expires_us", table_name="token_revocations")
    op.drop_table("token_revocations")
    op.drop_table("oauth_clients")
