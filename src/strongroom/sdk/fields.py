"""Client-side field encryption: key handles, seal/open, batches, records, rotation.

Usage::

    key = FieldKey.from_passphrase(passphrase, key_id="user:42")
    sealed = key.seal("alice@example.com", {"app": "crm", "record": "42", "field": "email"})
    key.open(sealed, {"app": "crm", "record": "42", "field": "email"})

A `FieldKey` is a handle, not a key: it is made only by its ``from_*`` constructors, its
repr names the key id and nothing secret, and it cannot be pickled or copied. It derives
its key once and keeps the AEAD object, so sealing costs one AEAD call. The context is
a required argument everywhere.

Errors: `FieldError` for input the SDK refuses (bad context, bounds, types);
`DecryptionError` for every failure to open, whatever its cause.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, NoReturn

from strongroom.crypto import field_kdf as kdfs
from strongroom.crypto import fields as f
from strongroom.crypto import legacy_fields
from strongroom.crypto.fields import Context, DecryptionError, FieldError

__all__ = [
    "Context",
    "DecryptionError",
    "FieldError",
    "FieldKey",
    "KeySet",
    "is_legacy",
    "new_raw_key",
    "open_legacy",
    "open_with_passphrase",
    "rewrap",
    "upgrade_legacy",
]

AlgorithmName = Literal["AES-256-GCM", "ChaCha20-Poly1305"]
ContextLike = Context | Mapping[str, str]
SealedLike = str | bytes | Mapping[str, Any]

MIN_NEW_ITERATIONS = 100_000
MIN_NEW_ARGON2_MEMORY_KIB = 19_456
_CACHE_SIZE = 32
_ALGORITHMS: dict[str, f.Algorithm] = {
    "AES-256-GCM": f.Algorithm.AES_256_GCM,
    "ChaCha20-Poly1305": f.Algorithm.CHACHA20_POLY1305,
}
_KIND_KDF = {"passphrase": (kdfs.Pbkdf2, kdfs.Argon2id), "raw": (kdfs.Raw,), "app": (kdfs.Hkdf,)}
_TOKEN = object()
_urandom = os.urandom
_MAX_BODY = f.NONCE_BYTES + f.MAX_PLAINTEXT + f.TAG_BYTES


def new_raw_key() -> bytes:
    """A fresh random 32-byte key, for a keystore (`FieldKey.from_raw_key`)."""
    return os.urandom(kdfs.KEY_BYTES)


def _algorithm(name: str) -> f.Algorithm:
    try:
        return _ALGORITHMS[name]
    except (KeyError, TypeError):
        raise FieldError("algorithm must be AES-256-GCM or ChaCha20-Poly1305") from None


def _key_bytes(key: bytes, what: str) -> bytes:
    if not isinstance(key, bytes | bytearray) or len(key) != kdfs.KEY_BYTES:
        raise FieldError(f"{what} must be 32 bytes")
    return bytes(key)


class FieldKey:
    """A handle to one field key (key id + version) that seals and opens field values.

    Build it with `from_passphrase`, `from_raw_key` or `from_app_key`; the constructor
    itself is private. It opens values whose header names its key id and version and
    whose KDF fits how the handle was made; every other value fails to open.
    """

    __slots__ = (
        "_cache",
        "_encrypt",
        "_head",
        "_kind",
        "_opener",
        "_sealer",
        "_secret",
        "key_id",
        "key_version",
    )

    def __init__(
        self,
        token: object,
        kind: str,
        secret: bytes,
        header: f.Header,
        derived: bytes,
    ) -> None:
        if token is not _TOKEN:
            raise TypeError("use FieldKey.from_passphrase, from_raw_key or from_app_key")
        self._kind = kind
        self._secret = secret
        self.key_id = header.key_id
        self.key_version = header.key_version
        self._sealer = f.FieldCipher(derived, header)
        # The hot path of seal_binary: the header's bytes and the AEAD's bound method.
        self._head = self._sealer.header_bytes
        n = len(self._head)
        self._encrypt = self._sealer._aead.encrypt
        # The hot path of open_bytes, made once and unpacked at once: the header, the size
        # bound, where the header, nonce and ciphertext lie, and the AEAD's decrypt.
        self._opener = (
            self._head,
            n + _MAX_BODY,
            slice(0, n),
            slice(n, n + f.NONCE_BYTES),
            slice(n + f.NONCE_BYTES, None),
            self._sealer._aead.decrypt,
        )
        self._cache: OrderedDict[bytes, f.FieldCipher] = OrderedDict()
        self._cache[self._sealer.header_bytes] = self._sealer

    # -- construction ----------------------------------------------------------------------

    @classmethod
    def from_passphrase(
        cls,
        passphrase: str,
        *,
        key_id: str,
        key_version: int = 1,
        kdf: Literal["PBKDF2-HMAC-SHA256", "Argon2id"] = "PBKDF2-HMAC-SHA256",
        iterations: int = kdfs.PBKDF2_DEFAULT_ITERATIONS,
        argon2: tuple[int, int, int] = kdfs.ARGON2_DEFAULT,
        algorithm: AlgorithmName = "AES-256-GCM",
    ) -> FieldKey:
        """A handle whose key is derived from ``passphrase`` with a fresh random salt.

        PBKDF2-HMAC-SHA256 with ``iterations`` (at least 100,000; default 600,000), or
        Argon2id with ``argon2`` = (time cost, memory KiB, parallelism), memory at least
        19,456 KiB. Raises `FieldError` for an empty passphrase or weaker parameters.
        """
        return cls._from_passphrase(
            passphrase, os.urandom(kdfs.DEFAULT_SALT_BYTES), key_id, key_version, kdf,
            iterations, argon2, algorithm,
        )  # fmt: skip

    @classmethod
    def _from_passphrase(
        cls,
        passphrase: str,
        salt: bytes,
        key_id: str,
        key_version: int,
        kdf: str,
        iterations: int,
        argon2: tuple[int, int, int],
        algorithm: str,
    ) -> FieldKey:
        if not isinstance(passphrase, str) or not passphrase:
            raise FieldError("the passphrase must be a non-empty string")
        secret = passphrase.encode("utf-8", "strict")
        descriptor: kdfs.Kdf
        if kdf == "PBKDF2-HMAC-SHA256":
            if isinstance(iterations, int) and iterations < MIN_NEW_ITERATIONS:
                raise FieldError(f"new keys need at least {MIN_NEW_ITERATIONS} iterations")
            descriptor = kdfs.Pbkdf2(salt, iterations)
        elif kdf == "Argon2id":
            descriptor = kdfs.Argon2id(salt, *argon2)
            if descriptor.memory_kib < MIN_NEW_ARGON2_MEMORY_KIB:
                raise FieldError(f"new keys need at least {MIN_NEW_ARGON2_MEMORY_KIB} KiB")
        else:
            raise FieldError("kdf must be PBKDF2-HMAC-SHA256 or Argon2id")
        header = f.Header(_algorithm(algorithm), key_id, key_version, descriptor)
        return cls(_TOKEN, "passphrase", secret, header, descriptor.derive(secret))

    @classmethod
    def from_raw_key(
        cls,
        key: bytes,
        *,
        key_id: str,
        key_version: int = 1,
        algorithm: AlgorithmName = "AES-256-GCM",
    ) -> FieldKey:
        """A handle on a 32-byte key held in a keystore, used as is (KDF ``raw``)."""
        secret = _key_bytes(key, "a raw key")
        header = f.Header(_algorithm(algorithm), key_id, key_version, kdfs.RAW)
        return cls(_TOKEN, "raw", secret, header, secret)

    @classmethod
    def from_app_key(
        cls,
        key: bytes,
        *,
        key_id: str,
        key_version: int = 1,
        algorithm: AlgorithmName = "AES-256-GCM",
    ) -> FieldKey:
        """A handle deriving field keys from a 32-byte app or platform key (HKDF-SHA256)."""
        return cls._from_app_key(
            key, os.urandom(kdfs.DEFAULT_SALT_BYTES), key_id, key_version, algorithm
        )

    @classmethod
    def _from_app_key(
        cls, key: bytes, salt: bytes, key_id: str, key_version: int, algorithm: str
    ) -> FieldKey:
        secret = _key_bytes(key, "an app key")
        descriptor = kdfs.Hkdf(salt)
        header = f.Header(_algorithm(algorithm), key_id, key_version, descriptor)
        return cls(_TOKEN, "app", secret, header, descriptor.derive(secret))

    # -- hygiene ---------------------------------------------------------------------------

    def __repr__(self) -> str:
        return f"FieldKey(key_id={self.key_id!r}, key_version={self.key_version}, <redacted>)"

    def __reduce__(self) -> NoReturn:
        raise TypeError("field keys cannot be pickled or copied")

    def __copy__(self) -> NoReturn:
        raise TypeError("field keys cannot be pickled or copied")

    def __deepcopy__(self, memo: object) -> NoReturn:
        raise TypeError("field keys cannot be pickled or copied")

    @property
    def algorithm(self) -> str:
        """The algorithm new values are sealed with."""
        return self._sealer.header.alg.label

    # -- seal and open ---------------------------------------------------------------------

    def seal(self, value: str, context: ContextLike) -> str:
        """Seal the text ``value`` for ``context``; the compact form (``srf1.``...)."""
        if not isinstance(value, str):
            raise FieldError("seal takes text; use seal_bytes for bytes")
        try:
            data = value.encode("utf-8")
        except UnicodeEncodeError:
            raise FieldError("the value must be valid Unicode text") from None
        return self._sealer.seal(data, Context.of(context))

    def seal_bytes(self, value: bytes, context: ContextLike) -> str:
        """Seal the bytes ``value`` for ``context``; the compact form."""
        return self._sealer.seal(value, Context.of(context))

    def seal_binary(self, value: bytes, context: ContextLike) -> bytes:
        """Seal the bytes ``value`` for ``context``; the binary form (for BLOB columns)."""
        if type(value) is bytes and type(context) is Context and len(value) <= f.MAX_PLAINTEXT:
            # The hot path: no conversion needed, so one nonce, one AEAD call, one join.
            head = self._head
            bound = context._bound
            aad = bound[1] if bound[0] is head else context.bind(head)
            nonce = _urandom(12)
            return head + nonce + self._encrypt(nonce, value, aad)
        ctx = context if type(context) is Context else Context.of(context)
        if type(value) is not bytes or len(value) > f.MAX_PLAINTEXT:
            raise FieldError(f"a field value must be bytes, at most {f.MAX_PLAINTEXT} bytes")
        return self.seal_binary(value, ctx)

    def seal_json(self, value: str, context: ContextLike) -> dict[str, Any]:
        """Seal the text ``value`` for ``context``; the JSON form (a dict)."""
        return f.parse_compact(self.seal(value, context)).to_json()

    def open(self, sealed: SealedLike, context: ContextLike) -> str:
        """The text sealed in ``sealed`` (any form); `DecryptionError` on any failure."""
        try:
            return self.open_bytes(sealed, context).decode("utf-8")
        except UnicodeDecodeError:
            raise DecryptionError() from None

    def open_bytes(self, sealed: SealedLike, context: ContextLike) -> bytes:
        """The bytes sealed in ``sealed`` (any form); `DecryptionError` on any failure."""
        head, max_len, head_at, nonce_at, body_at, decrypt = self._opener
        if (
            type(sealed) is bytes
            and type(context) is Context
            and len(sealed) <= max_len
            and sealed[head_at] == head
        ):
            # The hot path: this handle's own header, so its own AEAD object, inlined, and
            # the three parts cut with slices made once. A value too short leaves a short
            # nonce or tag, which the AEAD refuses.
            bound = context._bound
            aad = bound[1] if bound[0] is head else context.bind(head)
            try:
                return decrypt(sealed[nonce_at], sealed[body_at], aad)
            except Exception:  # InvalidTag or ValueError (short nonce): the types are checked
                raise DecryptionError() from None
        try:
            ctx = context if type(context) is Context else Context.of(context)
        except FieldError:
            raise DecryptionError() from None
        if isinstance(sealed, str):
            try:
                return self._sealer.open(sealed, ctx)
            except DecryptionError:
                pass  # another header (salt, algorithm) of this key: parse and look it up
        parsed = f.parse(sealed)
        return self._cipher_for(parsed).open_bytes(parsed.to_bytes(), ctx)

    def _cipher_for(self, sealed: f.Sealed) -> f.FieldCipher:
        cipher = self._cache.get(sealed.header_bytes)
        if cipher is not None:
            return cipher
        header = sealed.header
        if (
            header.key_id != self.key_id
            or header.key_version != self.key_version
            or not isinstance(header.kdf, _KIND_KDF[self._kind])
        ):
            raise DecryptionError()
        try:
            cipher = f.FieldCipher(header.kdf.derive(self._secret), header)
        except FieldError:
            raise DecryptionError() from None
        self._cache[sealed.header_bytes] = cipher
        if len(self._cache) > _CACHE_SIZE:
            # Keep the handle's own sealing cipher; drop the oldest other entry.
            oldest = next(k for k in self._cache if k != self._sealer.header_bytes)
            del self._cache[oldest]
        return cipher

    def opens(self, sealed: SealedLike) -> bool:
        """True if ``sealed`` names this handle's key id and version (nothing is decrypted)."""
        try:
            header = f.parse(sealed).header
        except DecryptionError:
            return False
        return header.key_id == self.key_id and header.key_version == self.key_version

    # -- many values -----------------------------------------------------------------------

    def seal_many(self, items: Iterable[tuple[str, ContextLike]]) -> list[str]:
        """Seal each ``(value, context)``; all or nothing (`FieldError` seals none)."""
        return [self.seal(value, context) for value, context in items]

    def open_many(self, items: Iterable[tuple[SealedLike, ContextLike]]) -> list[str]:
        """Open each ``(sealed, context)``; one failure raises `DecryptionError`."""
        return [self.open(sealed, context) for sealed, context in items]

    def seal_record(
        self, record: Mapping[str, Any], fields: Sequence[str], *, app: str, record_id: str
    ) -> dict[str, Any]:
        """A copy of ``record`` with each of ``fields`` sealed for (app, record_id, field).

        Fields that are absent or None are left as they are; any other non-text value is
        a `FieldError` (serialise it first). The original record is not changed.
        """
        out = dict(record)
        for name in _field_names(fields):
            value = out.get(name)
            if value is None:
                continue
            if not isinstance(value, str):
                raise FieldError("only text fields can be sealed; serialise other values first")
            out[name] = self.seal(value, Context(app, record_id, name))
        return out

    def open_record(
        self, record: Mapping[str, Any], fields: Sequence[str], *, app: str, record_id: str
    ) -> dict[str, Any]:
        """A copy of ``record`` with each of ``fields`` opened; the inverse of `seal_record`."""
        out = dict(record)
        for name in _field_names(fields):
            value = out.get(name)
            if value is not None:
                out[name] = self.open(value, Context(app, record_id, name))
        return out


def _field_names(fields: Sequence[str]) -> list[str]:
    if isinstance(fields, str) or not all(isinstance(n, str) for n in fields):
        raise FieldError("fields must be a list of field names")
    return list(dict.fromkeys(fields))


class KeySet:
    """Several handles for rotation: seals with the first, opens with whichever matches.

    ``KeySet([new, old]).rotate(sealed, context)`` re-seals a value under the new key on
    the client; the plaintext never leaves it.
    """

    __slots__ = ("_keys",)

    def __init__(self, keys: Sequence[FieldKey]) -> None:
        if not keys or not all(isinstance(k, FieldKey) for k in keys):
            raise FieldError("a KeySet needs at least one FieldKey")
        self._keys = tuple(keys)

    def __repr__(self) -> str:
        names = ", ".join(f"{k.key_id}@{k.key_version}" for k in self._keys)
        return f"KeySet([{names}])"

    def __reduce__(self) -> NoReturn:
        raise TypeError("key sets cannot be pickled or copied")

    @property
    def primary(self) -> FieldKey:
        """The key new values are sealed with."""
        return self._keys[0]

    def seal(self, value: str, context: ContextLike) -> str:
        """Seal with the primary key."""
        return self._keys[0].seal(value, context)

    def open(self, sealed: SealedLike, context: ContextLike) -> str:
        """Open with the key the value names; `DecryptionError` if none opens it."""
        return self._key_for(sealed).open(sealed, context)

    def open_bytes(self, sealed: SealedLike, context: ContextLike) -> bytes:
        """Open bytes with the key the value names; `DecryptionError` if none opens it."""
        return self._key_for(sealed).open_bytes(sealed, context)

    def _key_for(self, sealed: SealedLike) -> FieldKey:
        for key in self._keys:
            if key.opens(sealed):
                return key
        raise DecryptionError()

    def rotate(self, sealed: SealedLike, context: ContextLike) -> str:
        """``sealed`` re-sealed under the primary key (unchanged bytes if already there)."""
        return rewrap(sealed, context, old=self._key_for(sealed), new=self._keys[0])


def rewrap(sealed: SealedLike, context: ContextLike, *, old: FieldKey, new: FieldKey) -> str:
    """Open ``sealed`` with ``old`` and seal it with ``new`` for the same context.

    Runs on the client: the server stores the new value and never sees the plaintext.
    `DecryptionError` if ``old`` cannot open it.
    """
    return new.seal_bytes(old.open_bytes(sealed, context), context)


def open_legacy(
    record: Mapping[str, Any],
    passphrase: str,
    *,
    iterations: int = legacy_fields.LEGACY_DEFAULT_ITERATIONS,
) -> str:
    """The text of a legacy ``{"ct", "iv", "salt"}`` record (see `docs/format.md`).

    `DecryptionError` on every failure (shape, base64, sizes, bounds, passphrase, tag).
    """
    if not isinstance(passphrase, str):
        raise DecryptionError()
    data = legacy_fields.open_legacy(record, passphrase.encode("utf-8"), iterations=iterations)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise DecryptionError() from None


def upgrade_legacy(
    record: Mapping[str, Any],
    passphrase: str,
    *,
    key: FieldKey,
    context: ContextLike,
    iterations: int = legacy_fields.LEGACY_DEFAULT_ITERATIONS,
) -> str:
    """A legacy record re-sealed under ``key`` for ``context`` (the compact form)."""
    return key.seal(open_legacy(record, passphrase, iterations=iterations), context)


def open_with_passphrase(sealed: SealedLike, passphrase: str, context: ContextLike) -> str:
    """Open a value sealed under a passphrase, whatever its key id, version, salt or KDF.

    For tools that hold only the passphrase (the CLI). The header's KDF parameters are
    bounded (see `docs/format.md`), so a hostile header cannot make this slow.
    `DecryptionError` on any failure, including a value not sealed under a passphrase.
    """
    parsed = f.parse(sealed)
    if not isinstance(passphrase, str) or not isinstance(
        parsed.header.kdf, _KIND_KDF["passphrase"]
    ):
        raise DecryptionError()
    try:
        ctx = Context.of(context)
        key = parsed.header.kdf.derive(passphrase.encode("utf-8"))
        data = f.FieldCipher(key, parsed.header).open_bytes(parsed.to_bytes(), ctx)
        return data.decode("utf-8")
    except (FieldError, UnicodeError):
        raise DecryptionError() from None


def is_legacy(value: object) -> bool:
    """True if ``value`` has the shape of a legacy record (exactly ct, iv and salt)."""
    return legacy_fields.is_legacy(value)
