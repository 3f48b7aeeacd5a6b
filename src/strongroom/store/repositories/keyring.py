"""Wrapped keyring keys."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from strongroom.store.models import KeyringKey


def all_keys(session: Session) -> Sequence[KeyringKey]:
    stmt = select(KeyringKey).order_by(KeyringKey.purpose, KeyringKey.version)
    return session.execute(stmt).scalars().all()


def latest_version(session: Session, purpose: str) -> int:
    stmt = select(func.max(KeyringKey.version)).where(KeyringKey.purpose == purpose)
    return int(session.execute(stmt).scalar_one_or_none() or 0)


def fingerprint(session: Session) -> tuple[int, int]:
    """(count, max created time): changes whenever any replica adds a version."""
    stmt = select(func.count(), func.max(KeyringKey.created_us))
    count, newest = session.execute(stmt).one()
    return int(count), int(newest or 0)


def add(session: Session, key: KeyringKey) -> None:
    session.add(key)
    session.flush()
