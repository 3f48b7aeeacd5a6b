"""Secrets, their sealed versions and the per-app keys that seal them."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import Integer, and_, bindparam, func, select, update
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from strongroom.store.engine import DriverTransaction, Reader
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


# The read path is one statement, built once: the secret's state, the version's ciphertext
# and the wrapped app key that sealed it. A missing version or key leaves NULLs, not no row.
# It runs on the session's connection as SQL text: no ORM objects are made per read.
_S = Secret.__table__.c
_V = SecretVersion.__table__.c
_K = SecretAppKey.__table__.c
_READ = (
    select(_S.deleted_us, _S.disabled_us, _V.version, _V.value, _V.key_version, _K.wrapped)
    .select_from(
        Secret.__table__.outerjoin(
            SecretVersion.__table__,
            and_(
                _V.app == _S.app,
                _V.name == _S.name,
                _V.version
                == func.coalesce(bindparam("version", type_=Integer), _S.current_version),
            ),
        ).outerjoin(SecretAppKey.__table__, and_(_K.app == _S.app, _K.version == _V.key_version))
    )
    .where(_S.app == bindparam("app"), _S.name == bindparam("name"))
)


@functools.lru_cache(maxsize=8)
def _read_sql(dialect: Dialect) -> tuple[str, tuple[str, ...] | None]:
    """`_READ` as this dialect's SQL text, and its parameters' order if positional."""
    compiled = _READ.compile(dialect=dialect)
    order = compiled.positiontup if compiled.positional else None
    return str(compiled), None if order is None else tuple(order)


class ReadRow(NamedTuple):
    """What a read needs: the secret's state, the version's ciphertext, its sealing key."""

    deleted_us: int | None
    disabled_us: int | None
    version: int | None
    value: bytes | None
    key_version: int | None
    wrapped: bytes | None


def read_row(reader: Reader, app: str, name: str, number: int | None) -> ReadRow | None:
    """The read's row, or None if there is no such secret.

    The hottest read there is: SQL text compiled once per dialect, run on a driver cursor
    in the reader's transaction (a Session's, or a `DriverTransaction`), which costs a
    fraction of executing a statement through SQLAlchemy each time. Driver errors surface
    as SQLAlchemy's `DBAPIError`, as they would from a statement.
    """
    if isinstance(reader, DriverTransaction):
        dialect, driver = reader.dialect, reader.connection.driver_connection
    else:
        connection = reader.connection()
        dialect, driver = connection.dialect, connection.connection.driver_connection
    sql, order = _read_sql(dialect)
    params = {"app": app, "name": name, "version": number}
    args = params if order is None else tuple(params[k] for k in order)
    try:
        cursor = driver.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, args)
            row = cursor.fetchone()
        finally:
            cursor.close()
    except dialect.loaded_dbapi.Error as exc:
        raise DBAPIError(sql, None, exc, hide_parameters=True) from exc
    return None if row is None else ReadRow(*row)
