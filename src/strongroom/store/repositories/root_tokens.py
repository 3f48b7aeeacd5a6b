"""Root tokens, by hash."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from strongroom.store.models import RootToken


def find_live(session: Session, token_hash: bytes) -> RootToken | None:
    stmt = select(RootToken).where(
        RootToken.token_hash == token_hash, RootToken.revoked_us.is_(None)
    )
    return session.execute(stmt).scalar_one_or_none()


def add(session: Session, token: RootToken) -> None:
    session.add(token)
    session.flush()


def revoke_kind(session: Session, kind: str, now_us: int) -> int:
    stmt = (
        update(RootToken)
        .where(RootToken.kind == kind, RootToken.revoked_us.is_(None))
        .values(revoked_us=now_us)
    )
    return int(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def delete_kind(session: Session, kind: str) -> int:
    result = session.execute(delete(RootToken).where(RootToken.kind == kind))
    return int(result.rowcount)  # type: ignore[attr-defined]
