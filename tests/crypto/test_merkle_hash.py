"""RFC 6962 leaf and node hashes, checked against the definitions and the CT test tree."""

from __future__ import annotations

import hashlib

import pytest

from strongroom.crypto.merkle import leaf_hash, node_hash

# The classic 8-leaf test set of Certificate Transparency (merkle_tree_test.cc), with the
# published root of every prefix of it.
CT_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def _mth(entries: list[bytes]) -> bytes:
    """RFC 6962 §2.1 Merkle Tree Hash, built on the functions under test."""
    n = len(entries)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaf_hash(entries[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(_mth(entries[:k]), _mth(entries[k:]))


def test_leaf_hash_of_empty_entry() -> None:
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert leaf_hash(b"").hex() == CT_ROOTS[0]


@pytest.mark.parametrize("entry", [b"", b"\x00", b"\x01", b"abc", bytes(range(256)) * 5])
def test_leaf_hash_is_sha256_of_zero_prefix(entry: bytes) -> None:
    assert leaf_hash(entry) == hashlib.sha256(b"\x00" + entry).digest()
    assert len(leaf_hash(entry)) == 32


def test_node_hash_is_sha256_of_one_prefix() -> None:
    left, right = hashlib.sha256(b"l").digest(), hashlib.sha256(b"r").digest()
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    assert node_hash(left, right) != node_hash(right, left)


def test_leaves_and_nodes_are_domain_separated() -> None:
    """A 64-byte entry that is two child hashes does not hash like their parent node."""
    left, right = leaf_hash(b"a"), leaf_hash(b"b")
    assert leaf_hash(left + right) != node_hash(left, right)
    assert leaf_hash(b"") != hashlib.sha256(b"").digest()


def test_two_leaf_root_by_hand() -> None:
    expected = hashlib.sha256(
        b"\x01" + hashlib.sha256(b"\x00").digest() + hashlib.sha256(b"\x00\x00").digest()
    ).hexdigest()
    assert _mth(CT_LEAVES[:2]).hex() == expected == CT_ROOTS[1]


def test_certificate_transparency_eight_leaf_root() -> None:
    assert _mth(CT_LEAVES).hex() == (
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    )


@pytest.mark.parametrize("size", range(1, 9))
def test_certificate_transparency_prefix_roots(size: int) -> None:
    assert _mth(CT_LEAVES[:size]).hex() == CT_ROOTS[size - 1]


def test_changing_any_leaf_changes_the_root() -> None:
    root = _mth(CT_LEAVES)
    for i in range(len(CT_LEAVES)):
        changed = list(CT_LEAVES)
        changed[i] = changed[i] + b"\x00"
        assert _mth(changed) != root
