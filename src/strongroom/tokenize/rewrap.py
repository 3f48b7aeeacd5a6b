"""Rewrap: re-seal a policy's stored values under its newest key version.

After a rotation, values sealed before it still open (each names its key version); a
rewrap moves them to the newest version so older versions seal nothing any more. It works
in bounded batches, each one transaction: a batch re-seals only rows still live and still
under the version it read, so it is idempotent, safe beside tokenize, erase and purge,
and resumable at any point (a rerun simply finds fewer stale rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from sqlalchemy import ColumnElement, Table, and_, bindparam, func, select, update
from sqlalchemy.orm import Session

from strongroom.crypto import aead
from strongroom.errors import DecryptionError
from strongroom.store.models import TokenValue
from strongroom.store.repositories.tokenize import LIVE
from strongroom.tokenize.keys import PolicyKeys

_TABLE = cast(Table, TokenValue.__table__)
_MOVE = (
    update(_TABLE)
    .where(
        _TABLE.c.pid == bindparam("b_pid"),
        _TABLE.c.ref == bindparam("b_ref"),
        _TABLE.c.key_version == bindparam("b_old"),
        _TABLE.c.state == LIVE,
    )
    .values(sealed=bindparam("b_sealed"), key_version=bindparam("b_new"))
)


@dataclass(frozen=True)
class Rewrapped:
    """One rewrap batch: how many values moved, could not be opened, and are left."""

    key_version: int
    rewrapped: int
    unreadable: int
    remaining: int


def _stale(pid: str, version: int) -> ColumnElement[bool]:
    return and_(
        TokenValue.pid == pid,
        TokenValue.state == LIVE,
        TokenValue.sealed.is_not(None),
        TokenValue.key_version < version,
    )


def remaining(session: Session, pid: str, version: int) -> int:
    """How many live values of the policy are sealed under a version older than ``version``."""
    stmt = select(func.count()).select_from(TokenValue).where(_stale(pid, version))
    return int(session.execute(stmt).scalar_one())


def rewrap_batch(
    session: Session, pid: str, pkeys: PolicyKeys, base_aad: bytes, limit: int
) -> Rewrapped:
    """Re-seal up to ``limit`` stale values under ``pkeys.version``.

    A value that does not open (its stored key version changed, its blob damaged) is left
    as it is and counted as unreadable: detokenize refuses it as well. Such rows are skipped
    within the batch, so they never stop the others from moving.
    """
    moved = unreadable = 0
    after = b""
    while moved < limit:
        stmt = (
            select(TokenValue.ref, TokenValue.sealed, TokenValue.key_version)
            .where(_stale(pid, pkeys.version), TokenValue.ref > after)
            .order_by(TokenValue.ref)
            .limit(limit - moved)
        )
        rows = session.execute(stmt).all()
        if not rows:
            break
        params: list[dict[str, object]] = []
        for ref, sealed, version in rows:
            after = ref
            aad = base_aad + ref
            try:
                if sealed is None or aead.key_version(sealed) != version:
                    raise DecryptionError()
                plain = aead.decrypt(pkeys.seal_key(version), sealed, aad)
            except DecryptionError:
                unreadable += 1
                continue
            blob = aead.encrypt(pkeys.seal, plain, aad, key_version=pkeys.version)
            params.append(
                {
                    "b_pid": pid,
                    "b_ref": ref,
                    "b_old": version,
                    "b_sealed": blob,
                    "b_new": pkeys.version,
                }
            )
        if params:
            session.connection().execute(_MOVE, params)
            moved += len(params)
    return Rewrapped(pkeys.version, moved, unreadable, remaining(session, pid, pkeys.version))
