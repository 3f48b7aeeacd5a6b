"""Wrapping a data key to an X25519 public key (for escrow), and its unwrapping.

Layout of a wrapped key::

    0x01 | ephemeral X25519 public key (32) | nonce (12) | AES-256-GCM(data key) ‖ tag (16)

The wrapping key is HKDF-SHA256(shared secret, salt = ephemeral public ‖ recipient public,
info = ``strongroom.keywrap.v1``); the associated data is the version byte followed by the
caller's context (for escrow: the app, the key id and version), so a wrapped key cannot be
filed under another app or key. A shared secret of all zeros (a low-order public key) is
refused. Unwrapping raises `DecryptionError` for every failure.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from strongroom.crypto.field_kdf import hkdf_sha256
from strongroom.errors import DecryptionError, FieldError

VERSION = 0x01
POINT_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
MAX_KEY_BYTES = 64
INFO = b"strongroom.keywrap.v1"
_ZERO = bytes(POINT_BYTES)


def x25519_shared(private: bytes, public: bytes) -> bytes:
    """The X25519 shared secret (RFC 7748) of a raw private and a raw public key.

    Raises `FieldError` for keys that are not 32 bytes or a public key of low order (an
    all-zero shared secret), which would make the wrap key predictable.
    """
    if len(private) != POINT_BYTES or len(public) != POINT_BYTES:
        raise FieldError("X25519 keys are 32 bytes")
    try:
        shared = X25519PrivateKey.from_private_bytes(private).exchange(
            X25519PublicKey.from_public_bytes(public)
        )
    except ValueError:
        raise FieldError("the X25519 public key is of low order") from None
    if shared == _ZERO:
        raise FieldError("the X25519 public key is of low order")
    return shared


def public_key(private: bytes) -> bytes:
    """The raw X25519 public key of a raw private key."""
    if len(private) != POINT_BYTES:
        raise FieldError("X25519 keys are 32 bytes")
    return X25519PrivateKey.from_private_bytes(private).public_key().public_bytes_raw()


def _wrap_key(shared: bytes, ephemeral: bytes, recipient: bytes) -> AESGCM:
    return AESGCM(hkdf_sha256(shared, ephemeral + recipient, INFO, 32))


def wrap(recipient_public: bytes, data_key: bytes, context: bytes) -> bytes:
    """``data_key`` wrapped to ``recipient_public`` and bound to ``context``."""
    if not 16 <= len(data_key) <= MAX_KEY_BYTES:
        raise FieldError(f"a wrapped key is 16..{MAX_KEY_BYTES} bytes")
    ephemeral_private = os.urandom(POINT_BYTES)
    ephemeral = public_key(ephemeral_private)
    shared = x25519_shared(ephemeral_private, recipient_public)
    nonce = os.urandom(NONCE_BYTES)
    header = bytes([VERSION])
    body = _wrap_key(shared, ephemeral, recipient_public).encrypt(nonce, data_key, header + context)
    return header + ephemeral + nonce + body


def unwrap(recipient_private: bytes, wrapped: bytes, context: bytes) -> bytes:
    """The data key in ``wrapped``; `DecryptionError` for every failure."""
    fixed = 1 + POINT_BYTES + NONCE_BYTES + TAG_BYTES
    if not fixed + 16 <= len(wrapped) <= fixed + MAX_KEY_BYTES or wrapped[0] != VERSION:
        raise DecryptionError()
    ephemeral = wrapped[1 : 1 + POINT_BYTES]
    nonce = wrapped[1 + POINT_BYTES : 1 + POINT_BYTES + NONCE_BYTES]
    try:
        recipient = public_key(recipient_private)
        shared = x25519_shared(recipient_private, ephemeral)
        return _wrap_key(shared, ephemeral, recipient).decrypt(
            nonce, wrapped[1 + POINT_BYTES + NONCE_BYTES :], wrapped[:1] + context
        )
    except (FieldError, InvalidTag):
        raise DecryptionError() from None


def escrow_context(app: str, key_id: str, key_version: int) -> bytes:
    """The context an escrowed data key is wrapped under: its app, key id and version."""
    parts = [app.encode("utf-8"), key_id.encode("utf-8"), str(key_version).encode("ascii")]
    return b"strongroom.escrow.v1\x00" + b"\x00".join(parts)
