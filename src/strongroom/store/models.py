"""Tables. Times are integer microseconds since the Unix epoch (UTC), portable and sortable."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, LargeBinary, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class SealConfig(Base):
    """How the root key is sealed, and what checks a rebuilt one. Never the key or a share."""

    __tablename__ = "seal_config"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    shares: Mapped[int] = mapped_column(Integer)
    threshold: Mapped[int] = mapped_column(Integer)
    share_set_id: Mapped[bytes] = mapped_column(LargeBinary(16))
    verifier_salt: Mapped[bytes] = mapped_column(LargeBinary(32))
    verifier: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_us: Mapped[int] = mapped_column(BigInteger)


class KeyringKey(Base):
    """One version of one keyring key, wrapped under the root key."""

    __tablename__ = "keyring_keys"

    purpose: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(32))
    created_us: Mapped[int] = mapped_column(BigInteger)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)


class RootToken(Base):
    """A root token, stored as its SHA-256 only (the token itself is 256 random bits)."""

    __tablename__ = "root_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    created_us: Mapped[int] = mapped_column(BigInteger)
    revoked_us: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class BarrierEntry(Base):
    """A value sealed by the barrier; the path is its associated data."""

    __tablename__ = "barrier_entries"

    path: Mapped[str] = mapped_column(String(512), primary_key=True)
    value: Mapped[bytes] = mapped_column(LargeBinary)
    updated_us: Mapped[int] = mapped_column(BigInteger)


class AuditEvent(Base):
    """One audit event; ``seq`` is contiguous from 0 and is the event's Merkle leaf index."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    time_us: Mapped[int] = mapped_column(BigInteger, index=True)
    request_id: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(256), index=True)
    action: Mapped[str] = mapped_column(String(128), index=True)
    resource: Mapped[str] = mapped_column(String(512))
    outcome: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text)
    entry: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditHead(Base):
    """The log's size and Merkle frontier; its row lock serialises appends (no gaps)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    # NULL until the first append after upgrading from revision 0001 rebuilds it.
    frontier: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class AuditTile(Base):
    """A complete Merkle subtree hash at a level that is a multiple of 8 (256^k leaves)."""

    __tablename__ = "audit_tiles"

    level: Mapped[int] = mapped_column(Integer, primary_key=True)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditCheckpoint(Base):
    """A signed tree head (C2SP signed note) at a tree size."""

    __tablename__ = "audit_checkpoints"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    key_version: Mapped[int] = mapped_column(Integer)
    created_us: Mapped[int] = mapped_column(BigInteger)


class AuditAlert(Base):
    """An alert raised by a rule over the audit stream."""

    __tablename__ = "audit_alerts"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    time_us: Mapped[int] = mapped_column(BigInteger, index=True)
    rule: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str] = mapped_column(String(512))
    actor: Mapped[str] = mapped_column(String(256))
    action: Mapped[str] = mapped_column(String(128))
    request_id: Mapped[str] = mapped_column(String(64))


# -- key escrow (issue 4) ----------------------------------------------------------------


class EscrowDeposit(Base):
    """A client's data key, wrapped to its app's escrow public key."""

    __tablename__ = "escrow_deposits"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    app: Mapped[str] = mapped_column(String(128), index=True)
    key_id: Mapped[str] = mapped_column(String(64))
    key_version: Mapped[int] = mapped_column(BigInteger)
    owner: Mapped[str] = mapped_column(String(256))
    escrow_version: Mapped[int] = mapped_column(Integer)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_us: Mapped[int] = mapped_column(BigInteger)


class EscrowRequest(Base):
    """A request by a deposit's owner to recover its key, and where it stands."""

    __tablename__ = "escrow_requests"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    deposit_id: Mapped[str] = mapped_column(String(32), index=True)
    requester: Mapped[str] = mapped_column(String(256))
    recipient_public: Mapped[bytes] = mapped_column(LargeBinary(32))
    threshold: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    created_us: Mapped[int] = mapped_column(BigInteger)
    released_us: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class EscrowDecision(Base):
    """One approver's decision on a recovery request; one per approver."""

    __tablename__ = "escrow_decisions"

    request_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    approver: Mapped[str] = mapped_column(String(256), primary_key=True)
    decision: Mapped[str] = mapped_column(String(8))
    created_us: Mapped[int] = mapped_column(BigInteger)
