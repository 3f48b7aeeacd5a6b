"""Sealed-field vectors: each one rebuilt from the raw primitives, then through our code.

The independent check assembles the header, the associated data and the AEAD call by
hand from `docs/format.md` with pyca/cryptography and argon2-cffi directly, so a bug in
`strongroom.crypto.fields` cannot make the vectors agree with themselves.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest
from argon2.low_level import Type, hash_secret_raw
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from strongroom.crypto import fields as f
from strongroom.errors import DecryptionError

VECTORS = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "fields" / "vectors.json").read_text(
        encoding="utf-8"
    )
)
VALID = VECTORS["valid"]
INVALID = VECTORS["invalid"]


def _b64(text: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _independent_key(v: dict[str, Any]) -> bytes:
    kdf = v["kdf"]
    if kdf["name"] == "raw":
        return bytes.fromhex(v["secret"]["key_hex"])
    if kdf["name"] == "HKDF-SHA256":
        return HKDF(
            hashes.SHA256(), 32, salt=_b64(kdf["salt"]), info=b"strongroom.fields.v1"
        ).derive(bytes.fromhex(v["secret"]["key_hex"]))
    pw = v["secret"]["passphrase"].encode("utf-8")
    if kdf["name"] == "PBKDF2-HMAC-SHA256":
        return PBKDF2HMAC(hashes.SHA256(), 32, _b64(kdf["salt"]), kdf["iterations"]).derive(pw)
    assert kdf["name"] == "Argon2id"
    return hash_secret_raw(
        pw,
        _b64(kdf["salt"]),
        time_cost=kdf["time_cost"],
        memory_cost=kdf["memory_kib"],
        parallelism=kdf["parallelism"],
        hash_len=32,
        type=Type.ID,
        version=19,
    )


def _independent_header(v: dict[str, Any]) -> bytes:
    kdf = v["kdf"]
    codes = {"raw": 0, "PBKDF2-HMAC-SHA256": 1, "Argon2id": 2, "HKDF-SHA256": 3}
    alg = {"AES-256-GCM": 1, "ChaCha20-Poly1305": 2}[v["alg"]]
    kid = v["key_id"].encode()
    out = bytes([1, alg, codes[kdf["name"]], len(kid)]) + kid + struct.pack(">I", v["key_version"])
    if kdf["name"] == "PBKDF2-HMAC-SHA256":
        out += struct.pack(">I", kdf["iterations"])
    if kdf["name"] == "Argon2id":
        out += struct.pack(">IIB", kdf["time_cost"], kdf["memory_kib"], kdf["parallelism"])
    if kdf["name"] != "raw":
        salt = _b64(kdf["salt"])
        out += bytes([len(salt)]) + salt
    return out


def _independent_context(ctx: dict[str, str]) -> bytes:
    out = b"strongroom.field.v1\x00"
    for part in ("app", "record", "field"):
        raw = ctx[part].encode("utf-8")
        out += struct.pack(">H", len(raw)) + raw
    return out


@pytest.mark.parametrize("v", VALID, ids=[v["name"] for v in VALID])
def test_vector_matches_an_independent_assembly(v: dict[str, Any]) -> None:
    key = _independent_key(v)
    assert key.hex() == v["derived_key_hex"]
    header = _independent_header(v)
    assert header.hex() == v["header_hex"]
    assert _independent_context(v["context"]).hex() == v["context_hex"]
    nonce = bytes.fromhex(v["nonce_hex"])
    aead = AESGCM(key) if v["alg"] == "AES-256-GCM" else ChaCha20Poly1305(key)
    body = aead.encrypt(nonce, v["plaintext"].encode(), header + _independent_context(v["context"]))
    assert (header + nonce + body).hex() == v["sealed_hex"]
    assert v["compact"] == "srf1." + _b64_encode(header + nonce + body)


def _b64_encode(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _cipher_for(v: dict[str, Any], sealed: f.Sealed) -> f.FieldCipher:
    secret = v["secret"]
    raw = (
        secret["passphrase"].encode("utf-8")
        if "passphrase" in secret
        else bytes.fromhex(secret["key_hex"])
    )
    return f.FieldCipher(sealed.header.kdf.derive(raw), sealed.header)


@pytest.mark.parametrize("v", VALID, ids=[v["name"] for v in VALID])
def test_vector_opens_and_reseals_byte_for_byte(v: dict[str, Any]) -> None:
    ctx = f.Context.of(v["context"])
    for form in (v["compact"], v["json"], bytes.fromhex(v["sealed_hex"])):
        sealed = f.parse(form)
        assert sealed.to_bytes().hex() == v["sealed_hex"]
        assert sealed.to_compact() == v["compact"]
        assert sealed.to_json() == v["json"]
    sealed = f.parse(v["compact"])
    cipher = _cipher_for(v, sealed)
    assert cipher.open(v["compact"], ctx) == v["plaintext"].encode()
    again = f._seal_deterministic(
        cipher, v["plaintext"].encode(), ctx, bytes.fromhex(v["nonce_hex"])
    )
    assert again.hex() == v["sealed_hex"]


@pytest.mark.parametrize("v", INVALID, ids=[v["name"] for v in INVALID])
def test_invalid_vector_fails_with_the_one_opaque_error(v: dict[str, Any]) -> None:
    with pytest.raises(DecryptionError) as info:
        sealed = f.parse(v["sealed"])
        ctx = f.Context.of(v["context"])
        _cipher_for(v, sealed).open_bytes(sealed.to_bytes(), ctx)
    assert str(info.value) == "Decryption failed."


def test_vectors_cover_every_algorithm_and_kdf_pair() -> None:
    pairs = {(v["alg"], v["kdf"]["name"]) for v in VALID}
    for alg in ("AES-256-GCM", "ChaCha20-Poly1305"):
        for kdf in ("raw", "PBKDF2-HMAC-SHA256", "Argon2id", "HKDF-SHA256"):
            assert (alg, kdf) in pairs
    assert any(v["plaintext"] == "" for v in VALID)
    assert any(not v["plaintext"].isascii() for v in VALID)
