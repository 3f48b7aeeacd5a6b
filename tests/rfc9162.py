"""A Merkle proof verifier written from RFC 9162 alone, importing nothing from src.

Used by the tests to check proofs made by src (and served by the API) with a second,
independent implementation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

#
# Written from the definitions of §2.1.1 (MTH), §2.1.3.1 (PATH) and §2.1.4.1 (PROOF and
# SUBPROOF), not from the verification steps of §2.1.3.2/§2.1.4.2 that src follows, and
# importing nothing from src: it walks the same recursion the prover walks, taking proof
# hashes from the end (the top of the tree) and rebuilding the roots on the way back.


def ind_node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _ind_k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ind_mth(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over leaf hashes, straight from the recursive definition."""
    n = len(leaf_hashes)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaf_hashes[0]
    k = _ind_k(n)
    return ind_node(ind_mth(leaf_hashes[:k]), ind_mth(leaf_hashes[k:]))


def _ind_path_root(m: int, n: int, leaf: bytes, path: list[bytes]) -> bytes | None:
    """The root PATH(m, D[n]) leads to from ``leaf``, or None if the path has the wrong
    length. PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n]) when m < k, and
    PATH(m - k, D[k:n]) : MTH(D[0:k]) otherwise; the path of a 1-leaf tree is empty."""
    if n == 1:
        return leaf if not path else None
    if not path:
        return None
    k = _ind_k(n)
    *rest, last = path
    if m < k:
        below = _ind_path_root(m, k, leaf, rest)
        return None if below is None else ind_node(below, last)
    below = _ind_path_root(m - k, n - k, leaf, rest)
    return None if below is None else ind_node(last, below)


def independent_verify_inclusion(
    leaf: bytes, index: int, size: int, path: list[bytes], root: bytes
) -> bool:
    if not 0 <= index < size or any(len(h) != 32 for h in [leaf, root, *path]):
        return False
    return _ind_path_root(index, size, leaf, path) == root


def _ind_subproof(
    m: int, n: int, b: bool, proof: list[bytes], first: bytes
) -> tuple[bytes, bytes] | None:
    """(MTH(D[0:m]), MTH(D[0:n])) of the subtree SUBPROOF(m, D[n], b) describes, or None.

    SUBPROOF(m, D[m], true) = {} (the subtree is the old tree: its hash is ``first``);
    SUBPROOF(m, D[m], false) = {MTH(D[m])};
    SUBPROOF(m, D[n], b) = SUBPROOF(m, D[0:k], b) : MTH(D[k:n]) when m <= k, and
    SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k]) when m > k.
    """
    if m == n:
        if b:
            return (first, first) if not proof else None
        return (proof[0], proof[0]) if len(proof) == 1 else None
    if not proof:
        return None
    k = _ind_k(n)
    *rest, last = proof
    if m <= k:
        below = _ind_subproof(m, k, b, rest, first)
        return None if below is None else (below[0], ind_node(below[1], last))
    below = _ind_subproof(m - k, n - k, False, rest, first)
    if below is None:
        return None
    return ind_node(last, below[0]), ind_node(last, below[1])


def independent_verify_consistency(
    m: int, n: int, first: bytes, second: bytes, proof: list[bytes]
) -> bool:
    """PROOF(m, D[n]) = SUBPROOF(m, D[n], true), defined for 0 < m <= n."""
    if not 0 < m <= n or any(len(h) != 32 for h in [first, second, *proof]):
        return False
    roots = _ind_subproof(m, n, True, proof, first)
    return roots == (first, second)
