"""The keyring: versioned keys per purpose, each wrapped under a key derived from the root.

A purpose names what a key is for and fixes its algorithm. Rotation adds a version; the
newest is used to seal or sign, every version still opens or verifies. Key material lives
in memory only while the server is unsealed, inside `KeyVersion` objects whose repr hides
it and which refuse to be pickled.

Each wrapped key binds its purpose, version and algorithm as associated data, so a row
edited in the database to claim another purpose or version fails to open.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from strongroom.clock import Clock
from strongroom.crypto import aead
from strongroom.crypto.kdf import hkdf_sha256
from strongroom.errors import (
    ConflictError,
    DecryptionError,
    NotFoundError,
    SealedError,
    StrongroomError,
)
from strongroom.store.models import KeyringKey
from strongroom.store.repositories import keyring as repo

_WRAP_INFO = b"strongroom/keyring-wrap/v1"
_WRAP_KEY_BYTES = 32


def _ed25519_raw() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        Encoding.Raw, PrivateFormat.Raw, NoEncryption()
    )


@dataclass(frozen=True)
class Purpose:
    """What a key is for, and how to make one."""

    name: str
    algorithm: str
    generate: Callable[[], bytes] = field(repr=False)
    description: str = ""


#: The purposes every keyring holds from init on, by name.
PURPOSES: Mapping[str, Purpose] = {
    p.name: p
    for p in (
        Purpose("barrier", "aes-256-gcm", aead.generate_key, "seals stored values"),
        Purpose("token-signing", "ed25519", _ed25519_raw, "signs access tokens"),
        Purpose("audit-hmac", "hmac-sha256", lambda: os.urandom(32), "hides identifiers"),
        Purpose("audit-signing", "ed25519", _ed25519_raw, "signs audit checkpoints"),
        Purpose("tokenize", "aes-256-gcm", aead.generate_key, "wraps tokenization region keys"),
        Purpose("manifest-signing", "ed25519", _ed25519_raw, "signs approved app manifests"),
        Purpose("oauth-hmac", "hmac-sha256", lambda: os.urandom(32), "client secrets, nonces"),
        Purpose("escrow", "x25519-hkdf", lambda: os.urandom(32), "derives apps' escrow keys"),
        Purpose("field-app-keys", "hkdf-sha256", lambda: os.urandom(32), "derives app field keys"),
    )
}


#: Keyring generations (`Keyring.generation`), unique within the process.
_GENERATIONS = itertools.count(1)


def purpose(name: str) -> Purpose:
    """Look a purpose up by name; `NotFoundError` names the known ones."""
    try:
        return PURPOSES[name]
    except KeyError:
        known = ", ".join(sorted(PURPOSES))
        raise NotFoundError(f"unknown key purpose; known purposes: {known}") from None


@dataclass(frozen=True)
class KeyVersion:
    """One unwrapped key version. The material never shows in a repr and cannot pickle."""

    purpose: str
    version: int
    algorithm: str
    created_us: int
    material: bytes = field(repr=False)

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("key material cannot be pickled")


@dataclass(frozen=True)
class KeyInfo:
    """What may be shown about a key version: never the material."""

    purpose: str
    version: int
    algorithm: str
    created_us: int
    current: bool


def _aad(purpose_name: str, version: int, algorithm: str) -> bytes:
    return b"\x00".join(
        [b"strongroom/keyring/v1", purpose_name.encode(), str(version).encode(), algorithm.encode()]
    )


class Keyring:
    """The unsealed keyring of one server. Thread-safe."""

    def __init__(self, root_key: bytes) -> None:
        self._wrap_key = hkdf_sha256(root_key, info=_WRAP_INFO)
        self._keys: dict[str, dict[int, KeyVersion]] = {}
        self._fingerprint: tuple[int, int] = (0, 0)
        self._lock = threading.Lock()
        self._wiped = False
        self._generation = next(_GENERATIONS)

    @property
    def generation(self) -> int:
        """Changes whenever the versions held change (a load, a wipe); never the same for
        two keyrings of one process. Caches of what the versions give check it."""
        return self._generation

    def handover(self) -> bytes:
        """The key this keyring unwraps its versions with, for another process of the
        same server (`from_handover`): the workers of a server with ``workers`` above 1
        get it from their supervisor over a private socket when it is unsealed. Whoever
        holds it can open every key version in the store, as the root key can."""
        with self._lock:
            self._check_open()
            return self._wrap_key

    @classmethod
    def from_handover(cls, wrap_key: bytes) -> Keyring:
        """A keyring for the key `handover` gave; `load` it (a wrong key fails there)."""
        if len(wrap_key) != _WRAP_KEY_BYTES:
            raise DecryptionError("the handed-over key has the wrong length")
        keyring = cls(b"")
        keyring._wrap_key = wrap_key
        return keyring

    def wipe(self) -> None:
        """Forget every key; later use raises `SealedError`.

        Python cannot overwrite immutable bytes in place, so this drops the references
        and leaves the memory to the allocator; the process must not be trusted with
        keys it no longer needs beyond that.
        """
        with self._lock:
            self._keys = {}
            self._wrap_key = b""
            self._wiped = True
            self._generation = next(_GENERATIONS)

    def _check_open(self) -> None:
        if self._wiped:
            raise SealedError("the server is sealed; unseal it first")

    def __repr__(self) -> str:
        return f"Keyring(purposes={sorted(self._keys)})"

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("the keyring cannot be pickled")

    def load(self, session: Session) -> None:
        """(Re)load every version from the store; `DecryptionError` if one fails to open."""
        self._check_open()
        rows = repo.all_keys(session)
        loaded: dict[str, dict[int, KeyVersion]] = {}
        for row in rows:
            material = aead.decrypt(
                self._wrap_key, row.wrapped, _aad(row.purpose, row.version, row.algorithm)
            )
            loaded.setdefault(row.purpose, {})[row.version] = KeyVersion(
                row.purpose, row.version, row.algorithm, row.created_us, material
            )
        with self._lock:
            self._keys = loaded
            self._fingerprint = repo.fingerprint(session)
            self._generation = next(_GENERATIONS)

    def refresh_if_changed(self, session: Session) -> bool:
        """Reload when another replica has added versions; True if anything changed."""
        if repo.fingerprint(session) == self._fingerprint:
            return False
        self.load(session)
        return True

    def create_initial(self, session: Session, clock: Clock) -> None:
        """Write version 1 of every purpose; used once, at init."""
        for name in PURPOSES:
            self._write_version(session, PURPOSES[name], 1, clock)
        self.load(session)

    def missing_purposes(self) -> list[str]:
        """Purposes this keyring has no version of (added by an upgrade)."""
        with self._lock:
            self._check_open()
            return [name for name in PURPOSES if name not in self._keys]

    def add_missing(self, session: Session, clock: Clock) -> list[str]:
        """Create version 1 of every purpose the store lacks; returns their names."""
        self._check_open()
        self.load(session)
        added = []
        for name in self.missing_purposes():
            try:
                self._write_version(session, PURPOSES[name], 1, clock)
            except IntegrityError:
                raise ConflictError("another replica is adding keys; retry") from None
            added.append(name)
        # Not loaded here: the caller reloads once the transaction has committed.
        return added

    def rotate(self, session: Session, purpose_name: str, clock: Clock) -> KeyInfo:
        """Write a new version of ``purpose_name``, current once committed.

        The keyring in memory is not changed: if the transaction rolls back, no version
        that the store lacks may have sealed anything. The caller reloads after commit.
        """
        self._check_open()
        spec = purpose(purpose_name)
        version = repo.latest_version(session, spec.name) + 1
        try:
            created = self._write_version(session, spec, version, clock)
        except IntegrityError:
            raise ConflictError("another rotation of this key is under way; retry") from None
        return KeyInfo(spec.name, version, spec.algorithm, created, current=True)

    def _write_version(self, session: Session, spec: Purpose, version: int, clock: Clock) -> int:
        material = spec.generate()
        wrapped = aead.encrypt(
            self._wrap_key, material, _aad(spec.name, version, spec.algorithm), key_version=0
        )
        created = clock.now_us()
        repo.add(
            session,
            KeyringKey(
                purpose=spec.name,
                version=version,
                algorithm=spec.algorithm,
                created_us=created,
                wrapped=wrapped,
            ),
        )
        return created

    def current(self, purpose_name: str) -> KeyVersion:
        """The newest version of a purpose: the one to seal or sign with."""
        with self._lock:
            self._check_open()
            versions = self._keys.get(purpose_name)
            if not versions:
                raise StrongroomError("keyring has no key for this purpose")
            return versions[max(versions)]

    def get(self, purpose_name: str, version: int) -> KeyVersion:
        """A given version; `DecryptionError` if the keyring has none such."""
        with self._lock:
            self._check_open()
            found = self._keys.get(purpose_name, {}).get(version)
        if found is None:
            raise DecryptionError()
        return found

    def versions(self, purpose_name: str) -> list[KeyVersion]:
        with self._lock:
            self._check_open()
            return [v for _, v in sorted(self._keys.get(purpose_name, {}).items())]

    def describe(self) -> list[KeyInfo]:
        """Metadata of every version, oldest first within each purpose."""
        with self._lock:
            self._check_open()
            keys = {p: dict(vs) for p, vs in self._keys.items()}
        return [self._info(v, keys) for p in sorted(keys) for _, v in sorted(keys[p].items())]

    def _info(
        self, key: KeyVersion, keys: dict[str, dict[int, KeyVersion]] | None = None
    ) -> KeyInfo:
        versions = (keys or self._keys)[key.purpose]
        return KeyInfo(
            key.purpose, key.version, key.algorithm, key.created_us, key.version == max(versions)
        )
