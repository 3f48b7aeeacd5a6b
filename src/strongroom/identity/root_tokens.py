"""Root tokens: opaque random bearer tokens, stored as SHA-256 only.

A root token is printed once at init (and by dev mode at each start). It holds every
scope, so operators should mint scoped access tokens for daily work and keep it offline.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy.orm import Session

from strongroom.clock import Clock
from strongroom.identity.principal import Principal
from strongroom.store.models import RootToken
from strongroom.store.repositories import root_tokens as repo

PREFIX = "srr."


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def create(session: Session, clock: Clock, kind: str, value: str | None = None) -> str:
    """Store a new root token and return it (the only time it exists in clear)."""
    token = value if value is not None else PREFIX + secrets.token_urlsafe(32)
    token_id = "rt_" + secrets.token_hex(8)
    repo.add(
        session,
        RootToken(id=token_id, token_hash=_hash(token), kind=kind, created_us=clock.now_us()),
    )
    return token


def revoke_kind(session: Session, clock: Clock, kind: str) -> int:
    """Revoke every live root token of a kind."""
    return repo.revoke_kind(session, kind, clock.now_us())


def replace_dev(session: Session, clock: Clock, value: str | None) -> str:
    """Drop the previous dev root token and store a new one (``value`` or random)."""
    repo.delete_kind(session, "dev")
    return create(session, clock, "dev", value)


def authenticate(session: Session, token: str) -> Principal | None:
    """The root principal for a live root token, else None."""
    row = repo.find_live(session, _hash(token))
    if row is None:
        return None
    return Principal(subject="root", kind="root", token_id=row.id, scopes=frozenset())
