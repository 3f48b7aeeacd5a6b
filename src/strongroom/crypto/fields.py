"""Sealed fields: one versioned, self-describing format for an encrypted field value.

Binary layout (integers big endian; `docs/format.md` is the full specification)::

    header = version u8 (0x01) | alg u8 | kdf u8 | kid_len u8 | kid | key_version u32
             | KDF parameters (see `field_kdf`)
    sealed = header | nonce (12) | ciphertext ‖ tag (16)

The associated data is ``header ‖ context``, where the context is the canonical encoding
of (app, record id, field name): a sealed value pasted into another record, field or app,
or with any header byte changed, fails to open. The compact form is ``srf1.`` followed by
the unpadded base64url of the bytes (safe in JSON, URLs and SQL text); the JSON form
names each part. Both forms carry the same bytes and convert losslessly.

Sealing raises `FieldError` for input it refuses (a bad context, key id or size).
Opening raises `DecryptionError` for every failure, whatever the cause, and never
returns a partial plaintext.
"""

from __future__ import annotations

import binascii
import dataclasses
import os
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from strongroom.crypto import field_kdf as k
from strongroom.crypto.field_kdf import KEY_BYTES, Kdf, parse_params
from strongroom.errors import DecryptionError, FieldError

# The errors are re-exported: the SDK reaches them through this package only.
__all__ = [
    "COMPACT_PREFIX",
    "MAX_COMPACT",
    "MAX_PLAINTEXT",
    "NONCE_BYTES",
    "TAG_BYTES",
    "VERSION",
    "Algorithm",
    "Context",
    "DecryptionError",
    "FieldCipher",
    "FieldError",
    "Header",
    "Sealed",
    "b64url_decode",
    "b64url_encode",
    "parse",
    "parse_bytes",
    "parse_compact",
    "parse_json",
]

VERSION = 0x01
NONCE_BYTES = 12
TAG_BYTES = 16
COMPACT_PREFIX = "srf1."
CONTEXT_LABEL = b"strongroom.field.v1\x00"
CONTEXT_PART_MAX = 255
KEY_ID_MAX = 64
MAX_PLAINTEXT = 1 << 20  # 1 MiB per field
_MAX_HEADER = 4 + KEY_ID_MAX + 4 + 14 + 64
_MAX_SEALED = _MAX_HEADER + NONCE_BYTES + MAX_PLAINTEXT + TAG_BYTES
MAX_COMPACT = len(COMPACT_PREFIX) + (_MAX_SEALED * 4 + 2) // 3
_KEY_ID = re.compile(r"[A-Za-z0-9._:@/+-]{1,64}")
_B64_INDEX = {
    c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
}
_KVER = struct.Struct(">I")


class Algorithm(IntEnum):
    """The AEAD a field is sealed with; both take a 32-byte key and a 12-byte nonce."""

    AES_256_GCM = 1
    CHACHA20_POLY1305 = 2

    @property
    def label(self) -> str:
        """The name used in the JSON form."""
        return _ALG_LABELS[self]


_ALG_LABELS = {
    Algorithm.AES_256_GCM: "AES-256-GCM",
    Algorithm.CHACHA20_POLY1305: "ChaCha20-Poly1305",
}
_ALG_BY_LABEL = {v: k for k, v in _ALG_LABELS.items()}


@dataclass(frozen=True, slots=True)
class Context:
    """Where a field lives: the app, the record's id and the field's name.

    Each part is a non-empty string of at most 255 UTF-8 bytes; `FieldError` otherwise.
    The encoding (`aad`) is ``"strongroom.field.v1" 0x00`` then, for each part in that
    order, its length (u16) and UTF-8 bytes.
    """

    app: str
    record: str
    field: str
    aad: bytes = dataclasses.field(init=False, repr=False, compare=False)
    """The canonical bytes bound as associated data (computed from the three parts)."""
    _bound: tuple[bytes, bytes] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        encoded = bytearray(CONTEXT_LABEL)
        for name in ("app", "record", "field"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise FieldError(f"context {name} must be a string")
            try:
                raw = value.encode("utf-8")
            except UnicodeEncodeError:
                raise FieldError(f"context {name} must be valid Unicode text") from None
            if not 1 <= len(raw) <= CONTEXT_PART_MAX:
                raise FieldError(f"context {name} must be 1..{CONTEXT_PART_MAX} UTF-8 bytes")
            encoded += len(raw).to_bytes(2, "big") + raw
        object.__setattr__(self, "aad", bytes(encoded))
        object.__setattr__(self, "_bound", (b"", b""))

    def bind(self, header: bytes) -> bytes:
        """``header + aad``: the whole associated data under one header.

        The last one made is kept with its header (one entry, replaced as a whole), so a
        context reused under one key costs a lookup, not a join: hot paths read
        ``_bound`` and call this only when its header is not theirs.
        """
        full = header + self.aad
        object.__setattr__(self, "_bound", (header, full))
        return full

    @classmethod
    def of(cls, value: Context | Mapping[str, str]) -> Context:
        """A context from itself or a mapping with exactly ``app``, ``record``, ``field``."""
        if isinstance(value, Context):
            return value
        if not isinstance(value, Mapping) or set(value) != {"app", "record", "field"}:
            raise FieldError("a context has exactly the keys app, record and field")
        return cls(value["app"], value["record"], value["field"])


@dataclass(frozen=True, slots=True)
class Header:
    """What a sealed field says about itself: algorithm, key id and version, KDF."""

    alg: Algorithm
    key_id: str
    key_version: int
    kdf: Kdf

    def __post_init__(self) -> None:
        if not isinstance(self.alg, Algorithm):
            raise FieldError("unknown algorithm")
        if not isinstance(self.key_id, str) or not _KEY_ID.fullmatch(self.key_id):
            raise FieldError("a key id is 1..64 characters of A-Z a-z 0-9 . _ : @ / + -")
        v = self.key_version
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < 2**32:
            raise FieldError("a key version is an integer in 0..2^32-1")

    def encode(self) -> bytes:
        """The header's bytes (part of every sealed value and of its associated data)."""
        kid = self.key_id.encode("ascii")
        return (
            bytes([VERSION, self.alg, self.kdf.code, len(kid)])
            + kid
            + _KVER.pack(self.key_version)
            + self.kdf.params()
        )


@dataclass(frozen=True, slots=True)
class Sealed:
    """A parsed sealed field: its header, the header's bytes, nonce and ciphertext ‖ tag."""

    header: Header
    header_bytes: bytes
    nonce: bytes
    ciphertext: bytes

    def to_bytes(self) -> bytes:
        """The binary form."""
        return self.header_bytes + self.nonce + self.ciphertext

    def to_compact(self) -> str:
        """The compact string form, ``srf1.<base64url>``."""
        return COMPACT_PREFIX + b64url_encode(self.to_bytes())

    def to_json(self) -> dict[str, Any]:
        """The JSON form (a dict ready for `json.dumps`)."""
        kdf = self.header.kdf
        descriptor: dict[str, Any] = {"name": kdf.name}
        if isinstance(kdf, k.Pbkdf2):
            descriptor["iterations"] = kdf.iterations
        if isinstance(kdf, k.Argon2id):
            descriptor["time_cost"] = kdf.time_cost
            descriptor["memory_kib"] = kdf.memory_kib
            descriptor["parallelism"] = kdf.parallelism
        if not isinstance(kdf, k.Raw):
            descriptor["salt"] = b64url_encode(kdf.salt)
        return {
            "v": VERSION,
            "alg": self.header.alg.label,
            "kid": self.header.key_id,
            "kver": self.header.key_version,
            "kdf": descriptor,
            "nonce": b64url_encode(self.nonce),
            "ct": b64url_encode(self.ciphertext),
        }


def b64url_encode(data: bytes) -> str:
    """Unpadded base64url (RFC 4648 §5)."""
    encoded = binascii.b2a_base64(data, newline=False).translate(_FROM_STANDARD)
    return encoded.rstrip(b"=").decode("ascii")


_FROM_STANDARD = bytes.maketrans(b"+/", b"-_")
_TO_STANDARD = bytes.maketrans(b"-_", b"+/")


def b64url_decode(text: str) -> bytes:
    """Decode canonical unpadded base64url; `DecryptionError` for anything else.

    Canonical means: only the 64 URL-safe characters, no padding, no leftover bits.
    """
    if not isinstance(text, str) or "+" in text or "/" in text or "=" in text:
        raise DecryptionError()
    rest = len(text) % 4
    if rest == 1 or (rest and _B64_INDEX.get(text[-1], 0) & (0x0F if rest == 2 else 0x03)):
        raise DecryptionError()
    try:
        raw = text.encode("ascii").translate(_TO_STANDARD) + b"=" * (-rest % 4)
        return binascii.a2b_base64(raw, strict_mode=True)
    except (binascii.Error, UnicodeEncodeError):
        raise DecryptionError() from None


def parse_bytes(data: bytes) -> Sealed:
    """Parse the binary form; `DecryptionError` if it is not a well-formed sealed field."""
    try:
        header, end = _parse_header(data)
    except FieldError:
        raise DecryptionError() from None
    if len(data) < end + NONCE_BYTES + TAG_BYTES or len(data) > end + _MAX_BODY:
        raise DecryptionError()
    return Sealed(header, data[:end], data[end : end + NONCE_BYTES], data[end + NONCE_BYTES :])


_MAX_BODY = NONCE_BYTES + MAX_PLAINTEXT + TAG_BYTES


def _parse_header(data: bytes) -> tuple[Header, int]:
    if len(data) < 4 or data[0] != VERSION:
        raise FieldError("not a sealed field")
    alg_code, kdf_code, kid_len = data[1], data[2], data[3]
    if alg_code not in (1, 2) or not 1 <= kid_len <= KEY_ID_MAX:
        raise FieldError("bad header")
    if len(data) < 4 + kid_len + 4:
        raise FieldError("truncated header")
    try:
        kid = data[4 : 4 + kid_len].decode("ascii")
    except UnicodeDecodeError:
        raise FieldError("bad key id") from None
    (kver,) = _KVER.unpack_from(data, 4 + kid_len)
    kdf, end = parse_params(kdf_code, data, 8 + kid_len)
    return Header(Algorithm(alg_code), kid, kver, kdf), end


def parse_compact(text: str) -> Sealed:
    """Parse the compact form; `DecryptionError` if it is not one."""
    if not isinstance(text, str) or len(text) > MAX_COMPACT:
        raise DecryptionError()
    if not text.startswith(COMPACT_PREFIX):
        raise DecryptionError()
    return parse_bytes(b64url_decode(text[len(COMPACT_PREFIX) :]))


_JSON_KEYS = {"v", "alg", "kid", "kver", "kdf", "nonce", "ct"}
_KDF_KEYS = {
    "raw": {"name"},
    "PBKDF2-HMAC-SHA256": {"name", "iterations", "salt"},
    "Argon2id": {"name", "time_cost", "memory_kib", "parallelism", "salt"},
    "HKDF-SHA256": {"name", "salt"},
}


def parse_json(value: Any) -> Sealed:
    """Parse the JSON form (a decoded dict); `DecryptionError` if it is not exactly one.

    The header bytes are rebuilt from the members, so the JSON and compact forms of the
    same value open with the same associated data.
    """
    if not isinstance(value, Mapping) or set(value) != _JSON_KEYS:
        raise DecryptionError()
    kdf = value["kdf"]
    if (
        type(value["v"]) is not int
        or value["v"] != VERSION
        or not isinstance(value["alg"], str)
        or value["alg"] not in _ALG_BY_LABEL
        or not isinstance(kdf, Mapping)
        or not isinstance(kdf.get("name"), str)
        or kdf["name"] not in _KDF_KEYS
        or set(kdf) != _KDF_KEYS[kdf["name"]]
    ):
        raise DecryptionError()
    try:
        header = Header(
            _ALG_BY_LABEL[value["alg"]], value["kid"], value["kver"], _kdf_from_json(kdf)
        )
    except FieldError:
        raise DecryptionError() from None
    nonce = b64url_decode(value["nonce"])
    body = b64url_decode(value["ct"])
    if len(nonce) != NONCE_BYTES or not TAG_BYTES <= len(body) <= MAX_PLAINTEXT + TAG_BYTES:
        raise DecryptionError()
    return Sealed(header, header.encode(), nonce, body)


def _kdf_from_json(kdf: Mapping[str, Any]) -> Kdf:
    name = kdf["name"]
    if name == "raw":
        return k.RAW
    salt = b64url_decode(kdf["salt"])
    if name == "PBKDF2-HMAC-SHA256":
        return k.Pbkdf2(salt, kdf["iterations"])
    if name == "Argon2id":
        return k.Argon2id(salt, kdf["time_cost"], kdf["memory_kib"], kdf["parallelism"])
    return k.Hkdf(salt)


def parse(value: str | Mapping[str, Any] | bytes) -> Sealed:
    """Parse any form: compact string, JSON dict, or binary; `DecryptionError` if none."""
    if isinstance(value, str):
        return parse_compact(value)
    if isinstance(value, bytes):
        return parse_bytes(value)
    return parse_json(value)


def _new_aead(alg: Algorithm, key: bytes) -> AESGCM | ChaCha20Poly1305:
    """The AEAD object for ``alg``; `FieldError` unless ``key`` is 32 bytes."""
    if not isinstance(key, bytes) or len(key) != KEY_BYTES:
        raise FieldError("a field key must be 32 bytes")
    return AESGCM(key) if alg is Algorithm.AES_256_GCM else ChaCha20Poly1305(key)


def _aead_open(alg: Algorithm, key: bytes, nonce: bytes, body: bytes, aad: bytes) -> bytes:
    """The AEAD layer under `FieldCipher`, exposed for published vectors only.

    Accepts what a sealed field can hold (32-byte key, 12-byte nonce, a tag) and raises
    `DecryptionError` for every failure.
    """
    if len(key) != KEY_BYTES or len(nonce) != NONCE_BYTES or len(body) < TAG_BYTES:
        raise DecryptionError()
    try:
        return _new_aead(alg, key).decrypt(nonce, body, aad)
    except InvalidTag:
        raise DecryptionError() from None


def _aead_seal(alg: Algorithm, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """The AEAD layer under `FieldCipher` with a given nonce, for published vectors only."""
    if len(nonce) != NONCE_BYTES:
        raise FieldError("a nonce is 12 bytes")
    return _new_aead(alg, key).encrypt(nonce, plaintext, aad)


class FieldCipher:
    """Seals and opens fields under one derived key and one header.

    The AEAD object and the header bytes are computed once, so sealing costs one nonce,
    one AEAD call and the encoding. The key is held by the AEAD object only and never
    appears in a repr.
    """

    __slots__ = ("_aead", "_header_bytes", "header")

    def __init__(self, key: bytes, header: Header) -> None:
        if not isinstance(key, bytes) or len(key) != KEY_BYTES:
            raise FieldError("a field key must be 32 bytes")
        self.header = header
        self._header_bytes = header.encode()
        self._aead = _new_aead(header.alg, key)

    def __repr__(self) -> str:
        return f"FieldCipher(key_id={self.header.key_id!r}, redacted)"

    def __reduce__(self) -> Any:
        raise TypeError("field ciphers cannot be pickled")

    @property
    def header_bytes(self) -> bytes:
        """The header every value sealed here carries."""
        return self._header_bytes

    def seal_bytes(self, plaintext: bytes, context: Context) -> bytes:
        """The binary sealed form of ``plaintext`` bound to ``context``."""
        return self._seal(plaintext, context, os.urandom(NONCE_BYTES))

    def seal(self, plaintext: bytes, context: Context) -> str:
        """The compact sealed form of ``plaintext`` bound to ``context``."""
        return COMPACT_PREFIX + b64url_encode(
            self._seal(plaintext, context, os.urandom(NONCE_BYTES))
        )

    def _seal(self, plaintext: bytes, context: Context, nonce: bytes) -> bytes:
        if not isinstance(plaintext, bytes) or len(plaintext) > MAX_PLAINTEXT:
            raise FieldError(f"a field value must be bytes, at most {MAX_PLAINTEXT} bytes")
        if type(context) is not Context:
            raise FieldError("a Context is required")
        head = self._header_bytes
        return head + nonce + self._aead.encrypt(nonce, plaintext, head + context.aad)

    def open_bytes(self, data: bytes, context: Context) -> bytes:
        """Open the binary form sealed under this header; `DecryptionError` on any failure."""
        head = self._header_bytes
        n = len(head)
        if (
            type(context) is not Context
            or type(data) is not bytes
            or not n + NONCE_BYTES + TAG_BYTES <= len(data) <= n + _MAX_BODY
            or not data.startswith(head)
        ):
            raise DecryptionError()
        try:
            return self._aead.decrypt(
                data[n : n + NONCE_BYTES], data[n + NONCE_BYTES :], head + context.aad
            )
        except InvalidTag:
            raise DecryptionError() from None

    def open(self, text: str, context: Context) -> bytes:
        """Open the compact form sealed under this header; `DecryptionError` on any failure."""
        if not isinstance(text, str) or len(text) > MAX_COMPACT:
            raise DecryptionError()
        if not text.startswith(COMPACT_PREFIX):
            raise DecryptionError()
        return self.open_bytes(b64url_decode(text[len(COMPACT_PREFIX) :]), context)


def _seal_deterministic(
    cipher: FieldCipher, plaintext: bytes, context: Context, nonce: bytes
) -> bytes:
    """Seal with a given nonce. Only for generating test vectors: never reuse a nonce."""
    if len(nonce) != NONCE_BYTES:
        raise FieldError("a nonce is 12 bytes")
    return cipher._seal(plaintext, context, nonce)
