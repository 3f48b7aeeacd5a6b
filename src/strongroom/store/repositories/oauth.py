"""OAuth clients, revoked token ids, kill-switch epochs and used proofs."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from strongroom.store.models import OAuthClient, ProofUse, RevocationEpoch, TokenRevocation


def get_client(session: Session, client_id: str) -> OAuthClient | None:
    return session.get(OAuthClient, client_id)


def list_clients(session: Session) -> Sequence[OAuthClient]:
    return session.execute(select(OAuthClient).order_by(OAuthClient.client_id)).scalars().all()


def add_client(session: Session, client: OAuthClient) -> None:
    session.add(client)
    session.flush()


def delete_client(session: Session, client_id: str) -> bool:
    result = session.execute(delete(OAuthClient).where(OAuthClient.client_id == client_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def revoke(session: Session, token_id: str, now_us: int, expires_us: int) -> None:
    """Record ``token_id`` as revoked until ``expires_us`` (kept if already recorded longer)."""
    row = session.get(TokenRevocation, token_id)
    if row is None:
        session.add(TokenRevocation(token_id=token_id, revoked_us=now_us, expires_us=expires_us))
    elif row.expires_us < expires_us:
        row.expires_us = expires_us
    session.flush()


def live_revocations(session: Session, now_us: int) -> Sequence[str]:
    stmt = select(TokenRevocation.token_id).where(TokenRevocation.expires_us > now_us)
    return session.execute(stmt).scalars().all()


def purge_revocations(session: Session, now_us: int) -> int:
    result = session.execute(delete(TokenRevocation).where(TokenRevocation.expires_us <= now_us))
    return int(result.rowcount)  # type: ignore[attr-defined]


def set_epoch(session: Session, kind: str, name: str, epoch_s: int, now_us: int) -> None:
    row = session.get(RevocationEpoch, (kind, name))
    if row is None:
        session.add(RevocationEpoch(kind=kind, name=name, epoch_s=epoch_s, updated_us=now_us))
    else:
        row.epoch_s = max(row.epoch_s, epoch_s)
        row.updated_us = now_us
    session.flush()


def epochs(session: Session) -> Sequence[tuple[str, str, int]]:
    stmt = select(RevocationEpoch.kind, RevocationEpoch.name, RevocationEpoch.epoch_s)
    return [(k, n, e) for k, n, e in session.execute(stmt).all()]


def first_use(session: Session, digest: bytes, expires_us: int, now_us: int) -> bool:
    """Record a proof's use; False if it was used before (and has not expired)."""
    row = session.get(ProofUse, digest)
    if row is not None:
        if row.expires_us > now_us:
            return False
        row.expires_us = expires_us
        session.flush()
        return True
    try:
        with session.begin_nested():
            session.add(ProofUse(digest=digest, expires_us=expires_us))
    except IntegrityError:
        return False
    return True


def purge_proofs(session: Session, now_us: int) -> int:
    result = session.execute(delete(ProofUse).where(ProofUse.expires_us <= now_us))
    return int(result.rowcount)  # type: ignore[attr-defined]
