"""Per-app keys: each app's secrets are sealed under a key of its own.

An app key is a random AES-256 key, stored wrapped by the barrier (whose path binds the
app and key version), one row per app and version. Deleting an app's key rows makes its
secrets unrecoverable (crypto-shredding). Unwrapped keys are cached in memory while the
server stays unsealed: the cache belongs to one open keyring and is dropped as soon as a
different keyring (after a seal and unseal) is in use.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from strongroom.clock import Clock
from strongroom.crypto import aead
from strongroom.errors import ConflictError
from strongroom.kms.barrier import Barrier
from strongroom.kms.keyring import Keyring
from strongroom.store.models import SecretAppKey
from strongroom.store.repositories import secrets as repo


def _path(app: str, version: int) -> str:
    return f"secrets/app-keys/{app}/{version}"


def value_aad(app: str, name: str, version: int) -> bytes:
    """Associated data of a secret value: it opens only as this app, name and version."""
    return b"\x00".join(
        [b"strongroom/secrets/v1", app.encode(), name.encode(), str(version).encode()]
    )


class AppKeys:
    """Creates, unwraps and caches app keys. Thread-safe."""

    def __init__(self, keyring: Callable[[], Keyring], clock: Clock) -> None:
        self._keyring = keyring
        self._clock = clock
        self._lock = threading.Lock()
        self._owner: Keyring | None = None
        self._cache: dict[tuple[str, int], bytes] = {}

    def _barrier(self) -> tuple[Keyring, Barrier]:
        keyring = self._keyring()  # SealedError while sealed: nothing opens then
        return keyring, Barrier(keyring, self._clock)

    def unwrap(self, app: str, version: int, wrapped: bytes) -> bytes:
        """The key ``wrapped`` holds, from the cache when this keyring opened it before."""
        keyring = self._keyring()
        with self._lock:
            if self._owner is not keyring:
                self._cache = {}
                self._owner = keyring
            found = self._cache.get((app, version))
        if found is not None:
            return found
        material = Barrier(keyring, self._clock).open(_path(app, version), wrapped)
        with self._lock:
            if self._owner is keyring:
                self._cache[(app, version)] = material
        return material

    def current(self, session: Session, app: str) -> tuple[int, bytes]:
        """The app's newest key (version, material), created on the app's first write."""
        row = repo.app_key(session, app)
        if row is not None:
            return row.version, self.unwrap(app, row.version, row.wrapped)
        _, barrier = self._barrier()
        material = aead.generate_key()
        try:
            repo.add_app_key(
                session,
                SecretAppKey(
                    app=app,
                    version=1,
                    wrapped=barrier.seal(_path(app, 1), material),
                    created_us=self._clock.now_us(),
                ),
            )
        except IntegrityError:
            raise ConflictError("another write is creating this app's key; retry") from None
        return 1, material
