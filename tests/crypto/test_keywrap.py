"""Key wrapping to X25519 (the escrow recipe): round trips, binding, Wycheproof X25519."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from strongroom.crypto import keywrap
from strongroom.errors import DecryptionError, FieldError

VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "vectors"

CTX = b"app=crm\x00key=app:crm\x00version=3"


def _cases() -> list[Any]:
    data = json.loads((VECTORS / "wycheproof" / "x25519_test.json").read_text(encoding="utf-8"))
    return [pytest.param(t, id=str(t["tcId"])) for g in data["testGroups"] for t in g["tests"]]


@pytest.mark.parametrize("test", _cases())
def test_x25519_against_wycheproof(test: dict[str, Any]) -> None:
    private, public = bytes.fromhex(test["private"]), bytes.fromhex(test["public"])
    shared = bytes.fromhex(test["shared"])
    if shared == bytes(32):
        # Low-order points: Wycheproof marks them "acceptable"; a wrap key must refuse them.
        with pytest.raises(FieldError):
            keywrap.x25519_shared(private, public)
        return
    if test["result"] == "invalid":
        with pytest.raises(FieldError):
            keywrap.x25519_shared(private, public)
        return
    assert keywrap.x25519_shared(private, public) == shared


def test_wrap_round_trip_and_binding() -> None:
    private = os.urandom(32)
    public = keywrap.public_key(private)
    data_key = os.urandom(32)
    wrapped = keywrap.wrap(public, data_key, CTX)
    assert len(wrapped) == 1 + 32 + 12 + 32 + 16
    assert keywrap.unwrap(private, wrapped, CTX) == data_key
    assert keywrap.wrap(public, data_key, CTX) != wrapped  # fresh ephemeral key and nonce
    with pytest.raises(DecryptionError):
        keywrap.unwrap(private, wrapped, CTX + b"x")
    with pytest.raises(DecryptionError):
        keywrap.unwrap(os.urandom(32), wrapped, CTX)
    for i in range(len(wrapped)):
        changed = bytearray(wrapped)
        changed[i] ^= 1
        with pytest.raises(DecryptionError):
            keywrap.unwrap(private, bytes(changed), CTX)
    for n in range(len(wrapped)):
        with pytest.raises(DecryptionError):
            keywrap.unwrap(private, wrapped[:n], CTX)


def test_bad_wrap_input_is_refused() -> None:
    public = keywrap.public_key(os.urandom(32))
    with pytest.raises(FieldError):
        keywrap.wrap(public, b"short", CTX)
    with pytest.raises(FieldError):
        keywrap.wrap(public[:31], os.urandom(32), CTX)
    with pytest.raises(FieldError):
        keywrap.wrap(bytes(32), os.urandom(32), CTX)  # low-order public key
