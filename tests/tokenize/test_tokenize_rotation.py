"""Policy key rotation and rewrap against real databases: old tokens keep working, joins
hold, key versions cannot be swapped, and a shred still destroys every version."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select, update
from tokenize_support import Vaulted

from strongroom.crypto import aead
from strongroom.errors import (
    BatchError,
    DecryptionError,
    InvalidRequestError,
    ShreddedError,
)
from strongroom.store.engine import Database
from strongroom.store.models import AuditEvent, TokenKey, TokenValue
from strongroom.store.repositories import tokenize as repo
from strongroom.tokenize import keys
from strongroom.tokenize.engine import value_aad

CARD = "4242424242424242"
OTHER_CARD = "5555555555554444"


def everything(_: str) -> bool:
    return True


def policy(v: Vaulted, name: str, **fields: Any) -> None:
    fields.setdefault("region", "eu")
    v.node.vault.create_policy(v.call, "marketing", {"name": name, **fields})


def tokenize(v: Vaulted, name: str, values: list[str], **kw: Any) -> list[str]:
    return v.node.vault.tokenize(v.call, "marketing", name, values, **kw)


def plain(v: Vaulted, name: str, tokens: list[str]) -> list[str | None]:
    found = v.node.vault.detokenize(v.call, everything, "marketing", name, tokens, "audit 7")
    return [r.value for r in found]


def pid_of(v: Vaulted, name: str) -> str:
    with v.node.db.transaction(read_only=True) as session:
        row = repo.policy(session, "marketing", name)
        assert row is not None
        return row.pid


def rows(database: Database, pid: str) -> list[TokenValue]:
    with database.transaction(read_only=True) as session:
        stmt = select(TokenValue).where(TokenValue.pid == pid).order_by(TokenValue.ref)
        return list(session.execute(stmt).scalars())


def versions(v: Vaulted, name: str) -> dict[int, int]:
    """How many live values sit under each key version (column and blob agree)."""
    found: dict[int, int] = {}
    for row in rows(v.eu_db(), pid_of(v, name)):
        if row.sealed is not None:
            assert aead.key_version(row.sealed) == row.key_version
            found[row.key_version] = found.get(row.key_version, 0) + 1
    return found


def events(v: Vaulted, action: str) -> list[dict[str, Any]]:
    with v.node.db.transaction(read_only=True) as session:
        stmt = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
        return [
            {"outcome": e.outcome, **json.loads(e.detail)} for e in session.execute(stmt).scalars()
        ]


@pytest.mark.parametrize(
    "fields",
    [
        {"scheme": "opaque", "format": "card"},
        {"scheme": "opaque", "format": "card", "deterministic": True},
        {"scheme": "fpe", "format": "card", "keep_last": 4},
    ],
    ids=["opaque", "deterministic", "vaulted-fpe"],
)
def test_round_trip_across_a_rotation(vaulted: Vaulted, fields: dict[str, Any]) -> None:
    policy(vaulted, "cards", **fields)
    vault = vaulted.node.vault
    [before] = tokenize(vaulted, "cards", [CARD])
    assert vault.rotate_policy(vaulted.call, "marketing", "cards") == 2
    [after] = tokenize(vaulted, "cards", [OTHER_CARD])
    again = tokenize(vaulted, "cards", [CARD])
    assert plain(vaulted, "cards", [before, after, *again]) == [CARD, OTHER_CARD, CARD]
    if fields["scheme"] == "fpe" or fields.get("deterministic"):
        assert again == [before]  # same value, same token: joins survive the rotation
        # The old value stays under version 1 (a live row is kept); the new one is under 2.
        assert versions(vaulted, "cards") == {1: 1, 2: 1}
    else:
        assert again != [before]
        assert versions(vaulted, "cards") == {1: 1, 2: 2}
    assert vault.rotate_policy(vaulted.call, "marketing", "cards") == 3
    assert plain(vaulted, "cards", [before, after]) == [CARD, OTHER_CARD]
    with vaulted.eu_db().transaction(read_only=True) as session:
        assert keys.key_versions(session, pid_of(vaulted, "cards")) == [1, 2, 3]
    assert [(e["outcome"], e["key_version"]) for e in events(vaulted, "tokens.policy.rotate")] == [
        ("success", 2),
        ("success", 3),
    ]


def test_idempotent_answers_from_before_a_rotation_still_replay(vaulted: Vaulted) -> None:
    policy(vaulted, "notes", scheme="opaque", format="text")
    first = tokenize(vaulted, "notes", ["a", "b"], idempotency_key="import-1")
    vaulted.node.vault.rotate_policy(vaulted.call, "marketing", "notes")
    assert tokenize(vaulted, "notes", ["a", "b"], idempotency_key="import-1") == first


def test_vaultless_and_mask_policies_refuse_rotation(vaulted: Vaulted) -> None:
    policy(vaulted, "fpe", scheme="fpe", format="card", vaulted=False)
    policy(vaulted, "masks", scheme="mask", format="card")
    vault = vaulted.node.vault
    [token] = tokenize(vaulted, "fpe", [CARD])
    with pytest.raises(InvalidRequestError, match="vaultless"):
        vault.rotate_policy(vaulted.call, "marketing", "fpe")
    with pytest.raises(InvalidRequestError, match="mask"):
        vault.rotate_policy(vaulted.call, "marketing", "masks")
    with pytest.raises(InvalidRequestError, match="vaultless"):
        vault.rewrap(vaulted.call, "marketing", "fpe")
    with vaulted.eu_db().transaction(read_only=True) as session:
        assert keys.key_versions(session, pid_of(vaulted, "fpe")) == [1]
    assert plain(vaulted, "fpe", [token]) == [CARD]
    refused = events(vaulted, "tokens.policy.rotate")
    assert [(e["outcome"], e["error"]) for e in refused] == [("error", "invalid-request")] * 2


def _set_column(v: Vaulted, pid: str, ref: bytes, **values: Any) -> None:
    with v.eu_db().transaction() as session:
        session.execute(
            update(TokenValue).where(TokenValue.pid == pid, TokenValue.ref == ref).values(**values)
        )


def test_a_tampered_key_version_is_refused(vaulted: Vaulted) -> None:
    policy(vaulted, "notes", scheme="opaque", format="text")
    vault = vaulted.node.vault
    old = tokenize(vaulted, "notes", ["old one"])
    vault.rotate_policy(vaulted.call, "marketing", "notes")
    new = tokenize(vaulted, "notes", ["new one"])
    pid = pid_of(vaulted, "notes")
    by_version = {r.key_version: r for r in rows(vaulted.eu_db(), pid)}
    v1, v2 = by_version[1], by_version[2]
    assert v1.sealed is not None and v2.sealed is not None
    # The row's version column says 2 (a version that exists) but the blob is of 1.
    _set_column(vaulted, pid, v1.ref, key_version=2)
    with pytest.raises(DecryptionError):
        plain(vaulted, "notes", old)
    # The blob's own header changed to name version 2: its tag no longer verifies.
    forged = v1.sealed[:1] + (2).to_bytes(4, "big") + v1.sealed[5:]
    _set_column(vaulted, pid, v1.ref, sealed=forged)
    with pytest.raises(DecryptionError):
        plain(vaulted, "notes", old)
    # A version the policy never had.
    _set_column(
        vaulted,
        pid,
        v2.ref,
        key_version=9,
        sealed=v2.sealed[:1] + (9).to_bytes(4, "big") + v2.sealed[5:],
    )
    with pytest.raises(DecryptionError):
        plain(vaulted, "notes", new)
    # Put back as it was, each opens again.
    _set_column(vaulted, pid, v1.ref, key_version=1, sealed=v1.sealed)
    _set_column(vaulted, pid, v2.ref, key_version=2, sealed=v2.sealed)
    assert plain(vaulted, "notes", old + new) == ["old one", "new one"]


def test_rewrap_moves_values_to_the_newest_version_and_tokens_stay_valid(
    vaulted: Vaulted,
) -> None:
    policy(vaulted, "cards", scheme="opaque", format="card", deterministic=True)
    vault = vaulted.node.vault
    values = [f"42424242424242{i:02d}" for i in range(7)]
    tokens = tokenize(vaulted, "cards", values)
    vault.erase(vaulted.call, "marketing", "cards", tokens[-1:])
    vault.rotate_policy(vaulted.call, "marketing", "cards")
    vault.rotate_policy(vaulted.call, "marketing", "cards")
    [newer] = tokenize(vaulted, "cards", ["4000056655665556"])
    assert versions(vaulted, "cards") == {1: 6, 3: 1}
    steps = []
    while True:
        done = vault.rewrap(vaulted.call, "marketing", "cards", limit=4)
        steps.append((done.rewrapped, done.unreadable, done.remaining))
        if done.remaining == 0:
            break
    assert steps == [(4, 0, 2), (2, 0, 0)]
    assert versions(vaulted, "cards") == {3: 7}
    assert plain(vaulted, "cards", [*tokens[:-1], newer]) == [*values[:-1], "4000056655665556"]
    assert tokenize(vaulted, "cards", values[:1]) == tokens[:1]  # the join holds
    # Idempotent: nothing left to do; the erased value stays erased.
    again = vault.rewrap(vaulted.call, "marketing", "cards")
    assert (again.key_version, again.rewrapped, again.remaining) == (3, 0, 0)
    erased = [r for r in rows(vaulted.eu_db(), pid_of(vaulted, "cards")) if r.sealed is None]
    assert len(erased) == 1 and erased[0].state == repo.ERASED
    assert [(e["rewrapped"], e["remaining"]) for e in events(vaulted, "tokens.policy.rewrap")] == [
        (4, 2),
        (2, 0),
        (0, 0),
    ]
    with pytest.raises(InvalidRequestError, match="limit"):
        vault.rewrap(vaulted.call, "marketing", "cards", limit=0)
    # Events of rotation and rewrap carry counts and versions, never values or tokens.
    with vaulted.node.db.transaction(read_only=True) as session:
        logged = " ".join(
            e.detail + e.resource for e in session.execute(select(AuditEvent)).scalars()
        )
    for secret in [*values, *tokens, newer]:
        assert secret not in logged
        assert secret[:-4] not in logged


def test_rewrap_skips_a_value_that_does_not_open_and_moves_the_rest(vaulted: Vaulted) -> None:
    policy(vaulted, "notes", scheme="opaque", format="text")
    vault = vaulted.node.vault
    tokens = tokenize(vaulted, "notes", ["a", "b", "c"])
    vault.rotate_policy(vaulted.call, "marketing", "notes")
    pid = pid_of(vaulted, "notes")
    bad = rows(vaulted.eu_db(), pid)[0]
    assert bad.sealed is not None
    _set_column(vaulted, pid, bad.ref, key_version=0)
    done = vault.rewrap(vaulted.call, "marketing", "notes", limit=10)
    assert (done.rewrapped, done.unreadable, done.remaining) == (2, 1, 1)
    assert versions_of_rows(vaulted, pid) == {(0, 1): 1, (2, 2): 2}
    with pytest.raises(BatchError):
        plain(vaulted, "notes", tokens)


def versions_of_rows(v: Vaulted, pid: str) -> dict[tuple[int, int], int]:
    """(column version, blob version) -> how many rows."""
    found: dict[tuple[int, int], int] = {}
    for row in rows(v.eu_db(), pid):
        assert row.sealed is not None
        pair = (row.key_version, aead.key_version(row.sealed))
        found[pair] = found.get(pair, 0) + 1
    return found


def _every_seal_key(v: Vaulted, database: Database) -> list[bytes]:
    """Every sealing key of every policy key version anyone holding the root key and this
    store could still unwrap."""
    keyring = v.node.keyring()
    keks = [k.material for k in keyring.versions(keys.PURPOSE)]
    with database.transaction(read_only=True) as session:
        found_rows = session.execute(select(TokenKey)).scalars().all()
    region_keys = []
    for row in found_rows:
        if row.kind == keys.REGION:
            for kek in keks:
                try:
                    region_keys.append(
                        aead.decrypt(
                            kek,
                            row.wrapped,
                            keys._aad(keys.REGION, row.ident, row.ident, row.version),
                        )
                    )
                except DecryptionError:
                    continue
    seals = []
    for row in found_rows:
        if row.kind != keys.POLICY:
            continue
        for region_key in region_keys:
            for region in ("eu", "us"):
                aad = keys._aad(keys.POLICY, row.ident, region, row.version)
                try:
                    material = aead.decrypt(region_key, row.wrapped, aad)
                except DecryptionError:
                    continue
                seals.append(keys.PolicyKeys.derive(row.version, material).seal)
    return seals


def test_shred_after_rotation_destroys_every_version(vaulted: Vaulted) -> None:
    policy(vaulted, "cards", scheme="fpe", format="card", keep_last=4)
    policy(vaulted, "keep", scheme="opaque", format="text")
    vault = vaulted.node.vault
    [v1] = tokenize(vaulted, "cards", [CARD])
    vault.rotate_policy(vaulted.call, "marketing", "cards")
    [v2] = tokenize(vaulted, "cards", [OTHER_CARD])
    vault.rotate_policy(vaulted.call, "marketing", "cards")
    vault.rewrap(vaulted.call, "marketing", "cards", limit=1)  # one value moves to version 3
    [kept] = tokenize(vaulted, "keep", ["still here"])
    pid = pid_of(vaulted, "cards")
    sealed = [r for r in rows(vaulted.eu_db(), pid) if r.sealed is not None]
    moved = sorted(r.key_version for r in sealed)
    assert len(moved) == 2 and moved[1] == 3 and moved[0] in (1, 2)
    before = _every_seal_key(vaulted, vaulted.eu_db())
    vault.shred_policy(vaulted.call, "marketing", "cards")
    for token in (v1, v2):
        with pytest.raises(ShreddedError):
            plain(vaulted, "cards", [token])
    with vaulted.eu_db().transaction(read_only=True) as session:
        assert keys.key_versions(session, pid) == []
        with pytest.raises(ShreddedError):
            keys.policy_keys(session, vaulted.node.keyring(), "eu", pid)
    with pytest.raises(ShreddedError):
        vault.rotate_policy(vaulted.call, "marketing", "cards")
    after = _every_seal_key(vaulted, vaulted.eu_db()) + _every_seal_key(vaulted, vaulted.node.db)
    assert len(before) == 4 and len(after) == 1  # three versions of "cards" gone; "keep" stays
    base = value_aad("marketing", "cards", "eu", b"")
    for row in sealed:
        assert row.sealed is not None
        for seal in after:
            with pytest.raises(DecryptionError):
                aead.decrypt(seal, row.sealed, base + row.ref)
    assert plain(vaulted, "keep", [kept]) == ["still here"]
