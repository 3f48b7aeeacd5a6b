"""Authenticated encryption recipe: AES-256-GCM with a versioned, key-tagged envelope.

Layout of a sealed blob::

    0x01 | key version (4 bytes, big endian) | nonce (12) | ciphertext ‖ tag (16)

The header is part of the associated data, so neither the format marker nor the key
version can be altered without the tag failing. Callers always supply the context the
ciphertext belongs to (a storage path, a key purpose) as associated data: it is a
required argument, never optional. Every failure to open is one `DecryptionError`.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from strongroom.errors import DecryptionError

FORMAT_V1 = 0x01
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
_HEADER = struct.Struct(">BI")
HEADER_BYTES = _HEADER.size
OVERHEAD = HEADER_BYTES + NONCE_BYTES + TAG_BYTES


def generate_key() -> bytes:
    """A fresh random 256-bit key."""
    return os.urandom(KEY_BYTES)


def encrypt(key: bytes, plaintext: bytes, associated_data: bytes, *, key_version: int) -> bytes:
    """Seal ``plaintext`` under ``key``, binding ``associated_data`` and the key version."""
    if len(key) != KEY_BYTES:
        raise ValueError("key must be 32 bytes")
    if not 0 <= key_version < 2**32:
        raise ValueError("key_version out of range")
    header = _HEADER.pack(FORMAT_V1, key_version)
    nonce = os.urandom(NONCE_BYTES)
    body = AESGCM(key).encrypt(nonce, plaintext, header + associated_data)
    return header + nonce + body


def encrypt_many(
    key: bytes, items: Sequence[tuple[bytes, bytes]], *, key_version: int
) -> list[bytes]:
    """`encrypt` of many ``(plaintext, associated_data)`` pairs under one key.

    The same blobs as one `encrypt` call each (a fresh random nonce per item), with the
    key schedule made once for the whole batch.
    """
    if len(key) != KEY_BYTES:
        raise ValueError("key must be 32 bytes")
    if not 0 <= key_version < 2**32:
        raise ValueError("key_version out of range")
    header = _HEADER.pack(FORMAT_V1, key_version)
    seal = AESGCM(key).encrypt
    # One read of the OS random source for all the nonces: the same CSPRNG output, cut.
    pool = os.urandom(NONCE_BYTES * len(items))
    out = []
    for at, (plaintext, associated_data) in enumerate(items):
        nonce = pool[at * NONCE_BYTES : (at + 1) * NONCE_BYTES]
        out.append(header + nonce + seal(nonce, plaintext, header + associated_data))
    return out


def encrypt_batch(
    key: bytes,
    plaintexts: Sequence[bytes],
    aad_prefix: bytes,
    aad_suffixes: Sequence[bytes],
    *,
    key_version: int,
) -> list[bytes]:
    """`encrypt_many` where item ``i``'s associated data is ``aad_prefix + aad_suffixes[i]``.

    The same blobs as `encrypt` with that associated data; the envelope header and the
    shared prefix are joined once for the batch rather than once per item. `ValueError`
    if the key, the key version or the lengths of the two sequences are wrong.
    """
    if len(key) != KEY_BYTES:
        raise ValueError("key must be 32 bytes")
    if not 0 <= key_version < 2**32:
        raise ValueError("key_version out of range")
    if len(plaintexts) != len(aad_suffixes):
        raise ValueError("one associated-data suffix per plaintext")
    header = _HEADER.pack(FORMAT_V1, key_version)
    head_aad = header + aad_prefix
    seal = AESGCM(key).encrypt
    pool = os.urandom(NONCE_BYTES * len(plaintexts))
    nonces = [pool[at : at + NONCE_BYTES] for at in range(0, len(pool), NONCE_BYTES)]
    return [
        header + nonce + seal(nonce, plaintext, head_aad + suffix)
        for nonce, plaintext, suffix in zip(nonces, plaintexts, aad_suffixes, strict=True)
    ]


def key_version(blob: bytes) -> int:
    """The key version a blob names; `DecryptionError` if it is not a sealed blob."""
    if len(blob) < OVERHEAD or blob[0] != FORMAT_V1:
        raise DecryptionError()
    return int(_HEADER.unpack_from(blob)[1])


def decrypt(key: bytes, blob: bytes, associated_data: bytes) -> bytes:
    """Open a blob made by `encrypt` with the same associated data.

    Raises `DecryptionError` for any failure: truncation, unknown format, wrong key,
    changed bytes or different associated data.
    """
    key_version(blob)
    if len(key) != KEY_BYTES:
        raise DecryptionError()
    header = blob[:HEADER_BYTES]
    nonce = blob[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES]
    try:
        return AESGCM(key).decrypt(
            nonce, blob[HEADER_BYTES + NONCE_BYTES :], header + associated_data
        )
    except InvalidTag:
        raise DecryptionError() from None
