"""Key wrapping to RSA-OAEP-3072 (the RSA escrow recipe): Wycheproof, round trips, binding.

The Wycheproof file ``rsa_oaep_3072_sha256_mgf1sha256_test.json`` runs against
`rsa_keywrap.oaep_open`, the one decryption the unwrap layer calls: every invalid vector
must raise the same opaque `DecryptionError`, every valid one must give its message.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from strongroom.crypto import keywrap, rsa_keywrap
from strongroom.errors import DecryptionError, FieldError

VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "vectors"
FILE = VECTORS / "wycheproof" / "rsa_oaep_3072_sha256_mgf1sha256_test.json"
CTX = keywrap.escrow_context("crm", "app:crm", 3)


def _data() -> dict[str, Any]:
    return dict(json.loads(FILE.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def key_pair() -> tuple[bytes, bytes]:
    private = rsa_keywrap.generate_private()
    return private, rsa_keywrap.public_key(private)


def test_every_wycheproof_vector_against_the_unwrap_layer() -> None:
    data = _data()
    groups = data["testGroups"]
    seen = {"valid": 0, "invalid": 0}
    for group in groups:
        assert (group["keySize"], group["sha"], group["mgfSha"]) == (3072, "SHA-256", "SHA-256")
        private_der = bytes.fromhex(group["privateKeyPkcs8"])
        private = rsa_keywrap.load_private(private_der)
        for test in group["tests"]:
            ct, label = bytes.fromhex(test["ct"]), bytes.fromhex(test["label"])
            if test["result"] == "valid":
                assert rsa_keywrap.oaep_open(private, ct, label) == bytes.fromhex(test["msg"])
            else:
                assert test["result"] == "invalid", test["tcId"]
                with pytest.raises(DecryptionError) as refused:
                    rsa_keywrap.oaep_open(private, ct, label)
                # One opaque error: the same message whatever went wrong.
                assert str(refused.value) == "Decryption failed."
                assert refused.value.__cause__ is None
            seen[test["result"]] += 1
    assert seen["valid"] > 0 and seen["invalid"] > 0
    assert sum(seen.values()) == data["numberOfTests"]


def test_round_trip_and_self_describing_header(key_pair: tuple[bytes, bytes]) -> None:
    private, public = key_pair
    data_key = os.urandom(32)
    wrapped = rsa_keywrap.wrap(public, data_key, CTX, version=7)
    assert len(wrapped) == rsa_keywrap.WRAPPED_BYTES == 389
    assert wrapped[0] == rsa_keywrap.VERSION and rsa_keywrap.key_version(wrapped) == 7
    assert rsa_keywrap.unwrap(private, wrapped, CTX) == data_key
    assert wrapped != rsa_keywrap.wrap(public, data_key, CTX, version=7)  # randomised


def test_every_tampering_is_one_opaque_error(key_pair: tuple[bytes, bytes]) -> None:
    private, public = key_pair
    wrapped = rsa_keywrap.wrap(public, os.urandom(32), CTX, version=1)
    bad: list[tuple[bytes, bytes]] = [
        (wrapped, keywrap.escrow_context("hr", "app:crm", 3)),  # moved to another app
        (wrapped, keywrap.escrow_context("crm", "app:other", 3)),  # another key id
        (wrapped, keywrap.escrow_context("crm", "app:crm", 4)),  # another key version
        (bytes([0x01]) + wrapped[1:], CTX),  # another algorithm byte
        (wrapped[:1] + (2).to_bytes(4, "big") + wrapped[5:], CTX),  # another escrow version
        (wrapped[:-1] + bytes([wrapped[-1] ^ 1]), CTX),  # a flipped ciphertext bit
        (wrapped[:-1], CTX),  # truncated
        (wrapped + b"\x00", CTX),  # extended
        (b"", CTX),
    ]
    for blob, context in bad:
        with pytest.raises(DecryptionError) as refused:
            rsa_keywrap.unwrap(private, blob, context)
        assert str(refused.value) == "Decryption failed."
    other = rsa_keywrap.generate_private()
    with pytest.raises(DecryptionError):
        rsa_keywrap.unwrap(other, wrapped, CTX)
    with pytest.raises(DecryptionError):
        rsa_keywrap.unwrap(b"not a key", wrapped, CTX)


def test_only_3072_bit_keys_with_exponent_65537() -> None:
    for size, exponent in ((2048, 65537), (4096, 65537), (3072, 3)):
        key = rsa.generate_private_key(public_exponent=exponent, key_size=size)
        spki = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        with pytest.raises(FieldError):
            rsa_keywrap.wrap(spki, os.urandom(32), CTX, version=1)
        der = key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
        if size != 3072:
            with pytest.raises(FieldError):
                rsa_keywrap.load_private(der)
    with pytest.raises(FieldError):
        rsa_keywrap.load_public(os.urandom(32))


def test_data_key_size_and_version_bounds(key_pair: tuple[bytes, bytes]) -> None:
    _, public = key_pair
    for size in (0, 15, 65):
        with pytest.raises(FieldError):
            rsa_keywrap.wrap(public, os.urandom(size), CTX, version=1)
    with pytest.raises(FieldError):
        rsa_keywrap.wrap(public, os.urandom(32), CTX, version=2**32)


def test_published_forms_name_the_same_key(key_pair: tuple[bytes, bytes]) -> None:
    _, public = key_pair
    pem = rsa_keywrap.public_pem(public)
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    n, e = rsa_keywrap.public_jwk_numbers(public)
    numbers = rsa_keywrap.load_public(public).public_numbers()
    assert int.from_bytes(n, "big") == numbers.n and len(n) == 384
    assert int.from_bytes(e, "big") == 65537 and e == b"\x01\x00\x01"
