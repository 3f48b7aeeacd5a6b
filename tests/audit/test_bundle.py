"""Export bundles and offline verification: every change is found, and where."""

from __future__ import annotations

import random

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from support import Ready

from strongroom.audit import bundle
from strongroom.audit.checkpoints import PURPOSE
from strongroom.crypto import note
from strongroom.errors import BundleError
from strongroom.node import Call, Node


def _grow(node: Node, count: int) -> None:
    for i in range(count):
        node.list_keys(Call(f"grow-{i}", "tester"))


def _export(node: Node, since: int = 0) -> bytes:
    return b"".join(node.audit.export_bundle(Call("export", "tester"), since))


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


@pytest.fixture
def logged(ready: Ready) -> tuple[Ready, bytes, list[str]]:
    node = ready.node
    _grow(node, 40)
    node.audit.make_checkpoint(Call("cp1", "tester"))
    _grow(node, 30)
    return ready, _export(node), node.audit.verifier_keys()


def test_a_fresh_bundle_verifies(logged: tuple[Ready, bytes, list[str]]) -> None:
    ready, data, keys = logged
    report = bundle.verify(_lines(data), keys)
    assert report.start == 0 and report.size == len(_lines(data)) - 1
    assert len(report.checkpoints) >= 2 and not report.keys_from_bundle
    newest = ready.node.audit.checkpoint().note.split("\n\n")[0] + "\n"
    assert report.root_hash == note.Checkpoint.parse(newest).root_hash
    untrusted = bundle.verify(_lines(data))
    assert untrusted.keys_from_bundle


def _located(data: bytes, keys: list[str]) -> BundleError:
    with pytest.raises(BundleError) as caught:
        bundle.verify(_lines(data), keys)
    return caught.value


def test_every_single_byte_change_is_detected(logged: tuple[Ready, bytes, list[str]]) -> None:
    _, data, keys = logged
    rng = random.Random(1234)
    positions = rng.sample(range(len(data)), 400) + list(range(0, len(data), 97))
    for pos in positions:
        changed = bytearray(data)
        changed[pos] = (changed[pos] + rng.randrange(1, 256)) % 256
        _located(bytes(changed), keys)


def test_changed_event_is_named(logged: tuple[Ready, bytes, list[str]]) -> None:
    _, data, keys = logged
    lines = _lines(data)
    lines[12] = lines[12].replace(b'"tester"', b'"mallory"')
    error = _located(b"".join(lines), keys)
    assert error.extra["index"] == 11 and "event 11 was changed" in error.detail


def test_rehashed_forgery_is_bracketed_by_checkpoints(
    logged: tuple[Ready, bytes, list[str]],
) -> None:
    _, data, keys = logged
    lines = _lines(data)
    index, _, entry = lines[6].split(b" ", 2)
    forged = entry.replace(b'"tester"', b'"mallory"')
    from strongroom.crypto.merkle import leaf_hash

    lines[6] = b" ".join([index, leaf_hash(forged.rstrip(b"\n")).hex().encode(), forged])
    error = _located(b"".join(lines), keys)
    assert "do not match the checkpoint" in error.detail
    assert error.extra["index"] <= 5


@pytest.mark.parametrize("how", ["delete", "insert", "swap", "truncate", "cut"])
def test_structural_changes_are_located(logged: tuple[Ready, bytes, list[str]], how: str) -> None:
    _, data, keys = logged
    lines = _lines(data)
    if how == "delete":
        del lines[20]
    elif how == "insert":
        lines.insert(20, lines[19])
    elif how == "swap":
        lines[20], lines[21] = lines[21], lines[20]
    elif how == "truncate":
        lines = lines[:-3]
    else:
        lines[-1] = lines[-1][:-10]
    error = _located(b"".join(lines), keys)
    if how == "truncate":
        assert "truncated" in error.detail
    elif how == "cut":
        assert "cut off" in error.detail
    else:
        assert error.extra["index"] == 19


def test_wrong_or_missing_trust(logged: tuple[Ready, bytes, list[str]]) -> None:
    _, data, _ = logged
    stranger = note.verifier_for("someone/else", Ed25519PrivateKey.generate()).encode()
    with pytest.raises(BundleError, match="does not verify"):
        bundle.verify(_lines(data), [stranger])
    with pytest.raises(BundleError, match="malformed"):
        bundle.verify(_lines(data), ["not a key"])
    for broken in (b"", b"{}\n", b"not json\n", data[:30]):
        with pytest.raises(BundleError):
            bundle.verify(_lines(broken))


def test_previous_checkpoint_and_since(ready: Ready) -> None:
    node = ready.node
    _grow(node, 20)
    earlier = node.audit.make_checkpoint(Call("cp", "tester")).note
    _grow(node, 20)
    keys = node.audit.verifier_keys()
    full = _export(node)
    report = bundle.verify(_lines(full), keys, earlier)
    assert report.previous_checkpoint == note.Checkpoint.parse(earlier.split("\n\n")[0] + "\n").size
    # A bundle starting later still verifies on its own, but cannot speak for the past.
    size = report.previous_checkpoint
    assert size is not None
    later = _export(node, since=size + 5)
    assert bundle.verify(_lines(later), keys).start == size + 5
    with pytest.raises(BundleError, match="export with --since"):
        bundle.verify(_lines(later), keys, earlier)
    # A checkpoint of another history, signed with the real key, exposes a rewrite.
    key = node.keyring().current(PURPOSE)
    text = note.Checkpoint(node.settings.resolved_audit_origin, size, b"\x01" * 32).text()
    fork = note.sign(
        text,
        node.settings.resolved_audit_origin,
        Ed25519PrivateKey.from_private_bytes(key.material),
    )
    with pytest.raises(BundleError, match="rewritten"):
        bundle.verify(_lines(full), keys, fork)


def test_checkpoints_survive_key_rotation(ready: Ready) -> None:
    node = ready.node
    _grow(node, 5)
    node.audit.make_checkpoint(Call("cp", "tester"))
    node.rotate_key(Call("rot", "tester"), PURPOSE)
    _grow(node, 5)
    data = _export(node)
    keys = node.audit.verifier_keys()
    assert len(keys) == 2
    assert len(bundle.verify(_lines(data), keys).checkpoints) >= 2
    with pytest.raises(BundleError):
        bundle.verify(_lines(data), keys[:1])
