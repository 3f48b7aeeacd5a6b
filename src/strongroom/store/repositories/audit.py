"""Audit events: gap-free append and filtered, paginated reads."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from itertools import chain
from typing import Any, cast

from sqlalchemy import Connection, Dialect, Table, func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from strongroom.crypto import merkle
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
# Plain SQL for the append path, built from constants only (table and column names and
# a placeholder per value); ``{m}`` is the driver's placeholder.
_HEAD = cast(Table, AuditHead.__table__).name
_TILES = cast(Table, AuditTile.__table__).name
_HEAD_SELECT = f"SELECT size, frontier FROM {_HEAD} WHERE id = 1"  # noqa: S608
_HEAD_UPDATE = f"UPDATE {_HEAD} SET size = {{m}}, frontier = {{m}} WHERE id = 1"  # noqa: S608
_TILE_INSERT = f"INSERT INTO {_TILES} (level, idx, hash) VALUES ({{m}}, {{m}}, {{m}})"  # noqa: S608
_LEAVES_SELECT = f"SELECT leaf_hash FROM {_EVENTS.name} ORDER BY seq"  # noqa: S608
#: Events per INSERT statement on SQLite: 2,560 parameters, within its limit (32,766).
ROWS_PER_STATEMENT = 256


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
        return _append(cursor, dialect, rows)
    except driver_error as exc:
        raise DBAPIError.instance(
            None, None, exc, driver_error, hide_parameters=True, dialect=dialect
        ) from exc
    finally:
        cursor.close()


def _append(cursor: Any, dialect: Dialect, rows: Sequence[tuple[Any, ...]]) -> list[int]:
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    # Plain SQL, not statements built per call: the head is read and written once per
    # batch, and building SQLAlchemy statements cost more than the batch's hashing.
    lock = " FOR UPDATE" if dialect.name == "postgresql" else ""
    cursor.execute(_HEAD_SELECT + lock)
    first, stored = cursor.fetchone()
    frontier = _frontier(cursor, marker, stored)
    frontier, tiles = merkle.extend_with_tiles(frontier, [r[_LEAF] for r in rows])
    if dialect.name == "sqlite":
        # One statement per 256 events: the driver releases the GIL once per statement,
        # where its executemany would release and retake it for every row. The statement
        # numbers its rows from its first parameter, so the values go in as they are.
        for start in range(0, len(rows), ROWS_PER_STATEMENT):
            part = rows[start : start + ROWS_PER_STATEMENT]
            cursor.execute(
                _numbered_insert_sql(len(part)), (first + start, *chain.from_iterable(part))
            )
    else:
        # psycopg pipelines an executemany; a statement with thousands of parameters
        # costs it several times more.
        cursor.executemany(
            _row_insert_sql(marker), [(seq, *row) for seq, row in enumerate(rows, first)]
        )
    _insert_tiles(cursor, marker, tiles)
    cursor.execute(_HEAD_UPDATE.format(m=marker), (first + len(rows), frontier.to_bytes()))
    return list(range(first, first + len(rows)))


def _insert_tiles(cursor: Any, marker: str, tiles: Sequence[merkle.Tile]) -> None:
    if tiles:
        cursor.executemany(_TILE_INSERT.format(m=marker), [(t.level, t.idx, t.hash) for t in tiles])


@functools.cache
def _row_insert_sql(marker: str) -> str:
    """``INSERT`` of one event, ``seq`` first, with the driver's placeholder."""
    values = ", ".join(marker for _ in range(1 + len(COLUMNS)))
    # Built from constants only (the table's name, our column names, placeholders).
    return f"INSERT INTO {_EVENTS.name} (seq, {', '.join(COLUMNS)}) VALUES ({values})"  # noqa: S608


@functools.lru_cache(maxsize=64)
def _numbered_insert_sql(count: int) -> str:
    """A SQLite ``INSERT`` of ``count`` events in one statement whose first parameter is
    the first event's ``seq`` and the rest are the events' values in `COLUMNS` order.

    Row ``k`` takes ``?1 + k`` as its ``seq``; each plain ``?`` is numbered one past the
    largest number used before it, so the values bind in order from 2.
    """
    values = ", ".join("?" for _ in COLUMNS)
    rows = ", ".join(f"(?1 + {k}, {values})" for k in range(count))
    # Built from constants only (the table's name, our column names, placeholders).
    return f"INSERT INTO {_EVENTS.name} (seq, {', '.join(COLUMNS)}) VALUES {rows}"  # noqa: S608


def _frontier(cursor: Any, marker: str, stored: bytes | None) -> merkle.Frontier:
    if stored is not None:
        return merkle.Frontier.from_bytes(stored)
    # Written by revision 0001 before the tree existed: rebuild once, tiles included.
    cursor.execute(_LEAVES_SELECT)
    frontier, tiles = merkle.extend_with_tiles(
        merkle.Frontier.empty(), [bytes(leaf) for (leaf,) in cursor.fetchall()]
    )
    _insert_tiles(cursor, marker, tiles)
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
