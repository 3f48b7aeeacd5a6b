"""Audit events: gap-free append and filtered, paginated reads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Connection, Table, func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from strongroom.crypto import merkle
from strongroom.store import audit_append
from strongroom.store.engine import DriverTransaction
from strongroom.store.models import (
    AuditAlert,
    AuditCheckpoint,
    AuditEvent,
    AuditHead,
    AuditTile,
)

# Core table for bulk inserts (the ORM would do per-row bookkeeping).
_EVENTS = cast(Table, AuditEvent.__table__)


def append(session: Session, event: AuditEvent) -> int:
    """Give ``event`` the next sequence number and insert it; returns that number.

    Locks the head row for the rest of the transaction, so concurrent appends queue and
    sequence numbers stay contiguous on every backend.
    """
    return append_many(session, [event])[0]


def append_many(session: Session, events: Sequence[AuditEvent]) -> list[int]:
    """Append several events under one head lock: one insert, frontier and tiles updated."""
    columns = [c.key for c in AuditEvent.__table__.columns if c.key != "seq"]
    indexes = append_rows(session, [{k: getattr(e, k) for k in columns} for e in events])
    for event, index in zip(events, indexes, strict=True):
        event.seq = index
    return indexes


#: The order of the values `append_values` takes for each event (everything but ``seq``).
COLUMNS = audit_append.COLUMNS
#: Events per INSERT statement on SQLite.
ROWS_PER_STATEMENT = audit_append.ROWS_PER_STATEMENT


def append_rows(session: Session, rows: Sequence[dict[str, Any]]) -> list[int]:
    """`append_many` for plain column dicts (everything but ``seq``)."""
    return append_values(session, [tuple(row[c] for c in COLUMNS) for row in rows])


def append_values(
    target: Session | Connection | DriverTransaction, rows: Sequence[tuple[Any, ...]]
) -> list[int]:
    """Append events given as value tuples in `COLUMNS` order: the fast path.

    ``target`` is the open write transaction: a Session, a Core connection or a
    `DriverTransaction`. Locks the head row, numbers the events after it, inserts them
    straight through the driver's cursor (no per-row ORM or Core bookkeeping, and no
    per-statement SQLAlchemy bookkeeping either: multi-row ``INSERT`` statements on
    SQLite, an ``executemany`` on PostgreSQL), writes completed tiles and updates the
    head's size and frontier once for the batch. Driver errors surface as SQLAlchemy's
    `DBAPIError`, parameters hidden.
    """
    if not rows:
        return []
    transaction = target.connection() if isinstance(target, Session) else target
    dialect = transaction.dialect
    driver_error: type[Exception] = dialect.loaded_dbapi.Error
    cursor = transaction.connection.cursor()
    try:
        return audit_append.append(cursor, dialect.paramstyle, dialect.name, rows)
    except driver_error as exc:
        raise DBAPIError.instance(
            None, None, exc, driver_error, hide_parameters=True, dialect=dialect
        ) from exc
    finally:
        cursor.close()


def head(session: Session) -> tuple[int, merkle.Frontier]:
    """The tree's size and frontier as committed (rebuilt on the fly after an upgrade)."""
    row = session.execute(select(AuditHead).where(AuditHead.id == 1)).scalar_one()
    if row.frontier is not None:
        return row.size, merkle.Frontier.from_bytes(row.frontier)
    leaves = session.execute(select(AuditEvent.leaf_hash).order_by(AuditEvent.seq)).scalars()
    return row.size, merkle.Frontier.empty().extend(leaves)


def size(session: Session) -> int:
    return int(session.execute(select(AuditHead.size).where(AuditHead.id == 1)).scalar_one())


def query(
    session: Session,
    *,
    after: int | None = None,
    actor: str | Sequence[str] | None = None,
    action: str | None = None,
    since_us: int | None = None,
    until_us: int | None = None,
    limit: int = 100,
    newest_first: bool = False,
) -> Sequence[AuditEvent]:
    stmt = select(AuditEvent)
    if after is not None:
        stmt = stmt.where(AuditEvent.seq < after if newest_first else AuditEvent.seq > after)
    if isinstance(actor, str):
        stmt = stmt.where(AuditEvent.actor == actor)
    elif actor is not None:
        stmt = stmt.where(AuditEvent.actor.in_(list(actor)))
    if action is not None:
        if action.endswith("*"):
            prefix = action[:-1]
            stmt = stmt.where(
                AuditEvent.action.startswith(prefix, autoescape=True),
                # SQLite's LIKE ignores ASCII case; this keeps the match exact everywhere.
                func.substr(AuditEvent.action, 1, len(prefix)) == prefix,
            )
        else:
            stmt = stmt.where(AuditEvent.action == action)
    if since_us is not None:
        stmt = stmt.where(AuditEvent.time_us >= since_us)
    if until_us is not None:
        stmt = stmt.where(AuditEvent.time_us < until_us)
    order = AuditEvent.seq.desc() if newest_first else AuditEvent.seq.asc()
    return session.execute(stmt.order_by(order).limit(limit)).scalars().all()


def leaf_hashes(session: Session, start: int, end: int) -> Sequence[bytes]:
    """Leaf hashes of events ``[start, end)`` in order."""
    stmt = (
        select(AuditEvent.leaf_hash)
        .where(AuditEvent.seq >= start, AuditEvent.seq < end)
        .order_by(AuditEvent.seq)
    )
    return session.execute(stmt).scalars().all()


def tile(session: Session, level: int, idx: int) -> bytes | None:
    stmt = select(AuditTile.hash).where(AuditTile.level == level, AuditTile.idx == idx)
    return session.execute(stmt).scalar_one_or_none()


def latest_checkpoint(session: Session) -> AuditCheckpoint | None:
    stmt = select(AuditCheckpoint).order_by(AuditCheckpoint.size.desc()).limit(1)
    return session.execute(stmt).scalar_one_or_none()


def checkpoint_at(session: Session, size: int) -> AuditCheckpoint | None:
    return session.get(AuditCheckpoint, size)


def checkpoints_between(session: Session, low: int, high: int) -> Sequence[AuditCheckpoint]:
    stmt = (
        select(AuditCheckpoint)
        .where(AuditCheckpoint.size >= low, AuditCheckpoint.size <= high)
        .order_by(AuditCheckpoint.size)
    )
    return session.execute(stmt).scalars().all()


def add_checkpoint(session: Session, checkpoint: AuditCheckpoint) -> None:
    session.add(checkpoint)
    session.flush()


def entries(session: Session, start: int, end: int) -> Sequence[tuple[int, bytes, bytes]]:
    """(index, leaf hash, canonical entry) of events ``[start, end)`` in order."""
    stmt = (
        select(AuditEvent.seq, AuditEvent.leaf_hash, AuditEvent.entry)
        .where(AuditEvent.seq >= start, AuditEvent.seq < end)
        .order_by(AuditEvent.seq)
    )
    return [(int(i), bytes(h), bytes(e)) for i, h, e in session.execute(stmt).all()]


def add_alert(session: Session, alert: AuditAlert) -> None:
    session.add(alert)
    session.flush()


def recent_alerts(session: Session, limit: int) -> Sequence[AuditAlert]:
    stmt = select(AuditAlert).order_by(AuditAlert.id.desc()).limit(limit)
    return session.execute(stmt).scalars().all()
