"""The keyring: versions per purpose, rotation, wrapping under the root, no key in the store."""

from __future__ import annotations

import base64
import copy
import pickle
from collections.abc import Iterator
from dataclasses import dataclass, fields

import pytest
import sqlalchemy as sa

from strongroom.clock import SystemClock
from strongroom.config import Settings, load_settings
from strongroom.crypto import aead, shamir
from strongroom.errors import (
    ConflictError,
    DecryptionError,
    NotFoundError,
    SealedError,
    StrongroomError,
)
from strongroom.kms import shares as share_codec
from strongroom.kms.keyring import PURPOSES, KeyInfo, Keyring, KeyVersion
from strongroom.node import Call, Node
from strongroom.store.engine import Database
from strongroom.store.repositories import keyring as keyring_repo

ALGORITHMS = {
    "barrier": "aes-256-gcm",
    "token-signing": "ed25519",
    "audit-hmac": "hmac-sha256",
    "audit-signing": "ed25519",
    "tokenize": "aes-256-gcm",
    "manifest-signing": "ed25519",
    "oauth-hmac": "hmac-sha256",
    "escrow": "x25519-hkdf",
    "field-app-keys": "hkdf-sha256",
}


@dataclass
class Opened:
    node: Node
    shares: list[str]
    root_token: str

    @property
    def root_key(self) -> bytes:
        return root_key_of(self.shares[:3])


def root_key_of(printable: list[str]) -> bytes:
    """Rebuild the root key from printable shares, as an operator's quorum would."""
    decoded = [share_codec.decode(s) for s in printable]
    return shamir.combine([(s.x, s.y) for s in decoded])


def open_node(node: Node) -> Opened:
    done = node.initialize(Call("t-init"), shares=5, threshold=3)
    for share in done.result.shares[:3]:
        node.unseal(Call("t-unseal"), share)
    return Opened(node, list(done.result.shares), done.root_token)


@pytest.fixture
def opened(node: Node) -> Opened:
    return open_node(node)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Opened]:
    """One opened node (SQLite) for the checks that only read the keyring."""
    tmp = tmp_path_factory.mktemp("keyring")
    node = Node.open(
        load_settings(
            database_url=f"sqlite:///{(tmp / 'strongroom.db').as_posix()}", data_dir=tmp / "data"
        )
    )
    try:
        yield open_node(node)
    finally:
        node.close()


def cells(db: Database) -> Iterator[tuple[str, str, bytes]]:
    """Every value of every column of every table, as bytes."""
    inspector = sa.inspect(db.engine)
    with db.engine.connect() as conn:
        for table in inspector.get_table_names():
            result = conn.execute(sa.text(f'SELECT * FROM "{table}"'))
            columns = list(result.keys())
            for row in result:
                for column, value in zip(columns, row, strict=True):
                    if isinstance(value, bytes | bytearray | memoryview):
                        raw = bytes(value)
                    else:
                        raw = str(value).encode("utf-8")
                    yield table, column, raw


def fresh_keyring(db: Database, root_key: bytes) -> Keyring:
    keyring = Keyring(root_key)
    with db.transaction() as session:
        keyring.load(session)
    return keyring


# --- init -------------------------------------------------------------------------------


def test_init_creates_version_one_of_every_purpose(opened: Opened) -> None:
    infos = opened.node.keyring().describe()
    assert {(i.purpose, i.version, i.algorithm, i.current) for i in infos} == {
        (p, 1, a, True) for p, a in ALGORITHMS.items()
    }
    assert set(PURPOSES) == set(ALGORITHMS)
    with opened.node.db.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT purpose, version, algorithm FROM keyring_keys")).all()
    assert sorted(tuple(r) for r in rows) == sorted((p, 1, a) for p, a in ALGORITHMS.items())


def test_key_material_sizes_fit_their_algorithms(shared: Opened) -> None:
    keyring = shared.node.keyring()
    for name in ALGORITHMS:
        assert len(keyring.current(name).material) == 32
    assert len({keyring.current(n).material for n in ALGORITHMS}) == len(ALGORITHMS)


def test_store_holds_no_root_key_nor_share(opened: Opened) -> None:
    root_key = opened.root_key
    # The rebuilt key really is the root key: it opens the stored keyring.
    fresh = fresh_keyring(opened.node.db, root_key)
    assert fresh.current("barrier").material == opened.node.keyring().current("barrier").material

    decoded = [share_codec.decode(s) for s in opened.shares]
    needles: dict[str, bytes] = {
        "root key": root_key,
        "root key hex": root_key.hex().encode(),
        "root key b64": base64.b64encode(root_key),
        "root key b64url": base64.urlsafe_b64encode(root_key).rstrip(b"="),
        "root token": opened.root_token.encode(),
    }
    for i, share in enumerate(decoded):
        needles[f"share {i} y"] = share.y
        needles[f"share {i} y hex"] = share.y.hex().encode()
        needles[f"share {i} text"] = opened.shares[i].encode()
        needles[f"share {i} body"] = opened.shares[i].removeprefix("srs1-").encode()
        needles[f"share {i} body upper"] = opened.shares[i].removeprefix("srs1-").upper().encode()
    for name in ALGORITHMS:
        needles[f"{name} key"] = opened.node.keyring().current(name).material

    scanned = list(cells(opened.node.db))
    tables = {t for t, _, _ in scanned}
    assert {"seal_config", "keyring_keys", "root_tokens", "audit_events"} <= tables
    # The scan sees binary columns: the share set id, which is public, is found.
    assert any(decoded[0].set_id in raw for _, _, raw in scanned)
    for table, column, raw in scanned:
        for what, needle in needles.items():
            assert needle not in raw, f"{what} found in {table}.{column}"


# --- rotation ---------------------------------------------------------------------------


@pytest.mark.parametrize("purpose", sorted(ALGORITHMS))
def test_rotate_adds_a_current_version(opened: Opened, purpose: str) -> None:
    before = opened.node.keyring().current(purpose)
    info = opened.node.rotate_key(Call("t-rot"), purpose)
    assert (info.purpose, info.version, info.algorithm, info.current) == (
        purpose,
        2,
        ALGORITHMS[purpose],
        True,
    )
    keyring = opened.node.keyring()
    assert keyring.current(purpose).version == 2
    assert keyring.current(purpose).material != before.material
    assert keyring.get(purpose, 1).material == before.material
    assert [v.version for v in keyring.versions(purpose)] == [1, 2]
    described = {(i.purpose, i.version): i.current for i in keyring.describe()}
    assert described[(purpose, 1)] is False
    assert described[(purpose, 2)] is True
    # Other purposes are untouched.
    for other in set(ALGORITHMS) - {purpose}:
        assert [v.version for v in keyring.versions(other)] == [1]


def test_rotations_count_up(opened: Opened) -> None:
    for expected in range(2, 6):
        assert opened.node.rotate_key(Call("t"), "barrier").version == expected
    assert [v.version for v in opened.node.keyring().versions("barrier")] == [1, 2, 3, 4, 5]
    assert len({v.material for v in opened.node.keyring().versions("barrier")}) == 5


def test_rotation_survives_seal_and_unseal(opened: Opened) -> None:
    opened.node.rotate_key(Call("t"), "token-signing")
    v2 = opened.node.keyring().current("token-signing").material
    opened.node.seal(Call("t"))
    for share in opened.shares[2:]:
        opened.node.unseal(Call("t"), share)
    current = opened.node.keyring().current("token-signing")
    assert (current.version, current.material) == (2, v2)


def test_rotate_unknown_purpose_is_not_found(opened: Opened) -> None:
    with pytest.raises(NotFoundError) as info:
        opened.node.rotate_key(Call("t"), "no-such-purpose")
    assert "barrier" in str(info.value)
    assert [v.version for v in opened.node.keyring().versions("barrier")] == [1]


def test_old_versions_open_values_sealed_before_rotation(opened: Opened) -> None:
    node = opened.node
    with node.db.transaction() as session:
        node.barrier().put(session, "app/old", b"sealed under v1")
    node.rotate_key(Call("t"), "barrier")
    node.rotate_key(Call("t"), "barrier")
    with node.db.transaction() as session:
        barrier = node.barrier()
        assert barrier.get(session, "app/old") == b"sealed under v1"
        barrier.put(session, "app/new", b"sealed under v3")
    with node.db.engine.connect() as conn:
        stored: dict[str, bytes] = dict(
            conn.execute(sa.text("SELECT path, value FROM barrier_entries")).all()
        )
    assert aead.key_version(bytes(stored["app/old"])) == 1
    assert aead.key_version(bytes(stored["app/new"])) == 3


def test_concurrent_rotation_is_a_conflict(opened: Opened, monkeypatch: pytest.MonkeyPatch) -> None:
    # Simulate another replica having written the next version between read and insert.
    monkeypatch.setattr(keyring_repo, "latest_version", lambda session, purpose: 0)
    with pytest.raises(ConflictError):
        opened.node.rotate_key(Call("t"), "barrier")
    monkeypatch.undo()
    assert [v.version for v in opened.node.keyring().versions("barrier")] == [1]


# --- wrapping ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "edit",
    [
        "UPDATE keyring_keys SET version = 9 WHERE purpose = 'barrier' AND version = 1",
        "UPDATE keyring_keys SET purpose = 'other' WHERE purpose = 'barrier'",
        "UPDATE keyring_keys SET purpose = 'barrier', version = 2 WHERE purpose = 'audit-hmac'",
        "UPDATE keyring_keys SET algorithm = 'aes-128-gcm' WHERE purpose = 'barrier'",
        "UPDATE keyring_keys SET wrapped = "
        "(SELECT wrapped FROM keyring_keys WHERE purpose = 'audit-hmac') "
        "WHERE purpose = 'barrier'",
    ],
    ids=["version", "purpose", "purpose-and-version", "algorithm", "swapped-blob"],
)
def test_an_edited_row_fails_to_load(opened: Opened, edit: str) -> None:
    db = opened.node.db
    root_key = opened.root_key
    fresh_keyring(db, root_key)  # loads before the edit
    with db.engine.begin() as conn:
        assert conn.execute(sa.text(edit)).rowcount == 1
    with pytest.raises(DecryptionError):
        fresh_keyring(db, root_key)


def test_a_flipped_byte_in_a_wrapped_key_fails_to_load(opened: Opened) -> None:
    db = opened.node.db
    with db.engine.begin() as conn:
        wrapped = bytes(
            conn.execute(
                sa.text("SELECT wrapped FROM keyring_keys WHERE purpose = 'token-signing'")
            ).scalar_one()
        )
        tampered = wrapped[:-1] + bytes([wrapped[-1] ^ 1])
        conn.execute(
            sa.text("UPDATE keyring_keys SET wrapped = :w WHERE purpose = 'token-signing'"),
            {"w": tampered},
        )
    with pytest.raises(DecryptionError):
        fresh_keyring(db, opened.root_key)


def test_unseal_fails_closed_when_a_row_was_edited(opened: Opened) -> None:
    node = opened.node
    node.seal(Call("t"))
    with node.db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE keyring_keys SET version = 5 WHERE purpose = 'barrier'"))
    node.unseal(Call("t"), opened.shares[0])
    node.unseal(Call("t"), opened.shares[1])
    with pytest.raises(DecryptionError):
        node.unseal(Call("t"), opened.shares[2])
    assert node.seal_manager.sealed


def test_another_root_key_cannot_open_the_keyring(shared: Opened) -> None:
    with pytest.raises(DecryptionError):
        fresh_keyring(shared.node.db, bytes(32))


def test_wrapped_keys_do_not_hold_material_in_clear(shared: Opened) -> None:
    keyring = shared.node.keyring()
    with shared.node.db.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT purpose, wrapped FROM keyring_keys")).all()
    for purpose, wrapped in rows:
        material = keyring.current(purpose).material
        assert material not in bytes(wrapped)
        assert len(bytes(wrapped)) == len(material) + aead.OVERHEAD


# --- lookups ----------------------------------------------------------------------------


def test_current_of_an_unknown_purpose_raises(shared: Opened) -> None:
    with pytest.raises(StrongroomError):
        shared.node.keyring().current("nope")


def test_get_of_an_unknown_version_is_a_decryption_error(shared: Opened) -> None:
    keyring = shared.node.keyring()
    with pytest.raises(DecryptionError):
        keyring.get("barrier", 2)
    with pytest.raises(DecryptionError):
        keyring.get("barrier", 0)
    with pytest.raises(DecryptionError):
        keyring.get("nope", 1)
    assert keyring.versions("nope") == []


def test_refresh_if_changed(opened: Opened) -> None:
    db = opened.node.db
    other = fresh_keyring(db, opened.root_key)
    with db.transaction() as session:
        assert other.refresh_if_changed(session) is False
    opened.node.rotate_key(Call("t"), "audit-hmac")
    with db.transaction() as session:
        assert other.refresh_if_changed(session) is True
        assert other.refresh_if_changed(session) is False
    assert other.current("audit-hmac").version == 2


# --- no leaks ---------------------------------------------------------------------------


def _material_forms(material: bytes) -> list[str]:
    return [
        material.hex(),
        repr(material),
        repr(material)[2:-1],
        base64.b64encode(material).decode(),
    ]


def test_keyring_repr_has_no_key_material(shared: Opened) -> None:
    keyring = shared.node.keyring()
    shown = repr(keyring) + str(keyring)
    assert "barrier" in shown
    for version in keyring.versions("barrier") + keyring.versions("token-signing"):
        for form in _material_forms(version.material):
            assert form not in shown


def test_key_version_repr_has_no_key_material(shared: Opened) -> None:
    keyring = shared.node.keyring()
    for name in ALGORITHMS:
        version = keyring.current(name)
        shown = repr(version) + str(version) + repr([version]) + repr({"k": version})
        assert "material" not in shown
        assert f"version={version.version}" in shown
        for form in _material_forms(version.material):
            assert form not in shown


def test_described_keys_carry_no_material(shared: Opened) -> None:
    names = {f.name for f in fields(KeyInfo)}
    assert names == {"purpose", "version", "algorithm", "created_us", "current"}
    for info in shared.node.keyring().describe():
        assert not hasattr(info, "material")


def test_keyring_and_key_versions_refuse_to_pickle(shared: Opened) -> None:
    keyring = shared.node.keyring()
    with pytest.raises(TypeError):
        pickle.dumps(keyring)
    with pytest.raises(TypeError):
        copy.deepcopy(keyring)
    version = keyring.current("barrier")
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError):
            pickle.dumps(version, protocol=protocol)
    with pytest.raises(TypeError):
        pickle.dumps([version])
    with pytest.raises(TypeError):
        copy.copy(version)


def test_a_bare_key_version_refuses_to_pickle() -> None:
    version = KeyVersion("barrier", 1, "aes-256-gcm", 0, b"k" * 32)
    assert "k" * 32 not in repr(version)
    with pytest.raises(TypeError):
        pickle.dumps(version)


# --- two replicas -----------------------------------------------------------------------


@pytest.fixture
def pair(settings: Settings) -> Iterator[tuple[Node, Node]]:
    a = Node.open(settings)
    b = Node.open(settings)
    try:
        done = a.initialize(Call("t-init"), shares=5, threshold=3)
        for share in done.result.shares[:3]:
            a.unseal(Call("t"), share)
        for share in done.result.shares[2:]:
            b.unseal(Call("t"), share)
        yield a, b
    finally:
        a.close()
        b.close()


def test_rotation_on_one_node_reaches_the_other_on_refresh(pair: tuple[Node, Node]) -> None:
    a, b = pair
    assert b.seal_manager.keyring().current("token-signing").version == 1
    a.rotate_key(Call("t"), "token-signing")
    a.rotate_key(Call("t"), "barrier")
    b.refresh_keyring()
    keyring_b = b.seal_manager.keyring()
    assert keyring_b.current("token-signing").version == 2
    assert (
        keyring_b.current("token-signing").material == a.keyring().current("token-signing").material
    )
    # A token A signs with the new key verifies on B.
    issued = a.tokens.mint("alice", ["sys:read"], 60, client_id="root")
    principal = b.tokens.verify(issued.access_token)
    assert principal.subject == "alice"
    assert principal.token_id == issued.jti
    # And a value A seals under the new barrier key opens on B.
    with a.db.transaction() as session:
        a.barrier().put(session, "shared/x", b"from a")
    with b.db.transaction() as session:
        assert b.barrier().get(session, "shared/x") == b"from a"


def test_a_new_kid_makes_the_verifier_look_for_new_keys(pair: tuple[Node, Node]) -> None:
    a, b = pair
    b.tokens.verify(a.tokens.mint("bob", [], 60, client_id="root").access_token)
    a.rotate_key(Call("t"), "token-signing")
    issued = a.tokens.mint("bob", [], 60, client_id="root")
    assert b.tokens.verify(issued.access_token).subject == "bob"
    assert b.seal_manager.keyring().current("token-signing").version == 2


def test_before_refresh_the_other_node_still_uses_its_version(pair: tuple[Node, Node]) -> None:
    a, b = pair
    a.rotate_key(Call("t"), "barrier")
    with b.db.transaction() as session:
        b.seal_manager.keyring()  # no refresh
        b.barrier().put(session, "x", b"v")
    with a.db.transaction() as session:
        assert a.barrier().get(session, "x") == b"v"
    with a.db.engine.connect() as conn:
        blob = conn.execute(sa.text("SELECT value FROM barrier_entries")).scalar_one()
    assert aead.key_version(bytes(blob)) == 1


def test_system_clock_stamps_created_time(shared: Opened) -> None:
    now = SystemClock().now_us()
    for info in shared.node.keyring().describe():
        assert now - 3_600_000_000 < info.created_us <= now


def test_a_keyrings_generation_changes_with_each_load_and_wipe(opened: Opened) -> None:
    """Caches of what the versions give (the token service's keys) check the generation."""
    first = fresh_keyring(opened.node.db, opened.root_key)
    second = fresh_keyring(opened.node.db, opened.root_key)
    assert first.generation != second.generation  # never shared by two keyrings
    before = first.generation
    with opened.node.db.transaction() as session:
        first.load(session)
    loaded = first.generation
    assert loaded != before
    first.wipe()
    assert first.generation not in (before, loaded)
    with pytest.raises(SealedError):
        first.versions("token-signing")
