"""RFC 9162 Merkle proofs: transparency-dev's vectors, CT's 8-leaf tree, properties, and a
second verifier written from the RFC alone.

The transparency-dev vectors (``testdata/`` of github.com/transparency-dev/merkle) are read
from ``shared/vectors/merkle/`` beside the repository; see tests/vectors/merkle/PROVENANCE.md.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rfc9162 import (
    ind_mth,
    ind_node,
    independent_verify_consistency,
    independent_verify_inclusion,
)

from strongroom.crypto.merkle import (
    EMPTY_ROOT,
    Frontier,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_from_leaves,
    verify_consistency,
    verify_inclusion,
)
from strongroom.errors import CryptoError, ProofError

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "vectors" / "merkle"
CT = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "merkle" / "ct_8leaf.json").read_text()
)

FAST = settings(max_examples=25, deadline=None)


# --- helpers --------------------------------------------------------------------------------


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value or "")


def _proof(value: list[str] | None) -> list[bytes]:
    return [_b64(h) for h in value or []]


def _leaves(n: int, seed: bytes = b"") -> list[bytes]:
    return [leaf_hash(seed + i.to_bytes(4, "big")) for i in range(n)]


def _memo(leaves: Sequence[bytes]) -> Callable[[int, int], bytes | None]:
    """A complete cache of perfect subtree hashes, as a store would keep; it also checks
    it is only ever asked for aligned power-of-two ranges of two or more leaves."""
    table: dict[tuple[int, int], bytes] = {}

    def subtree(start: int, end: int) -> bytes:
        width = end - start
        assert width >= 2 and width & (width - 1) == 0 and start % width == 0
        assert end <= len(leaves)
        if (start, end) not in table:
            mid = start + width // 2
            halves = (
                [leaves[start], leaves[mid]]
                if width == 2
                else [subtree(start, mid), subtree(mid, end)]
            )
            table[start, end] = ind_node(*halves)
        return table[start, end]

    return subtree


def _flip(value: bytes, bit: int) -> bytes:
    out = bytearray(value)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


# --- transparency-dev vectors ---------------------------------------------------------------

#: The one vector we disagree with, on purpose: two equal tree sizes (one) with an empty
#: proof and equal "roots" that are the 12-byte strings "don't care 2". transparency-dev's
#: verifier only compares the roots there; ours first refuses any root that is not a
#: 32-byte hash, which can never be the root of a SHA-256 tree.
NON_HASH_ROOTS = "additional/sizes-are-equal-one-and-proof-is-empty.json"
DEVIATIONS = {f"consistency/{NON_HASH_ROOTS}", f"subtreeconsistency/{NON_HASH_ROOTS}"}


def _vector_files(kind: str) -> list[Path]:
    return sorted((SHARED / kind).rglob("*.json"))


def _rel(path: Path) -> str:
    return path.relative_to(SHARED).as_posix()


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def test_vector_tree_is_all_there() -> None:
    assert SHARED.is_dir(), "the transparency-dev vectors belong in ../shared/vectors/merkle"
    counts = {
        kind: len(_vector_files(kind))
        for kind in sorted(p.name for p in SHARED.iterdir() if p.is_dir())
    }
    assert counts == {
        "consistency": 98,
        "inclusion": 98,
        "subtreeconsistency": 118,
        "subtreeinclusion": 204,
    }
    assert sum(counts.values()) == 518
    # Of the 196 RFC 9162 vectors, 12 are valid proofs and 184 are mutations of them.
    rfc = _vector_files("inclusion") + _vector_files("consistency")
    assert sum(not _load(p)["wantErr"] for p in rfc) == 12
    assert (SHARED / "LICENSE").is_file()


def _run_inclusion(data: dict[str, Any]) -> None:
    verify_inclusion(
        _b64(data["leafHash"]),
        data["leafIdx"],
        data["treeSize"],
        _proof(data["proof"]),
        _b64(data["root"]),
    )


def _run_consistency(size1: int, size2: int, data: dict[str, Any]) -> None:
    verify_consistency(
        size1, size2, _b64(data["root1"]), _b64(data["root2"]), _proof(data["proof"])
    )


def _expect(rel: str, data: dict[str, Any], run: Callable[[], None]) -> None:
    if data["wantErr"] or rel in DEVIATIONS:
        with pytest.raises(ProofError):
            run()
    else:
        run()


@pytest.mark.parametrize("path", _vector_files("inclusion"), ids=_rel)
def test_transparency_dev_inclusion(path: Path) -> None:
    data = _load(path)
    _expect(_rel(path), data, lambda: _run_inclusion(data))
    ok = independent_verify_inclusion(
        _b64(data["leafHash"]),
        data["leafIdx"],
        data["treeSize"],
        _proof(data["proof"]),
        _b64(data["root"]),
    )
    assert ok is not data["wantErr"]


@pytest.mark.parametrize("path", _vector_files("consistency"), ids=_rel)
def test_transparency_dev_consistency(path: Path) -> None:
    data = _load(path)
    _expect(_rel(path), data, lambda: _run_consistency(data["size1"], data["size2"], data))
    ok = independent_verify_consistency(
        data["size1"],
        data["size2"],
        _b64(data["root1"]),
        _b64(data["root2"]),
        _proof(data["proof"]),
    )
    assert ok is not (data["wantErr"] or _rel(path) in DEVIATIONS)


def test_the_deviation_is_only_about_hash_length() -> None:
    data = _load(SHARED / "consistency" / NON_HASH_ROOTS)
    assert not data["wantErr"]
    assert len(_b64(data["root1"])) != 32
    assert data["root1"] == data["root2"]
    assert not data["proof"]
    verify_consistency(1, 1, EMPTY_ROOT, EMPTY_ROOT, [])  # the same case with real hashes


# The subtree* directories test the [start, end) subtree proofs of the Merkle Tree
# Certificates draft, a different construction: shifted subtrees, subtree-validity rules
# and an accepted empty subtree have no RFC 9162 counterpart. A subtree that starts at
# leaf 0, though, is the tree of its first `end` leaves, and its proofs are RFC 9162
# proofs; those vectors run here too (191 of the 322), the rest are left out.


def _subtree_cases(kind: str) -> list[Path]:
    """Vectors whose subtree is [0, end); for consistency also end > 0, since the draft
    accepts the empty subtree with the empty root where RFC 9162 has no proof at all."""
    cases = [p for p in _vector_files(kind) if _load(p)["start"] == 0]
    if kind == "subtreeconsistency":
        cases = [p for p in cases if _load(p)["end"] > 0]
    return cases


def test_subtree_vectors_mapped() -> None:
    assert len(_subtree_cases("subtreeinclusion")) == 101
    assert len(_subtree_cases("subtreeconsistency")) == 91


@pytest.mark.parametrize("path", _subtree_cases("subtreeinclusion"), ids=_rel)
def test_subtree_inclusion_from_zero_is_rfc9162(path: Path) -> None:
    data = _load(path)
    mapped = {**data, "treeSize": data["end"]}
    _expect(_rel(path), data, lambda: _run_inclusion(mapped))


@pytest.mark.parametrize("path", _subtree_cases("subtreeconsistency"), ids=_rel)
def test_subtree_consistency_from_zero_is_rfc9162(path: Path) -> None:
    data = _load(path)
    _expect(_rel(path), data, lambda: _run_consistency(data["end"], data["size"], data))


# --- Certificate Transparency's 8-leaf tree -------------------------------------------------

CT_LEAVES = [leaf_hash(bytes.fromhex(h)) for h in CT["leaves"]]
CT_ROOTS = [bytes.fromhex(h) for h in CT["roots"]]


def test_ct_roots() -> None:
    assert root_from_leaves([]) == EMPTY_ROOT == bytes.fromhex(CT["empty_root"])
    frontier = Frontier.empty()
    assert frontier.root() == EMPTY_ROOT
    for size, root in enumerate(CT_ROOTS, start=1):
        frontier = frontier.append(CT_LEAVES[size - 1])
        assert root_from_leaves(CT_LEAVES[:size]) == root
        assert frontier.root() == root
        assert ind_mth(CT_LEAVES[:size]) == root


@pytest.mark.parametrize(
    "case", CT["inclusion"], ids=lambda c: f"leaf{c['ct_leaf']}-of-{c['size']}"
)
def test_ct_inclusion(case: dict[str, Any]) -> None:
    index, size = case["index"], case["size"]
    published = [bytes.fromhex(h) for h in case["path"]]
    leaves = CT_LEAVES[:size]
    assert inclusion_proof(index, size, leaves) == published
    assert inclusion_proof(index, size, leaves, _memo(leaves)) == published
    verify_inclusion(CT_LEAVES[index], index, size, published, CT_ROOTS[size - 1])
    assert independent_verify_inclusion(
        CT_LEAVES[index], index, size, published, CT_ROOTS[size - 1]
    )


@pytest.mark.parametrize(
    "case", CT["consistency"], ids=lambda c: f"{c['old_size']}-{c['new_size']}"
)
def test_ct_consistency(case: dict[str, Any]) -> None:
    m, n = case["old_size"], case["new_size"]
    published = [bytes.fromhex(h) for h in case["proof"]]
    leaves = CT_LEAVES[:n]
    assert consistency_proof(m, n, leaves) == published
    assert consistency_proof(m, n, leaves, _memo(leaves)) == published
    verify_consistency(m, n, CT_ROOTS[m - 1], CT_ROOTS[n - 1], published)
    assert independent_verify_consistency(m, n, CT_ROOTS[m - 1], CT_ROOTS[n - 1], published)


def test_ct_every_proof_of_the_8_leaf_tree() -> None:
    """Every inclusion and consistency proof over all prefixes, against CT's roots."""
    for n in range(1, 9):
        for i in range(n):
            proof = inclusion_proof(i, n, CT_LEAVES)
            verify_inclusion(CT_LEAVES[i], i, n, proof, CT_ROOTS[n - 1])
        for m in range(1, n + 1):
            proof = consistency_proof(m, n, CT_LEAVES)
            verify_consistency(m, n, CT_ROOTS[m - 1], CT_ROOTS[n - 1], proof)


# --- properties -----------------------------------------------------------------------------

sizes = st.integers(min_value=1, max_value=200)
seeds = st.binary(max_size=8)


@FAST
@given(n=sizes, seed=seeds)
def test_every_inclusion_proof_verifies(n: int, seed: bytes) -> None:
    leaves = _leaves(n, seed)
    root = root_from_leaves(leaves)
    assert root == ind_mth(leaves)
    cache = _memo(leaves)
    for i in range(n):
        proof = inclusion_proof(i, n, leaves)
        assert inclusion_proof(i, n, leaves, cache) == proof
        verify_inclusion(leaves[i], i, n, proof, root)
        assert independent_verify_inclusion(leaves[i], i, n, proof, root)


@FAST
@given(n=st.integers(min_value=0, max_value=200), seed=seeds)
def test_frontier_matches_root_from_leaves(n: int, seed: bytes) -> None:
    leaves = _leaves(n, seed)
    frontier = Frontier.empty()
    for i, h in enumerate(leaves):
        before = frontier
        frontier = frontier.append(h)
        assert before.size == i  # append leaves the receiver alone
        assert frontier.size == i + 1
        assert frontier.root() == root_from_leaves(leaves[: i + 1])
    assert frontier == Frontier.empty().extend(leaves)
    assert frontier.root() == root_from_leaves(leaves)
    assert Frontier.from_bytes(frontier.to_bytes()) == frontier
    # The frontier hashes are the perfect subtrees, largest first.
    start = 0
    subtrees = iter(frontier.hashes)
    for bit in reversed(range(n.bit_length())):
        if n >> bit & 1:
            assert next(subtrees) == root_from_leaves(leaves[start : start + (1 << bit)])
            start += 1 << bit
    assert next(subtrees, None) is None


@FAST
@given(n=sizes, seed=seeds)
def test_every_consistency_proof_into_a_random_tree_verifies(n: int, seed: bytes) -> None:
    leaves = _leaves(n, seed)
    cache = _memo(leaves)
    roots = [root_from_leaves(leaves[:m]) for m in range(n + 1)]
    for m in range(1, n + 1):
        proof = consistency_proof(m, n, leaves)
        assert consistency_proof(m, n, leaves, cache) == proof
        verify_consistency(m, n, roots[m], roots[n], proof)
        assert independent_verify_consistency(m, n, roots[m], roots[n], proof)


def test_consistency_between_all_pairs_up_to_200() -> None:
    """All 20,100 pairs 1 <= m <= n <= 200, from one cache as a store would serve them."""
    leaves = _leaves(200, b"pairs")
    cache = _memo(leaves)
    frontier = Frontier.empty()
    roots = [frontier.root()]
    for h in leaves:
        frontier = frontier.append(h)
        roots.append(frontier.root())
    for n in range(1, 201):
        for m in range(1, n + 1):
            proof = consistency_proof(m, n, leaves, cache)
            verify_consistency(m, n, roots[m], roots[n], proof)
            assert independent_verify_consistency(m, n, roots[m], roots[n], proof)


@FAST
@given(data=st.data(), n=sizes)
def test_a_flipped_bit_in_an_inclusion_proof_or_root_is_rejected(
    data: st.DataObject, n: int
) -> None:
    leaves = _leaves(n, b"flip")
    i = data.draw(st.integers(min_value=0, max_value=n - 1))
    proof = inclusion_proof(i, n, leaves)
    root = root_from_leaves(leaves)
    parts = [*proof, root, leaves[i]]
    part = data.draw(st.integers(min_value=0, max_value=len(parts) - 1))
    parts[part] = _flip(parts[part], data.draw(st.integers(min_value=0, max_value=255)))
    *bad_proof, bad_root, bad_leaf = parts
    with pytest.raises(ProofError):
        verify_inclusion(bad_leaf, i, n, bad_proof, bad_root)


@FAST
@given(data=st.data(), n=sizes)
def test_a_flipped_bit_in_a_consistency_proof_or_root_is_rejected(
    data: st.DataObject, n: int
) -> None:
    leaves = _leaves(n, b"flip")
    m = data.draw(st.integers(min_value=1, max_value=n))
    proof = consistency_proof(m, n, leaves)
    parts = [*proof, root_from_leaves(leaves[:m]), root_from_leaves(leaves)]
    part = data.draw(st.integers(min_value=0, max_value=len(parts) - 1))
    parts[part] = _flip(parts[part], data.draw(st.integers(min_value=0, max_value=255)))
    *bad_proof, old_root, new_root = parts
    with pytest.raises(ProofError):
        verify_consistency(m, n, old_root, new_root, bad_proof)


def test_every_single_bit_flip_in_small_trees_is_rejected() -> None:
    """Exhaustively, for trees up to 17 leaves: every proof, every hash in it and both
    roots, one bit of each byte position (the random tests above cover the other bits)."""
    for n in range(1, 18):
        leaves = _leaves(n, b"all")
        roots = [root_from_leaves(leaves[:m]) for m in range(n + 1)]
        for i in range(n):
            parts = [*inclusion_proof(i, n, leaves), roots[n], leaves[i]]
            for part in range(len(parts)):
                for byte in range(32):
                    bad = list(parts)
                    bad[part] = _flip(bad[part], byte * 8 + byte % 8)
                    *bad_proof, bad_root, bad_leaf = bad
                    with pytest.raises(ProofError):
                        verify_inclusion(bad_leaf, i, n, bad_proof, bad_root)
        for m in range(1, n + 1):
            parts = [*consistency_proof(m, n, leaves), roots[m], roots[n]]
            for part in range(len(parts)):
                for byte in range(32):
                    bad = list(parts)
                    bad[part] = _flip(bad[part], byte * 8 + byte % 8)
                    *bad_proof, old_root, new_root = bad
                    with pytest.raises(ProofError):
                        verify_consistency(m, n, old_root, new_root, bad_proof)


@FAST
@given(n=st.integers(min_value=2, max_value=200), data=st.data())
def test_proofs_for_other_positions_are_rejected(n: int, data: st.DataObject) -> None:
    leaves = _leaves(n, b"pos")
    root = root_from_leaves(leaves)
    i = data.draw(st.integers(min_value=0, max_value=n - 1))
    j = data.draw(st.integers(min_value=0, max_value=n - 1).filter(lambda j: j != i))
    with pytest.raises(ProofError):
        verify_inclusion(leaves[i], j, n, inclusion_proof(i, n, leaves), root)
    m = data.draw(st.integers(min_value=1, max_value=n - 1))
    other = data.draw(st.integers(min_value=1, max_value=n).filter(lambda o: o != m))
    proof = consistency_proof(m, n, leaves)
    with pytest.raises(ProofError):
        verify_consistency(other, n, root_from_leaves(leaves[:m]), root, proof)


# --- refusals -------------------------------------------------------------------------------


def test_proof_error_is_a_400_crypto_error() -> None:
    assert issubclass(ProofError, CryptoError)
    assert (ProofError.status, ProofError.slug, ProofError.title) == (
        400,
        "invalid-proof",
        "Invalid proof",
    )
    assert ProofError().type_uri == "urn:strongroom:problem:invalid-proof"


def test_inclusion_refusals() -> None:
    leaves = _leaves(5)
    root = root_from_leaves(leaves)
    proof = inclusion_proof(2, 5, leaves)
    verify_inclusion(leaves[2], 2, 5, proof, root)
    bad: list[tuple[Any, ...]] = [
        (leaves[2], 5, 5, proof, root),  # index == size
        (leaves[2], 7, 5, proof, root),  # index > size
        (leaves[2], -1, 5, proof, root),
        (leaves[2], 0, 0, [], EMPTY_ROOT),  # nothing is in the empty tree
        (leaves[2], 2, 2**64, proof, root),  # beyond uint64
        (leaves[2], 2, 5, proof[:-1], root),
        (leaves[2], 2, 5, [*proof, proof[-1]], root),
        (leaves[2], 2, 5, [proof[0], *proof], root),
        (leaves[2], 2, 5, [], root),
        (leaves[2][:31], 2, 5, proof, root),
        (leaves[2] + b"\x00", 2, 5, proof, root),
        (leaves[2], 2, 5, proof, root[:31]),
        (leaves[2], 2, 5, [proof[0] + b"\x00", *proof[1:]], root),
        (leaves[2], 2, 5, [proof[0].hex(), *proof[1:]], root),
        (leaves[2], 2, 5, proof, EMPTY_ROOT),
        (leaves[3], 2, 5, proof, root),
    ]
    for args in bad:
        with pytest.raises(ProofError):
            verify_inclusion(*args)


def test_consistency_refusals() -> None:
    leaves = _leaves(7)
    old, new = root_from_leaves(leaves[:3]), root_from_leaves(leaves)
    proof = consistency_proof(3, 7, leaves)
    verify_consistency(3, 7, old, new, proof)
    verify_consistency(7, 7, new, new, [])
    bad: list[tuple[Any, ...]] = [
        (7, 3, new, old, proof),  # old_size > new_size
        (4, 3, new, old, []),
        (0, 7, EMPTY_ROOT, new, proof),  # from the empty tree, with a proof ...
        (0, 7, EMPTY_ROOT, new, []),  # ... or without
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, []),
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT]),
        (-1, 7, old, new, proof),
        (3, 2**64, old, new, proof),
        (7, 7, new, new, [new]),  # equal sizes need an empty proof ...
        (7, 7, old, new, []),  # ... and equal roots
        (3, 7, old, new, []),
        (3, 7, old, new, proof[:-1]),
        (3, 7, old, new, [*proof, proof[-1]]),
        (3, 7, old, new, [old, *proof]),
        (3, 7, old[:31], new, proof),
        (3, 7, old, new + b"\x00", proof),
        (3, 7, old, new, [proof[0][:31], *proof[1:]]),
        (3, 7, new, old, proof),
        (3, 7, old, old, proof),
        (3, 7, root_from_leaves(leaves[:2]), new, proof),  # a real root, of another size
        (3, 7, _flip(old, 0), new, proof),  # only the old root is wrong
    ]
    for args in bad:
        with pytest.raises(ProofError):
            verify_consistency(*args)


def test_generation_refuses_what_no_proof_exists_for() -> None:
    leaves = _leaves(4)
    for index, size in [(4, 4), (-1, 4), (0, 0)]:
        with pytest.raises(ValueError, match="not in the tree"):
            inclusion_proof(index, size, leaves)
    for m, n in [(0, 4), (0, 0), (5, 4), (-1, 4)]:
        with pytest.raises(ValueError, match="0 < old_size"):
            consistency_proof(m, n, leaves)
    assert consistency_proof(4, 4, leaves) == []
    assert inclusion_proof(0, 1, leaves) == []
    with pytest.raises(ValueError, match="cached subtree hash"):
        inclusion_proof(0, 4, leaves, lambda start, end: b"short")


def test_root_from_leaves_refuses_non_hashes() -> None:
    assert root_from_leaves([]) == hashlib.sha256(b"").digest()
    for bad in ([b"x" * 31], [b"x" * 32, b"x" * 33], [b"x" * 32, "y" * 32]):
        with pytest.raises(ValueError, match="32 bytes"):
            root_from_leaves(bad)  # type: ignore[arg-type]


def test_subtree_cache_makes_proofs_logarithmic() -> None:
    """With every perfect subtree cached, a proof reads O(log n) hashes, not O(n)."""
    n = 100_003
    leaves = _leaves(n)
    reads = 0

    class CountingLeaves(Sequence[bytes]):
        def __len__(self) -> int:
            return n

        def __getitem__(self, i: Any) -> Any:
            nonlocal reads
            reads += 1
            return leaves[i]

    calls: list[tuple[int, int]] = []
    known = _memo(leaves)

    def subtree(start: int, end: int) -> bytes | None:
        calls.append((start, end))
        return known(start, end)

    counted = CountingLeaves()
    root = Frontier.empty().extend(leaves).root()
    for index in (0, 1, n // 2, n - 2, n - 1):
        reads, calls = 0, []
        proof = inclusion_proof(index, n, counted, subtree)
        assert reads + len(calls) <= 2 * n.bit_length()
        verify_inclusion(leaves[index], index, n, proof, root)
    for m in (1, 2, 3, 65_536, n // 3, n - 1):
        reads, calls = 0, []
        proof = consistency_proof(m, n, counted, subtree)
        assert reads + len(calls) <= 3 * n.bit_length()
        verify_consistency(m, n, root_from_leaves(leaves[:m]), root, proof)


def test_a_partial_cache_is_split_on_a_miss() -> None:
    """A cache holding only aligned 16-leaf tiles still gives the same proofs."""
    leaves = _leaves(300, b"tiles")

    def tiles(start: int, end: int) -> bytes | None:
        return root_from_leaves(leaves[start:end]) if end - start == 16 else None

    for i in (0, 17, 255, 256, 299):
        assert inclusion_proof(i, 300, leaves, tiles) == inclusion_proof(i, 300, leaves)
    for m in (1, 16, 17, 200, 299):
        assert consistency_proof(m, 300, leaves, tiles) == consistency_proof(m, 300, leaves)


# --- Frontier ---------------------------------------------------------------------------------


def test_frontier_serialisation() -> None:
    frontier = Frontier.empty().extend(CT_LEAVES[:6])
    data = frontier.to_bytes()
    assert data == (
        b"\x01"
        + (6).to_bytes(8, "big")
        + root_from_leaves(CT_LEAVES[:4])
        + root_from_leaves(CT_LEAVES[4:6])
    )
    assert Frontier.from_bytes(data) == frontier
    assert Frontier.from_bytes(data).root() == CT_ROOTS[5]
    assert Frontier.empty().to_bytes() == b"\x01" + bytes(8)
    assert Frontier.from_bytes(b"\x01" + bytes(8)) == Frontier.empty()
    bad = [
        b"",
        data[:8],
        b"\x02" + data[1:],  # unknown version
        b"\x00" + data[1:],
        data[:-1],  # truncated hash
        data + b"\x00",
        data + bytes(32),  # one hash too many for size 6
        data[:9] + data[9:41],  # one hash too few
        b"\x01" + (7).to_bytes(8, "big") + data[9:],  # size 7 needs three hashes
    ]
    for blob in bad:
        with pytest.raises(ValueError):
            Frontier.from_bytes(blob)


def test_frontier_refuses_inconsistent_state() -> None:
    h = bytes(32)
    for size, hashes in [(1, ()), (0, (h,)), (3, (h,)), (-1, ()), (2**64, ()), (1, (h[:31],))]:
        with pytest.raises(ValueError):
            Frontier(size, hashes)
    with pytest.raises(ValueError, match="32 bytes"):
        Frontier.empty().append(b"short")
    with pytest.raises(ValueError, match="full"):
        Frontier(2**64 - 1, (h,) * 64).append(h)
    with pytest.raises(AttributeError):
        Frontier.empty().size = 3  # type: ignore[misc]
