"""The storage barrier: values bound to their path, key versions, rewrap, prefix listing."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from strongroom.crypto import aead
from strongroom.errors import DecryptionError, InvalidRequestError, SealedError
from strongroom.kms.barrier import MAX_PATH
from strongroom.node import Call, Node
from strongroom.store.repositories import barrier as repo


@pytest.fixture
def opened(node: Node) -> Node:
    done = node.initialize(Call("t-init"), shares=3, threshold=2)
    for share in done.result.shares[:2]:
        node.unseal(Call("t-unseal"), share)
    return node


def _stored(node: Node, path: str) -> bytes:
    with node.db.transaction() as session:
        blob = repo.get(session, path)
    assert blob is not None
    return blob


def _put(node: Node, path: str, value: bytes) -> None:
    with node.db.transaction() as session:
        node.barrier().put(session, path, value)


def _get(node: Node, path: str) -> bytes | None:
    with node.db.transaction() as session:
        return node.barrier().get(session, path)


def _raw_put(node: Node, path: str, blob: bytes) -> None:
    with node.db.transaction() as session:
        repo.put(session, path, blob, 0)


def test_put_get_round_trip_and_the_store_holds_ciphertext(opened: Node) -> None:
    values = {
        "a": b"",
        "app/b": b"\x00" * 100,
        "app/c/d": "héllo wörld".encode(),
        "z" * MAX_PATH: b"x",
    }
    for path, value in values.items():
        _put(opened, path, value)
    for path, value in values.items():
        assert _get(opened, path) == value
        blob = _stored(opened, path)
        assert len(blob) == len(value) + aead.OVERHEAD
        assert aead.key_version(blob) == 1
        if len(value) >= 8:  # a shorter value can turn up in random bytes by chance
            assert value not in blob


def test_overwrite_replaces_the_value(opened: Node) -> None:
    _put(opened, "k", b"one")
    first = _stored(opened, "k")
    _put(opened, "k", b"two")
    assert _get(opened, "k") == b"two"
    assert _stored(opened, "k") != first


def test_missing_path_reads_as_none(opened: Node) -> None:
    assert _get(opened, "nothing/here") is None


def test_value_copied_to_another_path_fails(opened: Node) -> None:
    _put(opened, "apps/crm/key", b"secret-a")
    _put(opened, "apps/hr/key", b"secret-b")
    _raw_put(opened, "apps/hr/key", _stored(opened, "apps/crm/key"))
    _raw_put(opened, "apps/crm/key2", _stored(opened, "apps/crm/key"))
    with pytest.raises(DecryptionError):
        _get(opened, "apps/hr/key")
    with pytest.raises(DecryptionError):
        _get(opened, "apps/crm/key2")
    assert _get(opened, "apps/crm/key") == b"secret-a"


def test_path_is_bound_exactly(opened: Node) -> None:
    barrier = opened.barrier()
    blob = barrier.seal("a/b", b"v")
    assert barrier.open("a/b", blob) == b"v"
    for other in ("a/b/", "a/B", "a/b\x01", "a", " a/b", "a\u2215b"):
        with pytest.raises(DecryptionError):
            barrier.open(other, blob)


@pytest.mark.parametrize("where", ["format", "version", "nonce", "body", "tag"])
def test_tampered_ciphertext_fails(opened: Node, where: str) -> None:
    _put(opened, "p", b"a value worth protecting")
    blob = bytearray(_stored(opened, "p"))
    index = {"format": 0, "version": 4, "nonce": 10, "body": 20, "tag": len(blob) - 1}[where]
    blob[index] ^= 0x01
    _raw_put(opened, "p", bytes(blob))
    with pytest.raises(DecryptionError):
        _get(opened, "p")


def test_truncated_or_garbage_ciphertext_fails(opened: Node) -> None:
    _put(opened, "p", b"value")
    blob = _stored(opened, "p")
    for bad in (blob[:-1], blob[: aead.OVERHEAD - 1], b"", b"plain text value"):
        _raw_put(opened, "p", bad)
        with pytest.raises(DecryptionError):
            _get(opened, "p")


def test_unknown_key_version_fails(opened: Node) -> None:
    _put(opened, "p", b"value")
    blob = _stored(opened, "p")
    _raw_put(opened, "p", blob[:1] + (7).to_bytes(4, "big") + blob[5:])
    with pytest.raises(DecryptionError):
        _get(opened, "p")


def test_rotation_keeps_old_values_readable_and_seals_new_ones_with_the_new_key(
    opened: Node,
) -> None:
    _put(opened, "old", b"v1 value")
    opened.rotate_key(Call("t"), "barrier")
    _put(opened, "new", b"v2 value")
    assert aead.key_version(_stored(opened, "old")) == 1
    assert aead.key_version(_stored(opened, "new")) == 2
    assert _get(opened, "old") == b"v1 value"
    assert _get(opened, "new") == b"v2 value"
    # Rotating another purpose does not change what the barrier uses.
    opened.rotate_key(Call("t"), "audit-hmac")
    _put(opened, "newer", b"x")
    assert aead.key_version(_stored(opened, "newer")) == 2


def test_rewrap_moves_a_value_to_the_current_version(opened: Node) -> None:
    _put(opened, "r", b"rewrap me")
    opened.rotate_key(Call("t"), "barrier")
    opened.rotate_key(Call("t"), "barrier")
    before = _stored(opened, "r")
    assert aead.key_version(before) == 1
    with opened.db.transaction() as session:
        assert opened.barrier().rewrap(session, "r") is True
    after = _stored(opened, "r")
    assert aead.key_version(after) == 3
    assert after != before
    assert _get(opened, "r") == b"rewrap me"
    # The rewrapped value is bound to its path still.
    _raw_put(opened, "elsewhere", after)
    with pytest.raises(DecryptionError):
        _get(opened, "elsewhere")


def test_rewrap_of_a_missing_path_is_false(opened: Node) -> None:
    with opened.db.transaction() as session:
        assert opened.barrier().rewrap(session, "missing") is False
        assert repo.get(session, "missing") is None


def test_rewrap_of_a_tampered_value_fails_and_keeps_it(opened: Node) -> None:
    _put(opened, "t", b"value")
    blob = bytearray(_stored(opened, "t"))
    blob[-1] ^= 1
    _raw_put(opened, "t", bytes(blob))
    opened.rotate_key(Call("t"), "barrier")
    with pytest.raises(DecryptionError), opened.db.transaction() as session:
        opened.barrier().rewrap(session, "t")
    assert _stored(opened, "t") == bytes(blob)


def test_delete(opened: Node) -> None:
    _put(opened, "d", b"v")
    with opened.db.transaction() as session:
        assert opened.barrier().delete(session, "d") is True
        assert opened.barrier().delete(session, "d") is False
    assert _get(opened, "d") is None


def test_list_by_prefix_is_sorted_and_literal(opened: Node) -> None:
    paths = ["a%b/1", "axb/1", "a_c/1", "abc/1", "a\\d/1", "a\\\\e", "b/1", "a%/2", "A%b"]
    for path in paths:
        _put(opened, path, b"v")
    with opened.db.transaction() as session:
        barrier = opened.barrier()
        assert list(barrier.list(session, "")) == sorted(paths)
        assert list(barrier.list(session, "a%")) == ["a%/2", "a%b/1"]
        assert list(barrier.list(session, "a_")) == ["a_c/1"]
        assert list(barrier.list(session, "a\\")) == ["a\\\\e", "a\\d/1"]
        assert list(barrier.list(session, "a\\d")) == ["a\\d/1"]
        assert list(barrier.list(session, "ab")) == ["abc/1"]
        assert list(barrier.list(session, "a")) == sorted(p for p in paths if p.startswith("a"))
        assert list(barrier.list(session, "%")) == []
        assert list(barrier.list(session, "_")) == []
        assert list(barrier.list(session, "zzz")) == []


@pytest.mark.parametrize("path", ["", "/abs", "/", "a\x00b", "x" * (MAX_PATH + 1)])
def test_bad_paths_are_refused(opened: Node, path: str) -> None:
    with opened.db.transaction() as session:
        with pytest.raises(InvalidRequestError):
            opened.barrier().put(session, path, b"v")
        with pytest.raises(InvalidRequestError):
            opened.barrier().seal(path, b"v")
    with opened.db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM barrier_entries")).scalar_one() == 0


def test_a_sealed_node_has_no_barrier(opened: Node) -> None:
    _put(opened, "s", b"v")
    opened.seal(Call("t"))
    with pytest.raises(SealedError):
        opened.barrier()
