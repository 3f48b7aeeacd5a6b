"""RFC 6962 / RFC 9162 Merkle tree hashing and proofs.

Everything here is a pure function of its arguments (no I/O, no clock, no randomness).

Hashing (RFC 9162 §2.1.1): a leaf is ``SHA-256(0x00 ‖ entry)``, an interior node is
``SHA-256(0x01 ‖ left ‖ right)``, and the tree over ``n`` leaves splits at the largest
power of two smaller than ``n``. The empty tree's hash is ``SHA-256("")``.

* `root_from_leaves` — the tree hash over leaf hashes already computed.
* `Frontier` — the compact state of an append-only tree: the roots of its perfect
  subtrees, left to right. Appending a leaf and taking the root both cost O(log n).
* `inclusion_proof` / `consistency_proof` — RFC 9162 §2.1.3.1 PATH and §2.1.4.1 PROOF.
* `verify_inclusion` / `verify_consistency` — RFC 9162 §2.1.3.2 and §2.1.4.2. They raise
  `ProofError` and never return a boolean: a caller cannot forget to look at the answer.

Proof generation reads leaf hashes by index from any ``Sequence[bytes]`` (only
``leaf_hashes[i]`` for ``0 <= i < size`` is used, so a store can back it lazily) and may
consult an optional `SubtreeHashes` callback for perfect subtrees:

* without a callback, a proof for a tree of ``n`` leaves reads up to ``n`` leaf hashes
  and computes up to ``n - 1`` node hashes: O(n);
* with a callback that knows every perfect subtree of two or more leaves, it makes
  O(log n) callback calls, O(log n) leaf reads and O(log n) node hashes. A callback that
  knows only some of them (say every aligned 256-leaf tile) is consulted top-down, and a
  miss is split in halves, so the work is proportional to what is not cached.

Sizes and indices are those of RFC 9162: unsigned 64-bit integers.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from strongroom.errors import ProofError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MAX_SIZE",
    "Frontier",
    "SubtreeHashes",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_from_leaves",
    "verify_consistency",
    "verify_inclusion",
]

#: The size of every hash in the tree (SHA-256).
HASH_SIZE = 32
#: MTH({}) = SHA-256 of the empty string: the root of the empty tree.
EMPTY_ROOT = hashlib.sha256(b"").digest()
#: The largest tree size (and so the largest index + 1) RFC 9162 can express.
MAX_SIZE = (1 << 64) - 1

#: ``subtree(start, end)`` returns the hash of the perfect subtree over leaves
#: ``[start, end)``, or ``None`` if it does not have it. It is only ever asked for
#: ``end - start`` a power of two of at least 2, ``start`` a multiple of ``end - start``,
#: and ``end`` no larger than the tree the proof is for: hashes that never change once
#: the tree has grown past ``end``, so a store can cache them forever.
SubtreeHashes = Callable[[int, int], bytes | None]

_sha256 = hashlib.sha256
_NODE = b"\x01"
_FRONTIER_VERSION = 1
_FRONTIER_HEADER = 1 + 8  # version byte, then the size as an unsigned 64-bit big-endian


def leaf_hash(entry: bytes) -> bytes:
    """SHA-256(0x00 ‖ entry): the hash of one log entry."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 ‖ left ‖ right): the hash of an interior node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


# --- tree hash ---------------------------------------------------------------------------


def _fold_levels(level: list[bytes]) -> bytes:
    """MTH of a non-empty list of leaf hashes, one level at a time.

    Pairing neighbours and carrying an odd last node up unchanged builds exactly the
    RFC 9162 tree (split at the largest power of two below ``n``): the left part of every
    split is a perfect subtree, so only the rightmost node of a level can be unpaired.
    """
    sha = _sha256
    node = _NODE
    while len(level) > 1:
        pairs = iter(level)
        upper = [
            sha(node + left + right).digest() for left, right in zip(pairs, pairs, strict=False)
        ]
        if len(level) & 1:
            upper.append(level[-1])
        level = upper
    return level[0]


def root_from_leaves(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over leaf hashes that are already computed (RFC 9162 §2.1.1).

    ``n - 1`` node hashes and about ``n / 2`` hashes of memory; the empty sequence gives
    `EMPTY_ROOT`. Raises `ValueError` if a leaf hash is not 32 bytes.
    """
    level = list(leaf_hashes)
    if not level:
        return EMPTY_ROOT
    if not all(isinstance(h, bytes) for h in level) or set(map(len, level)) != {HASH_SIZE}:
        raise ValueError("every leaf hash is 32 bytes")
    return _fold_levels(level)


# --- compact state -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Frontier:
    """The compact state of an append-only Merkle tree.

    ``hashes`` are the roots of the perfect subtrees the tree is made of, left to right,
    largest first: one per set bit of ``size``. That is all an appender needs: `append`
    costs one node hash on average and ``log2(n)`` at most, and `root` costs one hash per
    set bit of ``size`` beyond the first. Instances are immutable values; `to_bytes` and
    `from_bytes` carry one through a database column.
    """

    size: int
    hashes: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.size, int) or not 0 <= self.size <= MAX_SIZE:
            raise ValueError("a frontier size is an integer in [0, 2**64)")
        if not isinstance(self.hashes, tuple) or len(self.hashes) != self.size.bit_count():
            raise ValueError("a frontier holds one hash per set bit of its size")
        for h in self.hashes:
            if not isinstance(h, bytes) or len(h) != HASH_SIZE:
                raise ValueError("every frontier hash is 32 bytes")

    @classmethod
    def empty(cls) -> Frontier:
        """The state of a tree with no leaves."""
        return cls(0, ())

    def append(self, leaf_hash: bytes) -> Frontier:
        """The state after appending one leaf hash. O(log n); the receiver is unchanged."""
        return self.extend((leaf_hash,))

    def extend(self, leaf_hashes: Iterable[bytes]) -> Frontier:
        """The state after appending leaf hashes in order (one `append` each, batched).

        Each leaf merges with the perfect subtrees it completes, exactly as binary
        addition carries: the trailing one bits of the old size are the subtrees merged.
        Raises `ValueError` if a leaf hash is not 32 bytes or the tree would overflow.
        """
        sha = _sha256
        node = _NODE
        stack = list(self.hashes)
        size = self.size
        for leaf in leaf_hashes:
            if not isinstance(leaf, bytes) or len(leaf) != HASH_SIZE:
                raise ValueError("a leaf hash is 32 bytes")
            if size == MAX_SIZE:
                raise ValueError("the tree is full")
            h = leaf
            carry = size
            while carry & 1:
                h = sha(node + stack.pop() + h).digest()
                carry >>= 1
            stack.append(h)
            size += 1
        return Frontier(size, tuple(stack))

    def root(self) -> bytes:
        """MTH of the tree: the perfect subtree roots folded right to left."""
        hashes = self.hashes
        if not hashes:
            return EMPTY_ROOT
        sha = _sha256
        node = _NODE
        h = hashes[-1]
        for left in reversed(hashes[:-1]):
            h = sha(node + left + h).digest()
        return h

    def to_bytes(self) -> bytes:
        """``0x01 ‖ size (8 bytes, big-endian) ‖ hashes``: 9 + 32 * popcount(size) bytes."""
        return bytes((_FRONTIER_VERSION,)) + self.size.to_bytes(8, "big") + b"".join(self.hashes)

    @classmethod
    def from_bytes(cls, data: bytes) -> Frontier:
        """Parse `to_bytes` output. Raises `ValueError` on a wrong version or length."""
        data = bytes(data)
        if len(data) < _FRONTIER_HEADER:
            raise ValueError("a serialised frontier is at least 9 bytes")
        if data[0] != _FRONTIER_VERSION:
            raise ValueError(f"unknown frontier serialisation version {data[0]}")
        size = int.from_bytes(data[1:_FRONTIER_HEADER], "big")
        count = size.bit_count()
        if len(data) != _FRONTIER_HEADER + HASH_SIZE * count:
            raise ValueError("a serialised frontier's length does not match its size")
        hashes = tuple(
            data[i : i + HASH_SIZE] for i in range(_FRONTIER_HEADER, len(data), HASH_SIZE)
        )
        return cls(size, hashes)


# --- tiles ----------------------------------------------------------------------------------

#: Tiles are the perfect subtrees whose height is a multiple of this (256^k leaves).
TILE_BITS = 8
MAX_TILE_LEVEL = 56


@dataclass(frozen=True, slots=True)
class Tile:
    """The hash of the perfect subtree ``[idx << level, (idx + 1) << level)``."""

    level: int
    idx: int
    hash: bytes


def extend_with_tiles(frontier: Frontier, leaves: Iterable[bytes]) -> tuple[Frontier, list[Tile]]:
    """Append leaf hashes; return the new frontier and the tiles the appends completed.

    When leaf ``i`` completes a subtree of ``2^L`` leaves (``L`` a multiple of 8), the
    last ``L`` frontier hashes before it are exactly that subtree's left parts, largest
    first, so folding them onto the leaf gives the tile's hash.
    """
    tiles: list[Tile] = []
    stack = list(frontier.hashes)
    size = frontier.size
    sha = _sha256
    node = _NODE
    for leaf in leaves:
        if not isinstance(leaf, bytes) or len(leaf) != HASH_SIZE:
            raise ValueError("a leaf hash is 32 bytes")
        if size == MAX_SIZE:
            raise ValueError("the tree is full")
        # The same carry chain as `Frontier.extend`; after merging ``level`` times, ``h``
        # is the root of the 2^level leaves ending with this one.
        h = leaf
        carry = size
        level = 0
        while carry & 1:
            h = sha(node + stack.pop() + h).digest()
            carry >>= 1
            level += 1
            if level % TILE_BITS == 0 and level <= MAX_TILE_LEVEL:
                tiles.append(Tile(level, ((size + 1) >> level) - 1, h))
        stack.append(h)
        size += 1
    return Frontier(size, tuple(stack)), tiles


# --- proof generation ------------------------------------------------------------------------


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``): RFC 9162's k."""
    return 1 << ((n - 1).bit_length() - 1)


class _Hasher:
    """Subtree hashes of one tree, from its leaf hashes and an optional cache."""

    __slots__ = ("leaves", "subtree")

    def __init__(self, leaves: Sequence[bytes], subtree: SubtreeHashes | None) -> None:
        self.leaves = leaves
        self.subtree = subtree

    def perfect(self, start: int, width: int) -> bytes:
        """Hash of the perfect subtree over ``[start, start + width)``, width a power of 2."""
        if width == 1:
            return self.leaves[start]
        if self.subtree is None:
            leaves = self.leaves
            return _fold_levels([leaves[i] for i in range(start, start + width)])
        cached = self.subtree(start, start + width)
        if cached is not None:
            if not isinstance(cached, bytes) or len(cached) != HASH_SIZE:
                raise ValueError("a cached subtree hash is 32 bytes")
            return cached
        half = width >> 1
        return _sha256(
            _NODE + self.perfect(start, half) + self.perfect(start + half, half)
        ).digest()

    def mth(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for a subtree of the RFC 9162 recursion.

        Such a range is a run of perfect subtrees, largest first (``start`` is a multiple
        of the first one's width), so it is hashed as those, folded right to left.
        """
        parts: list[bytes] = []
        while True:
            n = end - start
            if n & (n - 1) == 0:
                h = self.perfect(start, n)
                break
            k = _split(n)
            parts.append(self.perfect(start, k))
            start += k
        for left in reversed(parts):
            h = _sha256(_NODE + left + h).digest()
        return h


def _check_size(value: int, what: str) -> None:
    if not isinstance(value, int) or not 0 <= value <= MAX_SIZE:
        raise ValueError(f"{what} is an integer in [0, 2**64)")


def inclusion_proof(
    index: int,
    size: int,
    leaf_hashes: Sequence[bytes],
    subtree: SubtreeHashes | None = None,
) -> list[bytes]:
    """PATH(index, D[size]) of RFC 9162 §2.1.3.1: the audit path for leaf ``index``.

    Hashes are ordered from the leaf's sibling up to the child of the root, as
    `verify_inclusion` expects. Only ``leaf_hashes[i]`` for ``i < size`` is read.
    Cost: O(size) without ``subtree``, O(log size) with a complete one (see the module).
    Raises `ValueError` unless ``0 <= index < size``: a caller asking for a proof of a
    leaf the tree does not have is a bug or a bad request, never a bad proof.
    """
    _check_size(size, "a tree size")
    if not isinstance(index, int) or not 0 <= index < size:
        raise ValueError("the leaf index is not in the tree")
    tree = _Hasher(leaf_hashes, subtree)
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            path.append(tree.mth(start + k, end))
            end = start + k
        else:
            path.append(tree.perfect(start, k))
            start += k
    path.reverse()
    return path


def consistency_proof(
    old_size: int,
    new_size: int,
    leaf_hashes: Sequence[bytes],
    subtree: SubtreeHashes | None = None,
) -> list[bytes]:
    """PROOF(old_size, D[new_size]) of RFC 9162 §2.1.4.1 (SUBPROOF with b = true).

    Empty when the sizes are equal. Only ``leaf_hashes[i]`` for ``i < new_size`` is read.
    Cost: O(new_size) without ``subtree``, O(log new_size) with a complete one.
    Raises `ValueError` unless ``0 < old_size <= new_size``: RFC 9162 defines no proof
    from the empty tree (and `verify_consistency` accepts none).
    """
    _check_size(new_size, "a tree size")
    if not isinstance(old_size, int) or not 0 < old_size <= new_size:
        raise ValueError("a consistency proof needs 0 < old_size <= new_size")
    tree = _Hasher(leaf_hashes, subtree)
    proof: list[bytes] = []
    start, end = 0, new_size
    whole_old_tree = True  # SUBPROOF's b: is D[start:end]'s old part the old tree itself?
    while old_size != end:
        k = _split(end - start)
        if old_size - start <= k:
            proof.append(tree.mth(start + k, end))
            end = start + k
        else:
            proof.append(tree.perfect(start, k))
            start += k
            whole_old_tree = False
    if not whole_old_tree:
        proof.append(tree.mth(start, end))
    proof.reverse()
    return proof


# --- verification ----------------------------------------------------------------------------


def _check_hash(value: object, what: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise ProofError(f"{what} is not a 32-byte hash")
    return value


def _check_proof(proof: Sequence[bytes], expected: int) -> None:
    if len(proof) != expected:
        raise ProofError(f"the proof has {len(proof)} hashes where {expected} are expected")
    for h in proof:
        _check_hash(h, "a proof element")


def _inclusion_length(index: int, size: int) -> int:
    """Length of PATH(index, D[size]): the levels where the paths to ``index`` and to the
    last leaf differ, plus one left sibling per set bit above them (they coincide there)."""
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` with ``root``.

    RFC 9162 §2.1.3.2, with the proof's length checked before any hashing. Returns
    nothing; raises `ProofError` for an index not below ``size``, a proof of the wrong
    length, any value that is not a 32-byte hash, or a root that does not match.
    """
    if not isinstance(size, int) or not 0 < size <= MAX_SIZE:
        raise ProofError("the tree size is out of range")
    if not isinstance(index, int) or not 0 <= index < size:
        raise ProofError("the leaf index is not below the tree size")
    r = _check_hash(leaf_hash, "the leaf hash")
    _check_hash(root, "the root")
    _check_proof(proof, _inclusion_length(index, size))

    sha = _sha256
    node = _NODE
    fn, sn = index, size - 1
    for p in proof:
        if sn == 0:  # unreachable after the length check; kept as the RFC's step 4a
            raise ProofError("the proof is too long")
        if fn & 1 or fn == sn:
            r = sha(node + p + r).digest()
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = sha(node + r + p).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the proof is too short")
    if not hmac.compare_digest(r, root):
        raise ProofError("the inclusion proof does not lead to the root")


def _consistency_length(old_size: int, new_size: int) -> int:
    """Length of PROOF(old_size, D[new_size]) for ``0 < old_size < new_size``."""
    shift = ((old_size & -old_size).bit_length()) - 1  # trailing zero bits of old_size
    inner = (((old_size - 1) ^ (new_size - 1)).bit_length()) - shift
    border = ((old_size - 1) >> (inner + shift)).bit_count()
    return inner + border + (0 if old_size == 1 << shift else 1)


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of ``new_size`` with ``new_root`` extends the one of
    ``old_size`` with ``old_root``.

    RFC 9162 §2.1.4.2, with the proof's length checked before any hashing. Equal sizes
    need an empty proof and equal roots. A proof from the empty tree (``old_size`` 0)
    is refused whatever it holds, as transparency-dev/merkle's verifier and test vectors
    do: it proves nothing (every tree extends the empty one), so asking for it is a bug.
    Returns nothing; raises `ProofError` for ``old_size > new_size``, ``old_size == 0``,
    a proof of the wrong length, any value that is not a 32-byte hash, or a mismatch.
    """
    if not isinstance(new_size, int) or not 0 <= new_size <= MAX_SIZE:
        raise ProofError("the new tree size is out of range")
    if not isinstance(old_size, int) or old_size < 0:
        raise ProofError("the old tree size is out of range")
    if old_size > new_size:
        raise ProofError("the old tree is larger than the new one")
    if old_size == 0:
        raise ProofError("a consistency proof from the empty tree is meaningless")
    _check_hash(old_root, "the old root")
    _check_hash(new_root, "the new root")
    if old_size == new_size:
        if proof:
            raise ProofError("equal tree sizes need an empty proof")
        if not hmac.compare_digest(old_root, new_root):
            raise ProofError("equal tree sizes with different roots")
        return
    _check_proof(proof, _consistency_length(old_size, new_size))

    sha = _sha256
    node = _NODE
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # step 2: an exact power of 2 is its own subtree
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:  # step 4
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]  # step 5
    for c in path[1:]:  # step 6
        if sn == 0:  # unreachable after the length check; kept as the RFC's step 6a
            raise ProofError("the proof is too long")
        if fn & 1 or fn == sn:
            fr = sha(node + c + fr).digest()
            sr = sha(node + c + sr).digest()
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = sha(node + sr + c).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the proof is too short")
    if not hmac.compare_digest(fr, old_root):
        raise ProofError("the consistency proof does not lead to the old root")
    if not hmac.compare_digest(sr, new_root):
        raise ProofError("the consistency proof does not lead to the new root")
