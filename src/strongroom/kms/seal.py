"""The seal: initialise a root key split into Shamir shares, rebuild it, drop it.

The store keeps only what checks a rebuilt root key (an HKDF verifier with its salt) and
the share set's public id and threshold; never the key or a share. Each server process
starts sealed and collects shares in memory; when the threshold is reached it rebuilds
the key, checks it, opens the keyring and forgets the shares and the key.
"""

from __future__ import annotations

import hmac
import os
import threading
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from strongroom.clock import Clock
from strongroom.crypto import shamir
from strongroom.crypto.kdf import hkdf_sha256
from strongroom.errors import (
    AlreadyInitializedError,
    InvalidRequestError,
    NotInitializedError,
    SealedError,
    ShareError,
    UnsealFailedError,
)
from strongroom.kms import shares as share_codec
from strongroom.kms.keyring import Keyring
from strongroom.store.models import SealConfig
from strongroom.store.repositories import seal as repo

ROOT_KEY_BYTES = 32
MAX_SHARES = 32
_VERIFIER_INFO = b"strongroom/root-verifier/v1"


@dataclass(frozen=True)
class SealStatus:
    initialized: bool
    sealed: bool
    threshold: int
    shares: int
    progress: int


@dataclass(frozen=True)
class InitResult:
    """The printable shares, shown once. Never stored, never logged."""

    shares: list[str] = field(repr=False)
    threshold: int


def _verifier(root_key: bytes, salt: bytes) -> bytes:
    return hkdf_sha256(root_key, salt=salt, info=_VERIFIER_INFO)


class SealManager:
    """The seal state of one server process. Thread-safe."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._keyring: Keyring | None = None
        self._pending: dict[int, share_codec.Share] = {}
        self._config: SealConfig | None = None

    def _load_config(self, session: Session) -> SealConfig | None:
        # Once initialised, the config never changes: cache it.
        if self._config is None:
            self._config = repo.get(session)
            if self._config is not None:
                session.expunge(self._config)
        return self._config

    def status(self, session: Session) -> SealStatus:
        config = self._load_config(session)
        with self._lock:
            if config is None:
                return SealStatus(False, True, 0, 0, 0)
            return SealStatus(
                True, self._keyring is None, config.threshold, config.shares, len(self._pending)
            )

    @property
    def initialized(self) -> bool:
        """Whether this process has seen the seal config (set by `status` or init)."""
        return self._config is not None

    @property
    def sealed(self) -> bool:
        return self._keyring is None

    def keyring(self) -> Keyring:
        """The open keyring; `SealedError` while sealed."""
        keyring = self._keyring
        if keyring is None:
            raise SealedError("the server is sealed; unseal it first")
        return keyring

    def initialize(self, session: Session, shares: int, threshold: int) -> InitResult:
        """Create the root key and the keyring; return the shares. Leaves the server sealed."""
        if not 1 <= threshold <= shares <= MAX_SHARES:
            raise InvalidRequestError(
                f"need 1 <= threshold <= shares <= {MAX_SHARES} (got {threshold} of {shares})"
            )
        if self._load_config(session) is not None:
            raise AlreadyInitializedError("the server is already initialized")
        root_key = os.urandom(ROOT_KEY_BYTES)
        set_id = os.urandom(share_codec.SET_ID_BYTES)
        salt = os.urandom(32)
        config = SealConfig(
            provider="shamir",
            shares=shares,
            threshold=threshold,
            share_set_id=set_id,
            verifier_salt=salt,
            verifier=_verifier(root_key, salt),
            created_us=self._clock.now_us(),
        )
        repo.create(session, config)
        Keyring(root_key).create_initial(session, self._clock)
        printable = [
            share_codec.encode(share_codec.Share(set_id, threshold, x, y))
            for x, y in shamir.split(root_key, shares, threshold)
        ]
        return InitResult(shares=printable, threshold=threshold)

    def accept_share(self, session: Session, text: str) -> tuple[SealStatus, Keyring | None]:
        """Add one share. At the threshold, rebuild and check the key and return the
        opened keyring *without* installing it, so the caller can record the unseal
        durably first and then `install` it (or `discard` it if recording fails).

        A malformed share, a duplicate or one from another key raises `ShareError` and
        does not count. A complete set that does not rebuild the key raises
        `UnsealFailedError` and resets progress. The returned status is the one the
        server will have once the keyring is installed.
        """
        config = self._load_config(session)
        if config is None:
            raise NotInitializedError("the server is not initialized")
        share = share_codec.decode(text)
        if not hmac.compare_digest(share.set_id, config.share_set_id):
            raise ShareError("this key share belongs to a different root key")
        if (
            share.threshold != config.threshold
            or share.x > config.shares
            or len(share.y) != ROOT_KEY_BYTES
        ):
            raise ShareError("this key share does not fit this server's share set")
        with self._lock:
            if self._keyring is not None:
                return self._status_locked(config), None
            if share.x in self._pending:
                raise ShareError("this key share was already given; give a different one")
            self._pending[share.x] = share
            if len(self._pending) < config.threshold:
                return self._status_locked(config), None
            points = [(s.x, s.y) for s in self._pending.values()]
            self._pending = {}
        root_key = shamir.combine(points)
        if not hmac.compare_digest(_verifier(root_key, config.verifier_salt), config.verifier):
            raise UnsealFailedError(
                "the key shares do not rebuild the root key; progress was reset"
            )
        keyring = Keyring(root_key)
        del root_key
        keyring.load(session)
        return SealStatus(True, False, config.threshold, config.shares, 0), keyring

    def install(self, keyring: Keyring) -> SealStatus:
        """Make an opened keyring the server's; shares given meanwhile are forgotten."""
        with self._lock:
            config = self._config
            if config is None:
                raise NotInitializedError("the server is not initialized")
            if self._keyring is None:
                self._keyring = keyring
            else:
                keyring.wipe()
            self._pending = {}
            return self._status_locked(config)

    def adopt(self, session: Session, keyring: Keyring) -> None:
        """Install a keyring opened by another process of this server (its supervisor),
        loading it from the store first; `DecryptionError` if it does not open it."""
        if self._load_config(session) is None:
            raise NotInitializedError("the server is not initialized")
        keyring.load(session)
        self.install(keyring)

    def _status_locked(self, config: SealConfig) -> SealStatus:
        return SealStatus(
            True, self._keyring is None, config.threshold, config.shares, len(self._pending)
        )

    def reset_progress(self) -> None:
        with self._lock:
            self._pending = {}

    def seal(self) -> None:
        """Drop the keyring and any collected shares from memory.

        The keyring is wiped, not just released, so a `Barrier` or other holder of the
        old keyring object cannot use it after the seal either.
        """
        with self._lock:
            keyring, self._keyring = self._keyring, None
            self._pending = {}
        if keyring is not None:
            keyring.wipe()
