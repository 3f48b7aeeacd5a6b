"""Ed25519 through libsodium: Wycheproof's vectors, agreement with `cryptography`, and
malformed input that is simply not valid."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from strongroom.crypto import ed25519

WYCHEPROOF = Path(__file__).resolve().parents[2].parent / "shared" / "vectors" / "wycheproof"


def _cases() -> list[Any]:
    data = json.loads((WYCHEPROOF / "ed25519_test.json").read_text(encoding="utf-8"))
    return [
        pytest.param(group["publicKey"], test, id=str(test["tcId"]))
        for group in data["testGroups"]
        for test in group["tests"]
    ]


CASES = _cases()


def test_the_vector_file_is_the_whole_one() -> None:
    assert len(CASES) >= 150


@pytest.mark.parametrize(("public", "test"), CASES)
def test_wycheproof(public: dict[str, Any], test: dict[str, Any]) -> None:
    key = bytes.fromhex(public["pk"])
    message, signature = bytes.fromhex(test["msg"]), bytes.fromhex(test["sig"])
    assert ed25519.verify(key, signature, message) is (test["result"] == "valid")
    # The verdict is cryptography's (OpenSSL's) too, so swapping libraries changes nothing.
    try:
        Ed25519PublicKey.from_public_bytes(key).verify(signature, message)
        openssl = True
    except (InvalidSignature, ValueError):
        openssl = False
    assert openssl is (test["result"] == "valid")


@pytest.mark.parametrize("size", [0, 1, 63, 64, 420, 5000])
def test_signatures_are_those_of_cryptography(size: int) -> None:
    seed, message = os.urandom(32), os.urandom(size)
    reference = Ed25519PrivateKey.from_private_bytes(seed)
    key = ed25519.SigningKey(seed)
    assert key.public == reference.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    signature = key.sign(message)
    assert signature == reference.sign(message)
    assert ed25519.verify(key.public, signature, message)
    reference.public_key().verify(signature, message)


def test_any_change_is_refused() -> None:
    key = ed25519.SigningKey(os.urandom(32))
    message = b"header.payload"
    signature = key.sign(message)
    for i in range(len(signature)):
        flipped = bytearray(signature)
        flipped[i] ^= 0x01
        assert not ed25519.verify(key.public, bytes(flipped), message)
    assert not ed25519.verify(key.public, signature, message + b"x")
    assert not ed25519.verify(ed25519.SigningKey(os.urandom(32)).public, signature, message)


@pytest.mark.parametrize(
    ("public", "signature"),
    [(b"\x00" * 31, b"\x00" * 64), (b"\x00" * 33, b"\x00" * 64), (b"\x01" * 32, b"\x00" * 63),
     (b"\x01" * 32, b"\x00" * 65), (b"", b"")],
)  # fmt: skip
def test_malformed_input_is_not_valid(public: bytes, signature: bytes) -> None:
    assert ed25519.verify(public, signature, b"m") is False


@pytest.mark.parametrize("seed", [b"", b"\x00" * 31, b"\x00" * 33, "x" * 32, bytearray(32)])
def test_a_seed_is_32_bytes(seed: Any) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        ed25519.SigningKey(seed)


def test_repr_shows_no_secret() -> None:
    seed = bytes(range(32))
    key = ed25519.SigningKey(seed)
    assert seed.hex() not in repr(key)
    assert key.public.hex() in repr(key)
