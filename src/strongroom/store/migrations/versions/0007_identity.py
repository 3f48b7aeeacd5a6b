"""Identity: SCIM users, groups and memberships; pending sign-ins; server-side sessions.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_users",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_name", sa.String(256), nullable=False),
        sa.Column("user_name_key", sa.String(256), nullable=False, unique=True),
        sa.Column("external_id", sa.String(256), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("attributes", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_us", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "identity_groups",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("display_name", sa.String(256), nullable=False),
        sa.Column("display_name_key", sa.String(256), nullable=False, unique=True),
        sa.Column("external_id", sa.String(256), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_us", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "identity_memberships",
        sa.Column(
            "group_id",
            sa.String(36),
            sa.ForeignKey("identity_groups.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "user_id",
            sa.String(36),
            sa.ForeignKey("identity_users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
    )
    op.create_table(
        "identity_signins",
        sa.Column("state_hash", sa.LargeBinary(32), primary_key=True),
        sa.Column("binding_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("app", sa.String(32), nullable=False),
        sa.Column("nonce", sa.String(64), nullable=False),
        sa.Column("return_to", sa.String(2048), nullable=False),
        sa.Column("expires_us", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_identity_signins_expires_us", "identity_signins", ["expires_us"])
    op.create_table(
        "identity_sessions",
        sa.Column("id_hash", sa.LargeBinary(32), primary_key=True),
        sa.Column("app", sa.String(32), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("issuer", sa.String(512), nullable=False),
        sa.Column("oidc_subject", sa.String(256), nullable=False),
        sa.Column("subject", sa.String(256), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=True),
        sa.Column("roles", sa.Text(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("expires_us", sa.BigInteger(), nullable=False),
        sa.Column("revoked_us", sa.BigInteger(), nullable=True),
    )
    op.create_index("ix_identity_sessions_subject", "identity_sessions", ["subject"])
    op.create_index("ix_identity_sessions_user_id", "identity_sessions", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_identity_sessions_user_id", table_name="identity_sessions")
    op.drop_index("ix_identity_sessions_subject", table_name="identity_sessions")
    op.drop_table("identity_sessions")
    op.drop_index("ix_identity_signins_expires_us", table_name="identity_signins")
    op.drop_table("identity_signins")
    op.drop_table("identity_memberships")
    op.drop_table("identity_groups")
    op.drop_table("identity_users")
