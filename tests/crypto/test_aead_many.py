"""`aead.encrypt_many`: the same blobs as `encrypt`, one key schedule for a batch."""

from __future__ import annotations

import pytest

from strongroom.crypto import aead
from strongroom.errors import DecryptionError


def test_encrypt_many_blobs_open_with_decrypt() -> None:
    key = aead.generate_key()
    items = [(f"value {i}".encode(), f"aad {i}".encode()) for i in range(50)]
    blobs = aead.encrypt_many(key, items, key_version=7)
    assert len({b[5:17] for b in blobs}) == 50  # a fresh nonce each
    for (plaintext, aad), blob in zip(items, blobs, strict=True):
        assert aead.key_version(blob) == 7
        assert aead.decrypt(key, blob, aad) == plaintext
    with pytest.raises(DecryptionError):
        aead.decrypt(key, blobs[0], items[1][1])
    assert aead.encrypt_many(key, [], key_version=0) == []
    with pytest.raises(ValueError):
        aead.encrypt_many(key[:16], items, key_version=0)
    with pytest.raises(ValueError):
        aead.encrypt_many(key, items, key_version=2**32)


def test_encrypt_batch_binds_prefix_and_suffix() -> None:
    key = aead.generate_key()
    plaintexts = [f"value {i}".encode() for i in range(40)]
    suffixes = [f"ref {i}".encode() for i in range(40)]
    blobs = aead.encrypt_batch(key, plaintexts, b"prefix/", suffixes, key_version=3)
    assert len({b[5:17] for b in blobs}) == 40  # a fresh nonce each
    for plaintext, suffix, blob in zip(plaintexts, suffixes, blobs, strict=True):
        assert aead.key_version(blob) == 3
        assert aead.decrypt(key, blob, b"prefix/" + suffix) == plaintext
    with pytest.raises(DecryptionError):
        aead.decrypt(key, blobs[0], b"prefix/" + suffixes[1])
    with pytest.raises(DecryptionError):
        aead.decrypt(key, blobs[0], suffixes[0])
    assert aead.encrypt_batch(key, [], b"p", [], key_version=0) == []
    with pytest.raises(ValueError):
        aead.encrypt_batch(key, plaintexts, b"p", suffixes[:-1], key_version=0)
    with pytest.raises(ValueError):
        aead.encrypt_batch(key[:16], plaintexts, b"p", suffixes, key_version=0)
    with pytest.raises(ValueError):
        aead.encrypt_batch(key, plaintexts, b"p", suffixes, key_version=-1)
