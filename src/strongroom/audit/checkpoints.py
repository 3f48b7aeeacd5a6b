"""Signed checkpoints of the audit tree (C2SP tlog-checkpoint in a C2SP signed note).

The signing key is the keyring's ``audit-signing`` key; its name in notes is the log's
origin. Every version's verifier key stays published, so checkpoints signed before a
rotation still verify.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from strongroom.clock import Clock
from strongroom.crypto import note
from strongroom.kms.keyring import Keyring, KeyVersion
from strongroom.store.engine import Database
from strongroom.store.models import AuditCheckpoint
from strongroom.store.repositories import audit as repo

PURPOSE = "audit-signing"


@dataclass(frozen=True)
class SignedCheckpoint:
    size: int
    root_hash: bytes
    note: str


def _private(key: KeyVersion) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(key.material)


def verifier_keys(keyring: Keyring, origin: str) -> list[note.VerifierKey]:
    """The verifier key of every version of the signing key, newest first."""
    versions = reversed(keyring.versions(PURPOSE))
    return [note.verifier_for(origin, _private(v)) for v in versions]


def _view(row: AuditCheckpoint) -> SignedCheckpoint:
    return SignedCheckpoint(row.size, bytes(row.root_hash), row.note)


def latest(session: Session) -> SignedCheckpoint | None:
    row = repo.latest_checkpoint(session)
    return None if row is None else _view(row)


def between(session: Session, low: int, high: int) -> list[SignedCheckpoint]:
    return [_view(r) for r in repo.checkpoints_between(session, low, high)]


def make(db: Database, keyring: Keyring, origin: str, clock: Clock) -> SignedCheckpoint:
    """Sign the tree head as committed now and store it (or return the one at that size)."""
    with db.transaction(read_only=True) as session:
        size, frontier = repo.head(session)
        existing = repo.checkpoint_at(session, size)
    if existing is not None:
        return _view(existing)
    root = frontier.root()
    key = keyring.current(PURPOSE)
    text = note.Checkpoint(origin, size, root).text()
    signed = note.sign(text, origin, _private(key))
    row = AuditCheckpoint(
        size=size, root_hash=root, note=signed, key_version=key.version, created_us=clock.now_us()
    )
    try:
        with db.transaction() as session:
            repo.add_checkpoint(session, row)
    except Exception as exc:
        # Another replica signed the same size first: theirs is as good as ours.
        if not isinstance(exc.__cause__, IntegrityError):
            raise
        with db.transaction(read_only=True) as session:
            found = repo.checkpoint_at(session, size)
        if found is None:
            raise
        return _view(found)
    return SignedCheckpoint(size, root, signed)
