"""The storage barrier: the single place stored values are sealed and opened.

Each value is sealed with the current ``barrier`` key and its storage path as associated
data, so a ciphertext copied to another path (or row) fails to open. Old key versions keep
opening what they sealed; `rewrap` moves a value onto the current version.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from strongroom.clock import Clock
from strongroom.crypto import aead
from strongroom.errors import InvalidRequestError
from strongroom.kms.keyring import Keyring
from strongroom.store.repositories import barrier as repo

PURPOSE = "barrier"
MAX_PATH = 512


def _aad(path: str) -> bytes:
    return b"strongroom/barrier/v1\x00" + path.encode("utf-8")


def _check_path(path: str) -> None:
    if not path or len(path) > MAX_PATH or path.startswith("/") or "\x00" in path:
        raise InvalidRequestError("a storage path is 1-512 characters, relative, without NUL")


class Barrier:
    """Encrypting key-value storage over the untrusted store."""

    def __init__(self, keyring: Keyring, clock: Clock) -> None:
        self._keyring = keyring
        self._clock = clock

    def seal(self, path: str, plaintext: bytes) -> bytes:
        """The ciphertext ``path`` would store for ``plaintext``."""
        _check_path(path)
        key = self._keyring.current(PURPOSE)
        return aead.encrypt(key.material, plaintext, _aad(path), key_version=key.version)

    def open(self, path: str, blob: bytes) -> bytes:
        """Open a value stored at ``path``; `DecryptionError` if it was not sealed for it."""
        key = self._keyring.get(PURPOSE, aead.key_version(blob))
        return aead.decrypt(key.material, blob, _aad(path))

    def put(self, session: Session, path: str, plaintext: bytes) -> None:
        repo.put(session, path, self.seal(path, plaintext), self._clock.now_us())

    def get(self, session: Session, path: str) -> bytes | None:
        blob = repo.get(session, path)
        return None if blob is None else self.open(path, blob)

    def delete(self, session: Session, path: str) -> bool:
        return repo.delete_path(session, path)

    def list(self, session: Session, prefix: str) -> Sequence[str]:
        return repo.list_prefix(session, prefix)

    def rewrap(self, session: Session, path: str) -> bool:
        """Re-seal the value at ``path`` under the current key; False if there is none."""
        value = self.get(session, path)
        if value is None:
            return False
        self.put(session, path, value)
        return True
