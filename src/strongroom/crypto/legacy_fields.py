"""Legacy records: the raw Web Crypto recipe of the source document.

Many micro apps already store fields as ``{"ct": ..., "iv": ..., "salt": ...}`` (standard
base64): a key derived with PBKDF2-HMAC-SHA256 (100,000 iterations unless the app chose
otherwise) from a passphrase and a 16-byte salt, AES-256-GCM with a 12-byte IV and no
associated data. This module opens such records so they can be upgraded to the sealed-
field format. It never makes new ones.

Every failure to open (bad JSON shape, bad base64, wrong sizes, iterations out of bounds,
wrong passphrase, changed bytes) is one `DecryptionError`.
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from strongroom.crypto.field_kdf import (
    KEY_BYTES,
    PBKDF2_MAX_ITERATIONS,
    PBKDF2_MIN_ITERATIONS,
    pbkdf2_hmac_sha256,
)
from strongroom.crypto.fields import MAX_PLAINTEXT, TAG_BYTES
from strongroom.errors import DecryptionError, FieldError

LEGACY_DEFAULT_ITERATIONS = 100_000
LEGACY_IV_BYTES = 12
LEGACY_SALT_MIN = 8
LEGACY_SALT_MAX = 64
_KEYS = {"ct", "iv", "salt"}


def is_legacy(value: Any) -> bool:
    """True if ``value`` has the shape of a legacy record (exactly ct, iv and salt)."""
    return isinstance(value, Mapping) and set(value) == _KEYS


def derive_legacy_key(passphrase: bytes, salt: bytes, iterations: int) -> bytes:
    """The AES key a legacy record used; `FieldError` for parameters out of bounds."""
    if isinstance(iterations, bool) or not isinstance(iterations, int):
        raise FieldError("iterations must be an integer")
    if not PBKDF2_MIN_ITERATIONS <= iterations <= PBKDF2_MAX_ITERATIONS:
        raise FieldError(f"iterations must be {PBKDF2_MIN_ITERATIONS}..{PBKDF2_MAX_ITERATIONS}")
    if not LEGACY_SALT_MIN <= len(salt) <= LEGACY_SALT_MAX:
        raise FieldError(f"a legacy salt must be {LEGACY_SALT_MIN}..{LEGACY_SALT_MAX} bytes")
    return pbkdf2_hmac_sha256(passphrase, salt, iterations, KEY_BYTES)


def parse_legacy(value: Any) -> tuple[bytes, bytes, bytes]:
    """``(ct, iv, salt)`` of a legacy record; `DecryptionError` if it is not one."""
    if not is_legacy(value):
        raise DecryptionError()
    ct, iv, salt = (_b64(value[k]) for k in ("ct", "iv", "salt"))
    if len(iv) != LEGACY_IV_BYTES or not LEGACY_SALT_MIN <= len(salt) <= LEGACY_SALT_MAX:
        raise DecryptionError()
    if not TAG_BYTES <= len(ct) <= MAX_PLAINTEXT + TAG_BYTES:
        raise DecryptionError()
    return ct, iv, salt


def open_legacy(
    value: Any, passphrase: bytes, *, iterations: int = LEGACY_DEFAULT_ITERATIONS
) -> bytes:
    """The plaintext of a legacy record; `DecryptionError` on every failure."""
    ct, iv, salt = parse_legacy(value)
    try:
        key = derive_legacy_key(passphrase, salt, iterations)
    except FieldError:
        raise DecryptionError() from None
    try:
        return AESGCM(key).decrypt(iv, ct, None)
    except InvalidTag:
        raise DecryptionError() from None


def _b64(text: Any) -> bytes:
    if not isinstance(text, str) or len(text) > 2 * MAX_PLAINTEXT:
        raise DecryptionError()
    try:
        return binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError):
        raise DecryptionError() from None
