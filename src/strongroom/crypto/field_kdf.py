"""Key derivation descriptors for sealed fields: raw keys, PBKDF2, Argon2id, HKDF.

A descriptor names a KDF and all of its parameters (salt included). It is written into
every sealed field's header, so the field says how its key was derived; the secret
(passphrase or key) never is. Each parameter has a floor and a ceiling, checked when the
descriptor is built, so a header from an attacker cannot ask for 10^12 iterations or a
gigabyte of memory: deriving is bounded in time and memory.

The primitive functions (`pbkdf2_hmac_sha256`, `hkdf_sha256`) take the raw parameters
with wider bounds; the descriptors call them with a 32-byte output. Every bound that is
broken raises `FieldError` naming the rule, never the value.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import ClassVar

from argon2.low_level import Type, hash_secret_raw
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from strongroom.errors import FieldError

KEY_BYTES = 32
SALT_MIN = 16
SALT_MAX = 64
DEFAULT_SALT_BYTES = 16

PBKDF2_DEFAULT_ITERATIONS = 600_000
PBKDF2_MIN_ITERATIONS = 1_000
PBKDF2_MAX_ITERATIONS = 2_000_000

ARGON2_DEFAULT = (3, 65_536, 4)  # RFC 9106 second recommended option: t=3, 64 MiB, p=4
ARGON2_MAX_TIME = 10
ARGON2_MAX_MEMORY_KIB = 262_144  # 256 MiB
ARGON2_MAX_PARALLELISM = 16

HKDF_INFO = b"strongroom.fields.v1"

# Bounds of the primitives themselves (wider than the format's, for published vectors).
_PRIMITIVE_MAX_ITERATIONS = PBKDF2_MAX_ITERATIONS
_PRIMITIVE_MAX_SALT = 1024
_PRIMITIVE_MAX_SECRET = 4096
_PBKDF2_MAX_LENGTH = 1024
_HKDF_MAX_LENGTH = 255 * 32


def pbkdf2_hmac_sha256(secret: bytes, salt: bytes, iterations: int, length: int) -> bytes:
    """PBKDF2-HMAC-SHA256 (RFC 8018) of ``secret``; `FieldError` outside the bounds."""
    if not 1 <= iterations <= _PRIMITIVE_MAX_ITERATIONS:
        raise FieldError(f"PBKDF2 iterations must be 1..{_PRIMITIVE_MAX_ITERATIONS}")
    if not 1 <= length <= _PBKDF2_MAX_LENGTH:
        raise FieldError(f"PBKDF2 output length must be 1..{_PBKDF2_MAX_LENGTH} bytes")
    _check_sizes(secret, salt)
    kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=length, salt=salt, iterations=iterations)
    return kdf.derive(secret)


def hkdf_sha256(secret: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    """HKDF-SHA256 (RFC 5869) of ``secret``; an empty salt means none (RFC 5869 §2.2)."""
    if not 1 <= length <= _HKDF_MAX_LENGTH:
        raise FieldError(f"HKDF output length must be 1..{_HKDF_MAX_LENGTH} bytes")
    _check_sizes(secret, salt)
    if len(info) > _PRIMITIVE_MAX_SALT:
        raise FieldError(f"HKDF info must be at most {_PRIMITIVE_MAX_SALT} bytes")
    kdf = HKDF(algorithm=hashes.SHA256(), length=length, salt=salt or None, info=info)
    return kdf.derive(secret)


def _check_sizes(secret: bytes, salt: bytes) -> None:
    if len(secret) > _PRIMITIVE_MAX_SECRET:
        raise FieldError(f"a KDF secret must be at most {_PRIMITIVE_MAX_SECRET} bytes")
    if len(salt) > _PRIMITIVE_MAX_SALT:
        raise FieldError(f"a KDF salt must be at most {_PRIMITIVE_MAX_SALT} bytes")


def _check_salt(salt: bytes) -> None:
    if not isinstance(salt, bytes) or not SALT_MIN <= len(salt) <= SALT_MAX:
        raise FieldError(f"the salt must be {SALT_MIN}..{SALT_MAX} bytes")


def _check_int(value: int, low: int, high: int, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise FieldError(f"{what} must be an integer in {low}..{high}")


@dataclass(frozen=True, slots=True)
class Raw:
    """No derivation: the key handle holds the 32-byte AEAD key itself."""

    code: ClassVar[int] = 0
    name: ClassVar[str] = "raw"

    def params(self) -> bytes:
        """The descriptor's bytes in a header (none)."""
        return b""

    def derive(self, secret: bytes) -> bytes:
        """The key itself; `FieldError` unless it is 32 bytes."""
        if len(secret) != KEY_BYTES:
            raise FieldError("a raw field key must be 32 bytes")
        return secret


@dataclass(frozen=True, slots=True)
class Pbkdf2:
    """PBKDF2-HMAC-SHA256 from a passphrase; iterations 1,000..2,000,000."""

    salt: bytes
    iterations: int = PBKDF2_DEFAULT_ITERATIONS
    code: ClassVar[int] = 1
    name: ClassVar[str] = "PBKDF2-HMAC-SHA256"

    def __post_init__(self) -> None:
        _check_int(self.iterations, PBKDF2_MIN_ITERATIONS, PBKDF2_MAX_ITERATIONS, "iterations")
        _check_salt(self.salt)

    @classmethod
    def new(cls, iterations: int = PBKDF2_DEFAULT_ITERATIONS) -> Pbkdf2:
        """A descriptor with a fresh random 16-byte salt."""
        return cls(os.urandom(DEFAULT_SALT_BYTES), iterations)

    def params(self) -> bytes:
        """``iterations u32 | salt_len u8 | salt``."""
        return struct.pack(">IB", self.iterations, len(self.salt)) + self.salt

    def derive(self, secret: bytes) -> bytes:
        """The 32-byte key for ``secret`` (the passphrase's UTF-8 bytes)."""
        return pbkdf2_hmac_sha256(secret, self.salt, self.iterations, KEY_BYTES)


@dataclass(frozen=True, slots=True)
class Argon2id:
    """Argon2id (RFC 9106, version 0x13) from a passphrase; memory in KiB."""

    salt: bytes
    time_cost: int = ARGON2_DEFAULT[0]
    memory_kib: int = ARGON2_DEFAULT[1]
    parallelism: int = ARGON2_DEFAULT[2]
    code: ClassVar[int] = 2
    name: ClassVar[str] = "Argon2id"

    def __post_init__(self) -> None:
        _check_int(self.time_cost, 1, ARGON2_MAX_TIME, "Argon2 time cost")
        _check_int(self.parallelism, 1, ARGON2_MAX_PARALLELISM, "Argon2 parallelism")
        _check_int(
            self.memory_kib, 8 * self.parallelism, ARGON2_MAX_MEMORY_KIB, "Argon2 memory (KiB)"
        )
        _check_salt(self.salt)

    @classmethod
    def new(
        cls,
        time_cost: int = ARGON2_DEFAULT[0],
        memory_kib: int = ARGON2_DEFAULT[1],
        parallelism: int = ARGON2_DEFAULT[2],
    ) -> Argon2id:
        """A descriptor with a fresh random 16-byte salt."""
        return cls(os.urandom(DEFAULT_SALT_BYTES), time_cost, memory_kib, parallelism)

    def params(self) -> bytes:
        """``time u32 | memory_kib u32 | parallelism u8 | salt_len u8 | salt``."""
        head = struct.pack(">IIB", self.time_cost, self.memory_kib, self.parallelism)
        return head + bytes([len(self.salt)]) + self.salt

    def derive(self, secret: bytes) -> bytes:
        """The 32-byte key for ``secret`` (the passphrase's UTF-8 bytes)."""
        if len(secret) > _PRIMITIVE_MAX_SECRET:
            raise FieldError(f"a KDF secret must be at most {_PRIMITIVE_MAX_SECRET} bytes")
        return hash_secret_raw(
            secret,
            self.salt,
            time_cost=self.time_cost,
            memory_cost=self.memory_kib,
            parallelism=self.parallelism,
            hash_len=KEY_BYTES,
            type=Type.ID,
            version=19,
        )


@dataclass(frozen=True, slots=True)
class Hkdf:
    """HKDF-SHA256 from a 32-byte platform or app key, info ``strongroom.fields.v1``."""

    salt: bytes
    code: ClassVar[int] = 3
    name: ClassVar[str] = "HKDF-SHA256"

    def __post_init__(self) -> None:
        _check_salt(self.salt)

    @classmethod
    def new(cls) -> Hkdf:
        """A descriptor with a fresh random 16-byte salt."""
        return cls(os.urandom(DEFAULT_SALT_BYTES))

    def params(self) -> bytes:
        """``salt_len u8 | salt``."""
        return bytes([len(self.salt)]) + self.salt

    def derive(self, secret: bytes) -> bytes:
        """The 32-byte field key for the app key ``secret`` (which must be 32 bytes)."""
        if len(secret) != KEY_BYTES:
            raise FieldError("an app key must be 32 bytes")
        return hkdf_sha256(secret, self.salt, HKDF_INFO, KEY_BYTES)


Kdf = Raw | Pbkdf2 | Argon2id | Hkdf
RAW = Raw()


def parse_params(code: int, data: bytes, offset: int) -> tuple[Kdf, int]:
    """Read the descriptor ``code`` from ``data`` at ``offset``; return it and the end.

    Raises `FieldError` for an unknown code, truncated parameters or broken bounds; the
    format parser turns that into the opaque `DecryptionError`.
    """
    if code == Raw.code:
        return RAW, offset
    if code == Pbkdf2.code:
        iterations, salt, end = _ints_then_salt(data, offset, ">I")
        return Pbkdf2(salt, iterations[0]), end
    if code == Argon2id.code:
        (t, m, p), salt, end = _ints_then_salt(data, offset, ">IIB")
        return Argon2id(salt, t, m, p), end
    if code == Hkdf.code:
        _, salt, end = _ints_then_salt(data, offset, ">")
        return Hkdf(salt), end
    raise FieldError("unknown KDF")


def _ints_then_salt(data: bytes, offset: int, fmt: str) -> tuple[tuple[int, ...], bytes, int]:
    layout = struct.Struct(fmt)
    if len(data) < offset + layout.size + 1:
        raise FieldError("truncated KDF parameters")
    values = layout.unpack_from(data, offset)
    offset += layout.size
    size = data[offset]
    offset += 1
    if len(data) < offset + size:
        raise FieldError("truncated KDF salt")
    return values, data[offset : offset + size], offset + size
