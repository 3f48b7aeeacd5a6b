"""The audit trail's append, in plain SQL on a driver cursor.

Locks the head row, numbers the events after it, inserts them, writes completed Merkle
tiles and updates the head's size and frontier once per batch. Shared by the store's
repository (`strongroom.store.repositories.audit.append_values`) and the audit appender
process (`strongroom.audit.appender`), which starts fast because nothing here imports
SQLAlchemy: the table and column names are spelled out, and a test holds them to the
models.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from itertools import chain
from typing import Any

from strongroom.crypto import merkle

EVENTS_TABLE = "audit_events"
HEAD_TABLE = "audit_head"
TILES_TABLE = "audit_tiles"

#: The order of the values `append` takes for each event (everything but ``seq``).
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
LEAF = COLUMNS.index("leaf_hash")
# Plain SQL built from constants only (table and column names and a placeholder per
# value); ``{m}`` is the driver's placeholder.
_HEAD_SELECT = f"SELECT size, frontier FROM {HEAD_TABLE} WHERE id = 1"  # noqa: S608
_HEAD_UPDATE = f"UPDATE {HEAD_TABLE} SET size = {{m}}, frontier = {{m}} WHERE id = 1"  # noqa: S608
_TILE_INSERT = f"INSERT INTO {TILES_TABLE} (level, idx, hash) VALUES ({{m}}, {{m}}, {{m}})"  # noqa: S608
_LEAVES_SELECT = f"SELECT leaf_hash FROM {EVENTS_TABLE} ORDER BY seq"  # noqa: S608
#: Events per INSERT statement on SQLite: 2,560 parameters, within its limit (32,766).
ROWS_PER_STATEMENT = 256


def append(
    cursor: Any, paramstyle: str, backend: str, rows: Sequence[tuple[Any, ...]]
) -> list[int]:
    """Append ``rows`` (value tuples in `COLUMNS` order) inside the cursor's open write
    transaction; their indexes. ``paramstyle`` and ``backend`` name the driver
    (``qmark``/``sqlite``, or ``pyformat``/``postgresql``); its errors propagate."""
    marker = "?" if paramstyle == "qmark" else "%s"
    lock = " FOR UPDATE" if backend == "postgresql" else ""
    cursor.execute(_HEAD_SELECT + lock)
    first, stored = cursor.fetchone()
    frontier = _frontier(cursor, marker, stored)
    frontier, tiles = merkle.extend_with_tiles(frontier, [r[LEAF] for r in rows])
    if backend == "sqlite":
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
    return f"INSERT INTO {EVENTS_TABLE} (seq, {', '.join(COLUMNS)}) VALUES ({values})"  # noqa: S608


@functools.lru_cache(maxsize=64)
def _numbered_insert_sql(count: int) -> str:
    """A SQLite ``INSERT`` of ``count`` events in one statement whose first parameter is
    the first event's ``seq`` and the rest are the events' values in `COLUMNS` order.

    Row ``k`` takes ``?1 + k`` as its ``seq``; each plain ``?`` is numbered one past the
    largest number used before it, so the values bind in order from 2.
    """
    values = ", ".join("?" for _ in COLUMNS)
    rows = ", ".join(f"(?1 + {k}, {values})" for k in range(count))
    return f"INSERT INTO {EVENTS_TABLE} (seq, {', '.join(COLUMNS)}) VALUES {rows}"  # noqa: S608


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
