"""The Python SDK's field API: handles, seal/open, batches, records, rotation, hygiene."""

from __future__ import annotations

import ast
import copy
import json
import os
import pickle
from pathlib import Path
from typing import Any

import pytest

import strongroom.sdk as sdk
from strongroom.sdk import (
    Context,
    DecryptionError,
    FieldError,
    FieldKey,
    KeySet,
    new_raw_key,
    rewrap,
)

CTX = {"app": "crm", "record": "42", "field": "email"}
CANARY = "canary-7f3a@example.com"
PASSPHRASE = "canary-passphrase-91c2"
FAST_ARGON2 = (1, 19_456, 1)
SDK_DIR = Path(sdk.__file__).resolve().parent


def test_public_surface_is_pinned() -> None:
    assert sorted(sdk.__all__) == [
        "Context",
        "DecryptionError",
        "EscrowClient",
        "EscrowError",
        "FieldError",
        "FieldKey",
        "KeySet",
        "Recovery",
        "Revealed",
        "SecretsClient",
        "SecretsError",
        "Tokens",
        "TokensError",
        "fetch_app_key",
        "is_legacy",
        "new_raw_key",
        "open_legacy",
        "open_with_passphrase",
        "rewrap",
        "upgrade_legacy",
    ]
    for name in sdk.__all__:
        assert getattr(sdk, name) is not None


def test_sdk_imports_only_crypto_httpx_and_the_standard_library() -> None:
    allowed_roots = {"strongroom", "httpx", "__future__"}
    import sys

    for path in SDK_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                root = name.split(".")[0]
                if root == "strongroom":
                    assert name.startswith(("strongroom.crypto", "strongroom.sdk")), (path, name)
                else:
                    assert root in allowed_roots or root in sys.stdlib_module_names, (path, name)


def _keys() -> list[FieldKey]:
    raw = new_raw_key()
    return [
        FieldKey.from_passphrase(PASSPHRASE, key_id="user:1", iterations=100_000),
        FieldKey.from_passphrase(PASSPHRASE, key_id="user:1", kdf="Argon2id", argon2=FAST_ARGON2),
        FieldKey.from_raw_key(raw, key_id="ks:1", algorithm="ChaCha20-Poly1305"),
        FieldKey.from_app_key(raw, key_id="app:crm", key_version=3),
    ]


@pytest.mark.parametrize("value", ["", "alice@example.com", "Zoë 東京 🗝️", "x" * 70_000])
def test_every_handle_round_trips_text_in_every_form(value: str) -> None:
    for key in _keys():
        compact = key.seal(value, CTX)
        assert key.open(compact, CTX) == value
        assert key.open(key.seal_json(value, CTX), CTX) == value
        assert key.open(compact, Context("crm", "42", "email")) == value


def test_bytes_round_trip_and_text_api_refuses_bytes() -> None:
    key = _keys()[0]
    assert key.open_bytes(key.seal_bytes(b"\x00\xff", CTX), CTX) == b"\x00\xff"
    with pytest.raises(FieldError):
        key.seal(b"bytes", CTX)  # type: ignore[arg-type]
    with pytest.raises(DecryptionError):
        key.open(key.seal_bytes(b"\xff\xfe", CTX), CTX)  # not UTF-8 text


def test_a_new_handle_from_the_same_passphrase_opens_old_values() -> None:
    first = FieldKey.from_passphrase(PASSPHRASE, key_id="user:1", iterations=100_000)
    second = FieldKey.from_passphrase(PASSPHRASE, key_id="user:1", iterations=100_000)
    sealed = first.seal(CANARY, CTX)
    assert second.open(sealed, CTX) == CANARY  # derives once for the other salt
    assert second.open(sealed, CTX) == CANARY  # then from its cache
    wrong = FieldKey.from_passphrase("another passphrase", key_id="user:1", iterations=100_000)
    with pytest.raises(DecryptionError):
        wrong.open(sealed, CTX)


def test_a_handle_opens_only_its_own_key_id_version_and_kind() -> None:
    raw = new_raw_key()
    by_raw = FieldKey.from_raw_key(raw, key_id="k")
    by_app = FieldKey.from_app_key(raw, key_id="k")
    other_version = FieldKey.from_raw_key(raw, key_id="k", key_version=2)
    other_id = FieldKey.from_raw_key(raw, key_id="j")
    sealed = by_raw.seal(CANARY, CTX)
    for key in (by_app, other_version, other_id):
        with pytest.raises(DecryptionError):
            key.open(sealed, CTX)


def test_wrong_context_wrong_input_and_garbage_are_one_opaque_error() -> None:
    key = _keys()[3]
    sealed = key.seal(CANARY, CTX)
    bad: list[tuple[Any, Any]] = [
        (sealed, dict(CTX, record="43")),
        (sealed, {"app": "crm"}),
        (sealed, "not a context"),
        (sealed[:-2], CTX),
        ("srf1.", CTX),
        ("", CTX),
        (None, CTX),
        (12, CTX),
        ({"ct": "x", "iv": "y", "salt": "z"}, CTX),
        (json.dumps(key.seal_json(CANARY, CTX)), CTX),  # a JSON string is not the compact form
    ]
    for value, ctx in bad:
        with pytest.raises(DecryptionError) as info:
            key.open(value, ctx)
        assert str(info.value) == "Decryption failed."
        assert CANARY not in repr(info.value)


@pytest.mark.parametrize(
    ("build", "rule"),
    [
        (lambda: FieldKey.from_passphrase("", key_id="k"), "passphrase"),
        (lambda: FieldKey.from_passphrase("p", key_id="k", iterations=99_999), "100000"),
        (lambda: FieldKey.from_passphrase("p", key_id="k", iterations=10**12), "iterations"),
        (lambda: FieldKey.from_passphrase("p", key_id="k", kdf="scrypt"), "kdf"),  # type: ignore[arg-type]
        (
            lambda: FieldKey.from_passphrase("p", key_id="k", kdf="Argon2id", argon2=(1, 64, 1)),
            "KiB",
        ),
        (lambda: FieldKey.from_raw_key(b"short", key_id="k"), "32 bytes"),
        (lambda: FieldKey.from_app_key(b"x" * 33, key_id="k"), "32 bytes"),
        (lambda: FieldKey.from_raw_key(bytes(32), key_id="bad id"), "key id"),
        (lambda: FieldKey.from_raw_key(bytes(32), key_id="k", algorithm="DES"), "algorithm"),  # type: ignore[arg-type]
        (lambda: FieldKey(object(), "raw", b"", None, b""), "from_passphrase"),  # type: ignore[arg-type]
    ],
)
def test_bad_key_input_is_refused_clearly(build: Any, rule: str) -> None:
    with pytest.raises((FieldError, TypeError)) as info:
        build()
    assert rule in str(info.value)
    assert "canary" not in str(info.value)


def test_handles_redact_and_cannot_be_pickled_or_copied() -> None:
    raw = bytes.fromhex("c0ffee" * 10 + "beef")
    for key in [*_keys(), FieldKey.from_raw_key(raw, key_id="k")]:
        text = repr(key) + str(key)
        assert PASSPHRASE not in text and raw.hex() not in text and "c0ffee" not in text
        assert "redacted" in text
        for attempt in (pickle.dumps, copy.copy, copy.deepcopy):
            with pytest.raises(TypeError):
                attempt(key)
    with pytest.raises(TypeError):
        pickle.dumps(KeySet(_keys()[:1]))


def test_batches_are_all_or_nothing() -> None:
    key = _keys()[2]
    contexts = [dict(CTX, record=str(i)) for i in range(5)]
    sealed = key.seal_many((f"v{i}", c) for i, c in enumerate(contexts))
    assert key.open_many(zip(sealed, contexts, strict=True)) == [f"v{i}" for i in range(5)]
    with pytest.raises(FieldError):
        key.seal_many([("ok", CTX), ("bad", {"app": "crm"})])
    with pytest.raises(DecryptionError):
        key.open_many([(sealed[0], contexts[0]), (sealed[1], contexts[0])])


def test_seal_record_seals_only_the_listed_fields() -> None:
    key = _keys()[3]
    record = {"id": "42", "email": CANARY, "name": "Zoë", "phone": None, "age": 31}
    sealed = key.seal_record(record, ["email", "name", "phone"], app="crm", record_id="42")
    assert record["email"] == CANARY  # the input is not changed
    assert sealed["id"] == "42" and sealed["age"] == 31 and sealed["phone"] is None
    assert sealed["email"].startswith("srf1.") and CANARY not in json.dumps(sealed)
    opened = key.open_record(sealed, ["email", "name", "phone"], app="crm", record_id="42")
    assert opened == record
    with pytest.raises(DecryptionError):  # the email field sealed for record 42 is not 43's
        key.open_record(sealed, ["email"], app="crm", record_id="43")
    swapped = dict(sealed, email=sealed["name"], name=sealed["email"])
    with pytest.raises(DecryptionError):
        key.open_record(swapped, ["email"], app="crm", record_id="42")
    with pytest.raises(FieldError):
        key.seal_record(record, ["age"], app="crm", record_id="42")
    with pytest.raises(FieldError):
        key.seal_record(record, "email", app="crm", record_id="42")  # type: ignore[arg-type]


def test_rewrap_and_keyset_rotation() -> None:
    old = FieldKey.from_passphrase(PASSPHRASE, key_id="user:1", iterations=100_000)
    new = FieldKey.from_raw_key(new_raw_key(), key_id="user:1", key_version=2)
    sealed = old.seal(CANARY, CTX)
    moved = rewrap(sealed, CTX, old=old, new=new)
    assert new.open(moved, CTX) == CANARY
    with pytest.raises(DecryptionError):
        old.open(moved, CTX)
    keys = KeySet([new, old])
    assert keys.open(sealed, CTX) == keys.open(moved, CTX) == CANARY
    rotated = keys.rotate(sealed, CTX)
    assert new.opens(rotated) and not old.opens(rotated)
    assert keys.primary is new and new.open(keys.seal("x", CTX), CTX) == "x"
    with pytest.raises(DecryptionError):
        rewrap(sealed, dict(CTX, field="phone"), old=old, new=new)
    with pytest.raises(DecryptionError):
        KeySet([new]).open(sealed, CTX)
    with pytest.raises(FieldError):
        KeySet([])
    assert "user:1@2" in repr(keys) and PASSPHRASE not in repr(keys)


def test_algorithm_property_and_cache_is_bounded() -> None:
    key = FieldKey.from_app_key(new_raw_key(), key_id="k")
    assert key.algorithm == "AES-256-GCM"
    app_key = new_raw_key()
    values = [FieldKey.from_app_key(app_key, key_id="k").seal("v", CTX) for _ in range(50)]
    opener = FieldKey.from_app_key(app_key, key_id="k")
    assert all(opener.open(v, CTX) == "v" for v in values)
    assert len(opener._cache) <= 33


def test_binary_form_round_trips_and_every_flip_or_cut_fails() -> None:
    for key in _keys():
        data = key.seal_binary(CANARY.encode(), CTX)
        assert key.open_bytes(data, CTX) == CANARY.encode()
        assert key.open(data, Context(**CTX)) == CANARY
        for i in range(len(data)):
            changed = bytearray(data)
            changed[i] ^= 0x04
            with pytest.raises(DecryptionError):
                key.open_bytes(bytes(changed), Context(**CTX))
        for n in range(len(data)):
            with pytest.raises(DecryptionError):
                key.open_bytes(data[:n], Context(**CTX))
        with pytest.raises(DecryptionError):
            key.open_bytes(data, Context("crm", "42", "phone"))
    with pytest.raises(FieldError):
        _keys()[2].seal_binary("text", CTX)  # type: ignore[arg-type]


def test_a_context_shared_by_keys_binds_each_keys_header() -> None:
    """The context keeps its last header's associated data; other keys never reuse it."""
    ctx = Context("crm", "7", "email")
    one = FieldKey.from_raw_key(os.urandom(32), key_id="one")
    two = FieldKey.from_raw_key(os.urandom(32), key_id="two")
    same_id = FieldKey.from_raw_key(os.urandom(32), key_id="one")
    sealed = [(k, k.seal_binary(b"v-" + k.key_id.encode(), ctx)) for k in (one, two, same_id)]
    for _ in range(2):
        for key, blob in sealed:
            assert key.open_bytes(blob, ctx) == b"v-" + key.key_id.encode()
    with pytest.raises(DecryptionError):
        two.open_bytes(sealed[0][1], ctx)
    with pytest.raises(DecryptionError):
        same_id.open_bytes(sealed[0][1], ctx)  # same header bytes, another key
    with pytest.raises(DecryptionError):
        one.open_bytes(sealed[0][1], Context("crm", "8", "email"))
    assert ctx == Context("crm", "7", "email")
    assert hash(ctx) == hash(Context("crm", "7", "email"))
