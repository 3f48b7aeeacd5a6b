"""Audit events: gap-free append and filtered, paginated reads."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.orm import Session

from strongroom.crypto import merkle
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
COLUMNS = (
    "time_us",
    "request_id",
    "actor",
    "action",
    "resource",
    "outcome",
    "detail",
    "entry",
    "leaf_hash",
)
_LEAF = COLUMNS.index("leaf_hash")


def append_rows(session: Session, rows: Sequence[dict[str, Any]]) -> list[int]:
    """`append_many` for plain column dicts (everything but ``seq``)."""
    return append_values(session, [tuple(row[c] for c in COLUMNS) for row in rows])


def append_values(session: Session, rows: Sequence[tuple[Any, ...]]) -> list[int]:
    """Append events given as value tuples in `COLUMNS` order: the fast path.

    Locks the head row, numbers the events after it, inserts them with one driver-level
    ``executemany`` (no per-row ORM or Core bookkeeping), writes completed tiles and
    updates the head's size and frontier once for the whole batch.
    """
    if not rows:
        return []
    first, stored = session.execute(
        select(AuditHead.size, AuditHead.frontier).where(AuditHead.id == 1).with_for_update()
    ).one()
    frontier = _frontier(session, stored)
    frontier, tiles = merkle.extend_with_tiles(frontier, (r[_LEAF] for r in rows))
    connection = session.connection()
    connection.exec_driver_sql(
        _insert_sql(connection.dialect.paramstyle),
        [(first + offset, *row) for offset, row in enumerate(rows)],
    )
    if tiles:
        session.execute(
            insert(AuditTile), [{"level": t.level, "idx": t.idx, "hash": t.hash} for t in tiles]
        )
    session.execute(
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(size=first + len(rows), frontier=frontier.to_bytes())
    )
    return list(range(first, first + len(rows)))


@functools.cache
def _insert_sql(paramstyle: str) -> str:
    marker = "?" if paramstyle == "qmark" else "%s"
    names = ("seq", *COLUMNS)
    # Built from constants only (the table's name, our column names, a placeholder).
    return (
        f"INSERT INTO {_EVENTS.name} ({', '.join(names)}) "  # noqa: S608
        f"VALUES ({', '.join(marker for _ in names)})"
    )


def _frontier(session: Session, stored: bytes | None) -> merkle.Frontier:
    if stored is not None:
        return merkle.Frontier.from_bytes(stored)
    # Written by revision 0001 before the tree existed: rebuild once, tiles included.
    leaves = session.execute(select(AuditEvent.leaf_hash).order_by(AuditEvent.seq)).scalars()
    frontier, tiles = merkle.extend_with_tiles(merkle.Frontier.empty(), leaves)
    if tiles:
        session.execute(
            insert(AuditTile), [{"level": t.level, "idx": t.idx, "hash": t.hash} for t in tiles]
        )
    return frontier


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
