"""Barrier entries: opaque ciphertext by path."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from strongroom.store.models import BarrierEntry


def get(session: Session, path: str) -> bytes | None:
    row = session.get(BarrierEntry, path)
    return None if row is None else row.value


def put(session: Session, path: str, value: bytes, now_us: int) -> None:
    row = session.get(BarrierEntry, path)
    if row is None:
        session.add(BarrierEntry(path=path, value=value, updated_us=now_us))
    else:
        row.value = value
        row.updated_us = now_us
    session.flush()


def delete_path(session: Session, path: str) -> bool:
    result = session.execute(delete(BarrierEntry).where(BarrierEntry.path == path))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def list_prefix(session: Session, prefix: str) -> Sequence[str]:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    stmt = (
        select(BarrierEntry.path)
        .where(BarrierEntry.path.like(escaped + "%", escape="\\"))
        # SQLite's LIKE ignores ASCII case; this keeps the match exact on every backend.
        .where(func.substr(BarrierEntry.path, 1, len(prefix)) == prefix)
        .order_by(BarrierEntry.path)
    )
    return session.execute(stmt).scalars().all()
