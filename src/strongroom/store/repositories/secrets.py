"""Secrets, their sealed versions and the per-app keys that seal them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session

from strongroom.store.models import Secret, SecretAppKey, SecretVersion


def app_key(session: Session, app: str) -> SecretAppKey | None:
    """The newest key of ``app``, or None if the app has none yet."""
    stmt = (
        select(SecretAppKey)
        .where(SecretAppKey.app == app)
        .order_by(SecretAppKey.version.desc())
        .limit(1)
    )
    return session.execute(stmt).scalars().first()


def add_app_key(session: Session, key: SecretAppKey) -> None:
    session.add(key)
    session.flush()


def get(session: Session, app: str, name: str, *, lock: bool = False) -> Secret | None:
    stmt = select(Secret).where(Secret.app == app, Secret.name == name)
    if lock:
        stmt = stmt.with_for_update()
    return session.execute(stmt).scalars().first()


def versions(session: Session, app: str, name: str) -> Sequence[SecretVersion]:
    stmt = (
        select(SecretVersion)
        .where(SecretVersion.app == app, SecretVersion.name == name)
        .order_by(SecretVersion.version)
    )
    return session.execute(stmt).scalars().all()


def version(session: Session, app: str, name: str, number: int) -> SecretVersion | None:
    return session.get(SecretVersion, (app, name, number))


def all_of(session: Session, app: str | None) -> Sequence[Secret]:
    stmt = select(Secret).order_by(Secret.app, Secret.name)
    if app is not None:
        stmt = stmt.where(Secret.app == app)
    return session.execute(stmt).scalars().all()


def versions_of(session: Session, app: str | None) -> Sequence[SecretVersion]:
    stmt = select(SecretVersion).order_by(
        SecretVersion.app, SecretVersion.name, SecretVersion.version
    )
    if app is not None:
        stmt = stmt.where(SecretVersion.app == app)
    return session.execute(stmt).scalars().all()


def add(session: Session, *rows: Any) -> None:
    session.add_all(rows)
    session.flush()


def disable_all(session: Session, app: str, now_us: int) -> int:
    stmt = (
        update(Secret)
        .where(Secret.app == app, Secret.disabled_us.is_(None), Secret.deleted_us.is_(None))
        .values(disabled_us=now_us)
    )
    return int(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


# The read path is one statement: the secret's state, the version's ciphertext and the
# wrapped app key that sealed it. A missing version or key leaves NULLs, not no row.
def read_row(session: Session, app: str, name: str, number: int | None) -> Any:
    """(deleted_us, disabled_us, version, value, key_version, wrapped key) or None."""
    wanted = Secret.current_version if number is None else number
    stmt = (
        select(
            Secret.deleted_us,
            Secret.disabled_us,
            SecretVersion.version,
            SecretVersion.value,
            SecretVersion.key_version,
            SecretAppKey.wrapped,
        )
        .select_from(Secret)
        .outerjoin(
            SecretVersion,
            and_(
                SecretVersion.app == Secret.app,
                SecretVersion.name == Secret.name,
                SecretVersion.version == wanted,
            ),
        )
        .outerjoin(
            SecretAppKey,
            and_(SecretAppKey.app == Secret.app, SecretAppKey.version == SecretVersion.key_version),
        )
        .where(Secret.app == app, Secret.name == name)
    )
    return session.execute(stmt).first()
