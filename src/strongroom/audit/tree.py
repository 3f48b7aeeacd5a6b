"""Reading the audit log's Merkle tree: roots, proofs and frontiers at any size.

Appends (in the audit repository) keep the tree's frontier on the head row and store every
perfect subtree of 256^k leaves as a *tile* when it completes, so a proof over a large
tree reads O(log n) tiles plus at most a few hundred leaf hashes instead of every leaf.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import overload

from sqlalchemy.orm import Session

from strongroom.crypto import merkle
from strongroom.crypto.merkle import TILE_BITS
from strongroom.errors import InvalidRequestError
from strongroom.store.repositories import audit as repo

TILE_WIDTH = 1 << TILE_BITS


class _Leaves(Sequence[bytes]):
    """Leaf hashes ``[0, size)`` read lazily from the store, one aligned block at a time."""

    def __init__(self, session: Session, size: int) -> None:
        self._session = session
        self._size = size
        self._blocks: dict[int, list[bytes]] = {}

    def __len__(self) -> int:
        return self._size

    @overload
    def __getitem__(self, index: int) -> bytes: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[bytes]: ...

    def __getitem__(self, index: int | slice) -> bytes | Sequence[bytes]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._size))]
        if not 0 <= index < self._size:
            raise IndexError(index)
        block = index // TILE_WIDTH
        if block not in self._blocks:
            start = block * TILE_WIDTH
            end = min(start + TILE_WIDTH, self._size)
            self._blocks[block] = list(repo.leaf_hashes(self._session, start, end))
        return self._blocks[block][index % TILE_WIDTH]


class TreeReader:
    """Roots and proofs over the stored tree, for any size up to the current one."""

    def __init__(self, session: Session, size: int) -> None:
        self.size = size
        self._session = session
        self._leaves = _Leaves(session, size)
        self._tiles: dict[tuple[int, int], bytes | None] = {}

    def _subtree(self, start: int, end: int) -> bytes | None:
        width = end - start
        level = width.bit_length() - 1
        if level < TILE_BITS or level % TILE_BITS or end > self.size:
            return None
        key = (level, start >> level)
        if key not in self._tiles:
            self._tiles[key] = repo.tile(self._session, *key)
        return self._tiles[key]

    def _check(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise InvalidRequestError(f"the log has {self.size} events; size must be <= that")

    def leaf(self, index: int) -> bytes:
        self._check(index + 1)
        return self._leaves[index]

    def root(self, size: int) -> bytes:
        """The root hash of the tree's first ``size`` leaves."""
        return self.frontier(size).root()

    def _perfect(self, start: int, width: int) -> bytes:
        if width == 1:
            return self._leaves[start]
        cached = self._subtree(start, start + width)
        if cached is not None:
            return cached
        half = width >> 1
        return merkle.node_hash(self._perfect(start, half), self._perfect(start + half, half))

    def inclusion(self, index: int, size: int) -> list[bytes]:
        self._check(size)
        if not 0 <= index < size:
            raise InvalidRequestError("index must be below size")
        return merkle.inclusion_proof(index, size, self._leaves, self._subtree)

    def consistency(self, old_size: int, new_size: int) -> list[bytes]:
        self._check(new_size)
        if not 0 < old_size <= new_size:
            raise InvalidRequestError("need 0 < from <= to")
        return merkle.consistency_proof(old_size, new_size, self._leaves, self._subtree)

    def frontier(self, size: int) -> merkle.Frontier:
        """The frontier of the first ``size`` leaves (the start state of an export)."""
        self._check(size)
        hashes = []
        start = 0
        for bit in reversed(range(size.bit_length())):
            width = 1 << bit
            if size & width:
                hashes.append(self._perfect(start, width))
                start += width
        return merkle.Frontier(size, tuple(hashes))
