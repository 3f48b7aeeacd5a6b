"""The seal: init, unseal by quorum, share checks, progress, and sealing again."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest
import sqlalchemy as sa

from strongroom.config import Settings, load_settings
from strongroom.errors import (
    AlreadyInitializedError,
    InvalidRequestError,
    NotInitializedError,
    SealedError,
    ShareError,
    UnsealFailedError,
)
from strongroom.kms import shares as share_codec
from strongroom.kms.seal import MAX_SHARES
from strongroom.kms.shares import Share
from strongroom.node import Call, Node

CALL = Call("t-seal")


@pytest.fixture
def shares(node: Node) -> list[str]:
    """The node initialised with 5 shares, threshold 3; still sealed."""
    return node.initialize(CALL, shares=5, threshold=3).result.shares


def _progress(node: Node) -> tuple[bool, int]:
    status = node.status()
    return status.sealed, status.progress


def _unseal_with(node: Node, texts: list[str]) -> None:
    for text in texts:
        node.unseal(CALL, text)


def _forged(text: str, **changes: object) -> str:
    share = share_codec.decode(text)
    fields = {"set_id": share.set_id, "threshold": share.threshold, "x": share.x, "y": share.y}
    fields.update(changes)
    return share_codec.encode(Share(**fields))  # type: ignore[arg-type]


# --- init -------------------------------------------------------------------------------


def test_status_before_and_after_init(node: Node) -> None:
    before = node.status()
    assert (before.initialized, before.sealed, before.threshold, before.shares) == (
        False,
        True,
        0,
        0,
    )
    done = node.initialize(CALL, shares=5, threshold=3)
    assert len(done.result.shares) == 5
    assert len(set(done.result.shares)) == 5
    assert done.result.threshold == 3
    after = node.status()
    assert (after.initialized, after.sealed, after.threshold, after.shares, after.progress) == (
        True,
        True,
        3,
        5,
        0,
    )
    with pytest.raises(SealedError):
        node.keyring()


def test_shares_name_their_index_threshold_and_set(shares: list[str]) -> None:
    decoded = [share_codec.decode(s) for s in shares]
    assert [s.x for s in decoded] == [1, 2, 3, 4, 5]
    assert {s.threshold for s in decoded} == {3}
    assert len({s.set_id for s in decoded}) == 1
    assert {len(s.y) for s in decoded} == {32}


def test_init_results_hide_their_secrets(node: Node) -> None:
    done = node.initialize(CALL, shares=2, threshold=2)
    shown = repr(done) + repr(done.result) + str(done.result)
    for text in done.result.shares:
        assert text not in shown
        assert text.removeprefix("srs1-")[:12] not in shown
    assert done.root_token not in shown


def test_init_twice_is_refused(node: Node, shares: list[str], settings: Settings) -> None:
    with pytest.raises(AlreadyInitializedError):
        node.initialize(CALL, shares=5, threshold=3)
    # Also from a process that has not seen the config yet.
    other = Node.open(settings)
    try:
        with pytest.raises(AlreadyInitializedError):
            other.initialize(CALL, shares=3, threshold=2)
    finally:
        other.close()
    # The original shares still work.
    _unseal_with(node, shares[:3])
    assert not node.seal_manager.sealed


def test_unseal_before_init_is_refused(node: Node) -> None:
    share = share_codec.encode(Share(os.urandom(8), 2, 1, os.urandom(32)))
    for text in (share, "srs1-garbage"):
        with pytest.raises(NotInitializedError):
            node.unseal(CALL, text)
    status = node.status()
    assert (status.initialized, status.sealed, status.progress) == (False, True, 0)


@pytest.mark.parametrize(
    ("count", "threshold"),
    [
        (3, 4),
        (1, 2),
        (5, 0),
        (0, 0),
        (MAX_SHARES + 1, 3),
        (MAX_SHARES + 1, MAX_SHARES + 1),
        (3, -1),
    ],
)
def test_bad_share_counts_are_refused(node: Node, count: int, threshold: int) -> None:
    with pytest.raises(InvalidRequestError):
        node.initialize(CALL, shares=count, threshold=threshold)
    # Nothing was stored: a valid init still works.
    assert node.status().initialized is False
    node.initialize(CALL, shares=2, threshold=1)
    assert node.status().initialized is True


def test_the_largest_share_set_is_allowed(node: Node) -> None:
    done = node.initialize(CALL, shares=MAX_SHARES, threshold=2)
    assert len(done.result.shares) == MAX_SHARES
    _unseal_with(node, [done.result.shares[0], done.result.shares[-1]])
    assert not node.seal_manager.sealed


def test_threshold_one_unseals_with_any_single_share(node: Node) -> None:
    done = node.initialize(CALL, shares=3, threshold=1)
    for text in done.result.shares:
        node.unseal(CALL, text)
        assert not node.seal_manager.sealed
        node.seal(CALL)


# --- unseal -----------------------------------------------------------------------------


def test_any_three_of_five_unseal(node: Node, shares: list[str]) -> None:
    combos = list(itertools.combinations(range(5), 3))
    assert len(combos) == 10
    for combo in combos:
        for order in (combo, combo[::-1]):
            assert node.seal_manager.sealed
            _unseal_with(node, [shares[i] for i in order])
            assert not node.seal_manager.sealed
            assert node.keyring().current("barrier").version == 1
            node.seal(CALL)


def test_progress_counts_up_and_unseals_at_the_threshold(node: Node, shares: list[str]) -> None:
    assert _progress(node) == (True, 0)
    first = node.unseal(CALL, shares[4])
    assert (first.sealed, first.progress) == (True, 1)
    assert _progress(node) == (True, 1)
    second = node.unseal(CALL, shares[1])
    assert (second.sealed, second.progress) == (True, 2)
    with pytest.raises(SealedError):
        node.keyring()
    third = node.unseal(CALL, shares[2])
    assert (third.sealed, third.progress) == (False, 0)
    assert _progress(node) == (False, 0)
    node.keyring()


def test_fewer_than_threshold_leave_it_sealed(node: Node, shares: list[str]) -> None:
    _unseal_with(node, shares[:2])
    assert _progress(node) == (True, 2)
    with pytest.raises(SealedError):
        node.barrier()


def test_a_share_after_unseal_is_ignored(node: Node, shares: list[str]) -> None:
    _unseal_with(node, shares[:3])
    status = node.unseal(CALL, shares[3])
    assert (status.sealed, status.progress) == (False, 0)


def test_a_duplicate_share_raises_and_does_not_count(node: Node, shares: list[str]) -> None:
    node.unseal(CALL, shares[0])
    node.unseal(CALL, shares[1])
    for duplicate in (shares[0], shares[1].upper(), " ".join(shares[0])):
        with pytest.raises(ShareError):
            node.unseal(CALL, duplicate)
        assert _progress(node) == (True, 2)
    node.unseal(CALL, shares[2])
    assert not node.seal_manager.sealed


@pytest.mark.parametrize(
    "bad", ["", "srs1-", "srs1-abc", "not a share", "srs2-aaaaaaaaaaaaaaaa", "srs1-" + "a" * 76]
)
def test_a_malformed_share_does_not_count(node: Node, shares: list[str], bad: str) -> None:
    node.unseal(CALL, shares[0])
    with pytest.raises(ShareError):
        node.unseal(CALL, bad)
    assert _progress(node) == (True, 1)
    _unseal_with(node, shares[1:3])
    assert not node.seal_manager.sealed


def test_a_share_with_a_typo_does_not_count(node: Node, shares: list[str]) -> None:
    text = shares[1]
    typo = text[:20] + ("b" if text[20] != "b" else "c") + text[21:]
    node.unseal(CALL, shares[0])
    with pytest.raises(ShareError):
        node.unseal(CALL, typo)
    assert _progress(node) == (True, 1)


def test_a_share_of_the_wrong_length_does_not_count(node: Node, shares: list[str]) -> None:
    short = _forged(shares[2], y=os.urandom(16))
    node.unseal(CALL, shares[0])
    node.unseal(CALL, shares[1])
    with pytest.raises(ShareError):
        node.unseal(CALL, short)
    assert _progress(node) == (True, 2)
    node.unseal(CALL, shares[2])
    assert not node.seal_manager.sealed


def test_a_share_of_another_init_is_refused(node: Node, shares: list[str], tmp_path: Path) -> None:
    other_settings = load_settings(
        database_url="sqlite:///" + (tmp_path / "other.db").as_posix(),
        data_dir=tmp_path / "other",
    )
    other = Node.open(other_settings)
    try:
        foreign = other.initialize(CALL, shares=5, threshold=3).result.shares
    finally:
        other.close()
    node.unseal(CALL, shares[0])
    for text in foreign:
        with pytest.raises(ShareError) as info:
            node.unseal(CALL, text)
        assert "different root key" in str(info.value)
        assert text not in str(info.value)
    assert _progress(node) == (True, 1)
    _unseal_with(node, shares[1:3])
    assert not node.seal_manager.sealed


@pytest.mark.parametrize("change", [{"threshold": 2}, {"threshold": 4}, {"x": 6}, {"x": 200}])
def test_a_share_that_does_not_fit_the_set_is_refused(
    node: Node, shares: list[str], change: dict[str, int]
) -> None:
    node.unseal(CALL, shares[0])
    with pytest.raises(ShareError):
        node.unseal(CALL, _forged(shares[1], **change))
    assert _progress(node) == (True, 1)


def test_a_forged_share_fails_the_set_and_resets_progress(node: Node, shares: list[str]) -> None:
    forged = _forged(shares[2], y=os.urandom(32))
    share_codec.decode(forged)  # well-formed: right set id, threshold and checksum
    node.unseal(CALL, shares[0])
    node.unseal(CALL, shares[1])
    with pytest.raises(UnsealFailedError) as info:
        node.unseal(CALL, forged)
    assert forged not in str(info.value)
    assert _progress(node) == (True, 0)
    with pytest.raises(SealedError):
        node.keyring()
    # The progress really was reset: the first two shares count again.
    node.unseal(CALL, shares[0])
    node.unseal(CALL, shares[1])
    assert _progress(node) == (True, 2)
    node.unseal(CALL, shares[2])
    assert not node.seal_manager.sealed


def test_a_forged_share_first_also_fails(node: Node, shares: list[str]) -> None:
    forged = _forged(shares[4], y=bytes(32))
    node.unseal(CALL, forged)
    node.unseal(CALL, shares[0])
    with pytest.raises(UnsealFailedError):
        node.unseal(CALL, shares[1])
    assert _progress(node) == (True, 0)
    _unseal_with(node, shares[2:5])
    assert not node.seal_manager.sealed


def test_reset_progress(node: Node, shares: list[str]) -> None:
    _unseal_with(node, shares[:2])
    status = node.reset_unseal(CALL)
    assert (status.sealed, status.progress) == (True, 0)
    node.unseal(CALL, shares[0])
    assert _progress(node) == (True, 1)


# --- sealing ----------------------------------------------------------------------------


def test_seal_drops_the_keyring(node: Node, shares: list[str]) -> None:
    _unseal_with(node, shares[:3])
    node.keyring()
    node.seal(CALL)
    assert node.seal_manager.sealed
    with pytest.raises(SealedError):
        node.seal_manager.keyring()
    with pytest.raises(SealedError):
        node.keyring()
    with pytest.raises(SealedError):
        node.barrier()
    with pytest.raises(SealedError):
        node.tokens.mint("a", [], 60, client_id="c")
    assert _progress(node) == (True, 0)
    # Sealing a sealed server is refused (there is nothing to seal).
    with pytest.raises(SealedError):
        node.seal(CALL)


def test_seal_drops_collected_shares(node: Node, shares: list[str]) -> None:
    _unseal_with(node, shares[:2])
    node.seal_manager.seal()
    assert _progress(node) == (True, 0)
    node.unseal(CALL, shares[0])
    assert _progress(node) == (True, 1)


def test_unseal_again_after_seal(node: Node, shares: list[str]) -> None:
    _unseal_with(node, shares[:3])
    material = node.keyring().current("barrier").material
    node.seal(CALL)
    _unseal_with(node, shares[2:])
    assert node.keyring().current("barrier").material == material


def test_replicas_are_sealed_independently(
    node: Node, shares: list[str], settings: Settings
) -> None:
    other = Node.open(settings)
    try:
        _unseal_with(node, shares[:3])
        assert other.status().initialized is True
        assert other.status().sealed is True
        with pytest.raises(SealedError):
            other.keyring()
        _unseal_with(other, shares[1:4])
        node.seal(CALL)
        assert not other.seal_manager.sealed
        other.keyring()
    finally:
        other.close()


def test_unseal_audit_events_never_hold_a_share(node: Node, shares: list[str]) -> None:
    node.unseal(CALL, shares[0])
    with pytest.raises(ShareError):
        node.unseal(CALL, shares[0])
    _unseal_with(node, shares[1:3])
    events = node.audit.events(
        CALL,
        after=None,
        actor=None,
        action="sys.unseal",
        since_us=None,
        until_us=None,
        limit=100,
        newest_first=False,
    )
    assert [e.outcome for e in events] == ["success", "error", "success", "success"]
    with node.db.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT detail, entry FROM audit_events")).all()
    assert len(rows) >= 5
    for detail, entry in rows:
        for text in shares:
            body = text.removeprefix("srs1-")
            assert body[:16] not in detail
            assert body[:16].encode() not in bytes(entry)


def test_sealing_wipes_keys_held_elsewhere(node: Node) -> None:
    done = node.initialize(Call("t"), shares=1, threshold=1)
    node.unseal(Call("t"), done.result.shares[0])
    barrier = node.barrier()
    blob = barrier.seal("kept/elsewhere", b"value")
    issued = node.tokens.mint("a", [], 60, client_id="c")
    keyring = node.keyring()
    node.seal(Call("t"))
    with pytest.raises(SealedError):
        barrier.open("kept/elsewhere", blob)
    with pytest.raises(SealedError):
        keyring.current("barrier")
    with pytest.raises(SealedError):
        node.tokens.verify(issued.access_token)
    assert repr(keyring) == "Keyring(purposes=[])"
