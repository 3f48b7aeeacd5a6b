"""Tables. Times are integer microseconds since the Unix epoch (UTC), portable and sortable."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
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


# -- tokenization vault (issue 6) ------------------------------------------------------------


class TokenPolicy(Base):
    """A token policy of an app (main database). ``spec`` is its JSON definition."""

    __tablename__ = "token_policies"
    __table_args__ = (UniqueConstraint("app", "name", name="uq_token_policies_app_name"),)

    pid: Mapped[str] = mapped_column(String(32), primary_key=True)
    app: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(16))
    spec: Mapped[str] = mapped_column(Text)
    created_us: Mapped[int] = mapped_column(BigInteger)
    shredded_us: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class TokenKey(Base):
    """A wrapped key of a region's vault (region database): a region key or a policy key.

    A region key is wrapped under the keyring's ``tokenize`` key; a policy key under its
    region key. Deleting a row crypto-shreds everything beneath it.
    """

    __tablename__ = "token_keys"

    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    ident: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_us: Mapped[int] = mapped_column(BigInteger)


class TokenValue(Base):
    """A vaulted value (region database), sealed; ``sealed`` is NULL once erased or expired.

    ``ref`` is random for opaque tokens, and a keyed HMAC of the value (deterministic opaque
    tokens) or of the token (vaulted FPE) otherwise, so equal values meet on the primary key.
    """

    __tablename__ = "token_values"
    __table_args__ = (Index("ix_token_values_expires_us", "expires_us"),)

    pid: Mapped[str] = mapped_column(String(32), primary_key=True)
    ref: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True)
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    key_version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(8))
    created_us: Mapped[int] = mapped_column(BigInteger)
    expires_us: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class TokenRequest(Base):
    """The sealed answer to an idempotent tokenize call (region database)."""

    __tablename__ = "token_requests"

    pid: Mapped[str] = mapped_column(String(32), primary_key=True)
    key_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    body_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    result: Mapped[bytes] = mapped_column(LargeBinary)
    created_us: Mapped[int] = mapped_column(BigInteger)


# -- managed secrets (issue 5) ------------------------------------------------------------


class SecretAppKey(Base):
    """An app's secret-sealing key, wrapped by the barrier; deleting it shreds the app."""

    __tablename__ = "secret_app_keys"

    app: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_us: Mapped[int] = mapped_column(BigInteger)


class Secret(Base):
    """A named secret of an app: its metadata and state, never its value."""

    __tablename__ = "secrets"

    app: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    owner: Mapped[str] = mapped_column(String(256))
    description: Mapped[str] = mapped_column(String(1024))
    tags: Mapped[str] = mapped_column(Text)
    data_class: Mapped[str] = mapped_column(String(32))
    rotation_period_s: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    expires_us: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    current_version: Mapped[int] = mapped_column(Integer)
    created_us: Mapped[int] = mapped_column(BigInteger)
    updated_us: Mapped[int] = mapped_column(BigInteger)
    rotated_us: Mapped[int] = mapped_column(BigInteger)
    deleted_us: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    disabled_us: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class SecretVersion(Base):
    """One sealed version of a secret; ``value`` is NULL once destroyed."""

    __tablename__ = "secret_versions"

    app: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    key_version: Mapped[int] = mapped_column(Integer)
    value: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_us: Mapped[int] = mapped_column(BigInteger)
    destroyed_us: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


# -- governance (issue 8): apps, their manifest submissions and reviews -------------------


class GovApp(Base):
    """A micro app known to governance, and the submission whose manifest is approved."""

    __tablename__ = "gov_apps"

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    owner_subject: Mapped[str] = mapped_column(String(256))
    approved_submission: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_us: Mapped[int] = mapped_column(BigInteger)
    updated_us: Mapped[int] = mapped_column(BigInteger)


class GovSubmission(Base):
    """One submitted manifest, the policy's decision on it, and its review."""

    __tablename__ = "gov_submissions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    app: Mapped[str] = mapped_column(String(63), index=True)
    submitter: Mapped[str] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(16), index=True)
    digest: Mapped[str] = mapped_column(String(80))
    manifest: Mapped[str] = mapped_column(Text)
    findings: Mapped[str] = mapped_column(Text)
    decision: Mapped[str] = mapped_column(Text)
    created_us: Mapped[int] = mapped_column(BigInteger)
    decided_us: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    reviewer: Mapped[str | None] = mapped_column(String(256), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    envelope: Mapped[str | None] = mapped_column(Text, nullable=True)


# -- identity: SCIM users and groups, sign-in attempts, server-side sessions ----------------


class IdentityUser(Base):
    """A user provisioned by SCIM; ``attributes`` holds the SCIM resource's own JSON."""

    __tablename__ = "identity_users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_name: Mapped[str] = mapped_column(String(256))
    user_name_key: Mapped[str] = mapped_column(String(256), unique=True)
    external_id: Mapped[str | None] = mapped_column(String(256), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean)
    attributes: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)
    created_us: Mapped[int] = mapped_column(BigInteger)
    updated_us: Mapped[int] = mapped_column(BigInteger)


class IdentityGroup(Base):
    """A group provisioned by SCIM; its display name maps to Strongroom roles."""

    __tablename__ = "identity_groups"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(256))
    display_name_key: Mapped[str] = mapped_column(String(256), unique=True)
    external_id: Mapped[str | None] = mapped_column(String(256), nullable=True)
    version: Mapped[int] = mapped_column(Integer)
    created_us: Mapped[int] = mapped_column(BigInteger)
    updated_us: Mapped[int] = mapped_column(BigInteger)


class IdentityMembership(Base):
    """A user's membership of a group."""

    __tablename__ = "identity_memberships"

    group_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("identity_groups.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("identity_users.id", ondelete="CASCADE"), primary_key=True
    )


class SignInAttempt(Base):
    """A pending sign-in, by the SHA-256 of its ``state``; used once, then deleted.

    The PKCE verifier is not stored: it is derived from the browser-binding cookie, of
    which only the hash is kept here.
    """

    __tablename__ = "identity_signins"

    state_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    binding_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    provider: Mapped[str] = mapped_column(String(32))
    app: Mapped[str] = mapped_column(String(32))
    nonce: Mapped[str] = mapped_column(String(64))
    return_to: Mapped[str] = mapped_column(String(2048))
    expires_us: Mapped[int] = mapped_column(BigInteger, index=True)


class UserSession(Base):
    """A server-side session of a signed-in user, by the SHA-256 of its random id."""

    __tablename__ = "identity_sessions"

    id_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    app: Mapped[str] = mapped_column(String(32))
    provider: Mapped[str] = mapped_column(String(32))
    issuer: Mapped[str] = mapped_column(String(512))
    oidc_subject: Mapped[str] = mapped_column(String(256))
    subject: Mapped[str] = mapped_column(String(256), index=True)
    user_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    roles: Mapped[str] = mapped_column(Text)
    created_us: Mapped[int] = mapped_column(BigInteger)
    expires_us: Mapped[int] = mapped_column(BigInteger)
    revoked_us: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


# -- identity: OAuth clients, token revocation, DPoP replay (issue 3) -----------------------


class OAuthClient(Base):
    """A registered OAuth client (a micro app). Its secret is kept only as an HMAC."""

    __tablename__ = "oauth_clients"

    client_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    auth_method: Mapped[str] = mapped_column(String(32))
    secret_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    secret_key_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    jwks: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_us: Mapped[int] = mapped_column(BigInteger)


class TokenRevocation(Base):
    """A revoked token id (``jti``) or sign-in id; kept until every descendant has expired."""

    __tablename__ = "token_revocations"

    token_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    revoked_us: Mapped[int] = mapped_column(BigInteger)
    expires_us: Mapped[int] = mapped_column(BigInteger, index=True)


class RevocationEpoch(Base):
    """A kill switch: every token of this user or app issued at or before ``epoch_s`` is dead."""

    __tablename__ = "revocation_epochs"

    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[str] = mapped_column(String(256), primary_key=True)
    epoch_s: Mapped[int] = mapped_column(BigInteger)
    updated_us: Mapped[int] = mapped_column(BigInteger)


class ProofUse(Base):
    """A DPoP proof or client assertion already used (SHA-256 of key and ``jti``)."""

    __tablename__ = "proof_uses"

    digest: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    expires_us: Mapped[int] = mapped_column(BigInteger, index=True)


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


# -- escrow: RSA-OAEP-3072 app keys ------------------------------------------------------


class EscrowRsaKey(Base):
    """An app's RSA-OAEP-3072 escrow key pair for one keyring ``escrow`` version; the
    private half is sealed under a key derived from that keyring version."""

    __tablename__ = "escrow_rsa_keys"

    app: Mapped[str] = mapped_column(String(128), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_spki: Mapped[bytes] = mapped_column(LargeBinary)
    sealed_private: Mapped[bytes] = mapped_column(LargeBinary)
    created_us: Mapped[int] = mapped_column(BigInteger)
