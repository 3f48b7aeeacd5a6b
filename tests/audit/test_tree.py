"""The stored audit tree: frontier and tiles kept by appends, proofs served from them."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from strongroom.audit.tree import TreeReader
from strongroom.crypto import merkle
from strongroom.errors import InvalidRequestError
from strongroom.store import migrate
from strongroom.store.engine import Database
from strongroom.store.models import AuditEvent, AuditHead, AuditTile
from strongroom.store.repositories import audit as repo


def _event(i: int) -> AuditEvent:
    entry = f'{{"n":{i}}}'.encode()
    return AuditEvent(
        time_us=i,
        request_id="r",
        actor="a",
        action="x",
        resource="y",
        outcome="success",
        detail="{}",
        entry=entry,
        leaf_hash=merkle.leaf_hash(entry),
    )


def _fill(db: Database, count: int, batch: int = 997) -> list[bytes]:
    leaves = []
    done = 0
    while done < count:
        events = [_event(i) for i in range(done, min(count, done + batch))]
        with db.transaction() as s:
            repo.append_many(s, events)
        leaves += [e.leaf_hash for e in events]
        done += len(events)
    return leaves


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database.from_url(database_url)
    migrate.upgrade(database.engine)
    yield database
    database.dispose()


def test_frontier_and_tiles_follow_appends(db: Database) -> None:
    leaves = _fill(db, 1100)
    with db.transaction(read_only=True) as s:
        size, frontier = repo.head(s)
        tiles = s.execute(select(AuditTile).order_by(AuditTile.idx)).scalars().all()
        reader = TreeReader(s, size)
        assert size == 1100
        assert frontier.root() == merkle.root_from_leaves(leaves)
        assert [(t.level, t.idx) for t in tiles] == [(8, 0), (8, 1), (8, 2), (8, 3)]
        for t in tiles:
            span = leaves[t.idx * 256 : (t.idx + 1) * 256]
            assert t.hash == merkle.root_from_leaves(span)
        rng = random.Random(7)
        for _ in range(40):
            n = rng.randint(1, size)
            i = rng.randrange(n)
            root = merkle.root_from_leaves(leaves[:n])
            assert reader.root(n) == root
            merkle.verify_inclusion(leaves[i], i, n, reader.inclusion(i, n), root)
            m = rng.randint(1, n)
            merkle.verify_consistency(
                m, n, merkle.root_from_leaves(leaves[:m]), root, reader.consistency(m, n)
            )
            assert reader.frontier(n) == merkle.Frontier.empty().extend(leaves[:n])


def test_level_16_tile(tmp_path: Path) -> None:
    db = Database.from_url(f"sqlite:///{tmp_path / 'big.db'}")
    migrate.upgrade(db.engine)
    try:
        _check_level_16(db)
    finally:
        db.dispose()


def _check_level_16(db: Database) -> None:
    leaves = _fill(db, 65536 + 300, batch=8192)
    with db.transaction(read_only=True) as s:
        top = s.execute(select(AuditTile).where(AuditTile.level == 16)).scalars().all()
        assert [(t.level, t.idx) for t in top] == [(16, 0)]
        assert top[0].hash == merkle.root_from_leaves(leaves[:65536])
        count = s.execute(select(func.count()).select_from(AuditTile)).scalar_one()
        assert count == (65536 + 300) // 256 + 1
        reader = TreeReader(s, len(leaves))
        root = merkle.root_from_leaves(leaves)
        for i in (0, 255, 256, 65535, 65536, len(leaves) - 1):
            merkle.verify_inclusion(
                leaves[i], i, len(leaves), reader.inclusion(i, len(leaves)), root
            )


@pytest.mark.parametrize("driver", [False, True], ids=["session", "driver"])
def test_upgraded_log_without_frontier_is_rebuilt(db: Database, driver: bool) -> None:
    leaves = _fill(db, 600)
    with db.transaction() as s:
        s.execute(update(AuditHead).values(frontier=None))
        s.execute(AuditTile.__table__.delete())
    with db.transaction(read_only=True) as s:
        assert repo.head(s)[1].root() == merkle.root_from_leaves(leaves)
    if driver:
        event = _event(600)
        with db.driver_transaction() as tx:
            repo.append_values(tx, [tuple(getattr(event, c) for c in repo.COLUMNS)])
        leaves.append(event.leaf_hash)
    else:
        leaves += _fill(db, 1)
    with db.transaction(read_only=True) as s:
        size, frontier = repo.head(s)
        assert size == 601 and frontier.root() == merkle.root_from_leaves(leaves)
        assert s.execute(select(func.count()).select_from(AuditTile)).scalar_one() == 2


def test_bad_requests(db: Database) -> None:
    _fill(db, 10)
    with db.transaction(read_only=True) as s:
        reader = TreeReader(s, 10)
        for call in (
            lambda: reader.inclusion(10, 10),
            lambda: reader.inclusion(0, 11),
            lambda: reader.consistency(0, 5),
            lambda: reader.consistency(6, 5),
            lambda: reader.root(11),
        ):
            with pytest.raises(InvalidRequestError):
                call()
        assert reader.root(0) == hashlib.sha256(b"").digest()
