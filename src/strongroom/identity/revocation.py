"""Revocation state: revoked token ids and kill-switch epochs, cached with bounded staleness.

A token is dead when its ``jti`` or any id in its lineage (``lin``: the tokens and the
sign-in it was exchanged from) has been revoked, or when it was issued at or before its
user's or its app's revocation epoch. Checking is an in-memory lookup in a snapshot that
is reloaded from the store whenever it is older than ``refresh_seconds``; a revocation
made on this node updates the snapshot at once (and, on a server with several workers,
every worker's before the revoking call is answered). Another replica's revocation is therefore
seen within ``refresh_seconds`` (plus one reload). If the store cannot be read, the old
snapshot is used for at most ``3 * refresh_seconds``; after that every check fails with
`StoreError` (fail closed) until a reload succeeds.

Epochs have one-second granularity (``iat`` is in seconds): a kill switch also kills
tokens issued later in the same second.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from strongroom.clock import Clock
from strongroom.config import TOKEN_TTL_HARD_CEILING
from strongroom.errors import StoreError, StrongroomError, UnauthenticatedError
from strongroom.identity.principal import BFF_CLIENT_PREFIX, Principal
from strongroom.store.engine import Database
from strongroom.store.repositories import oauth as repo

log = logging.getLogger("strongroom.identity")
KINDS = ("user", "app")
#: How long a revoked id is remembered when its own expiry is unknown: no token lives longer.
DEFAULT_REMEMBER_SECONDS = TOKEN_TTL_HARD_CEILING + 60


@dataclass(frozen=True)
class _Snapshot:
    revoked: frozenset[str] = frozenset()
    users: dict[str, int] = field(default_factory=dict)
    apps: dict[str, int] = field(default_factory=dict)
    loaded: float = float("-inf")


class RevocationState:
    """Answers "is this token dead?" from memory; reloads from the store when stale."""

    def __init__(self, database: Database, clock: Clock, refresh_seconds: float) -> None:
        self._db = database
        self._clock = clock
        self.refresh_seconds = refresh_seconds
        self._snapshot = _Snapshot()
        self._lock = threading.Lock()
        #: Called with each revocation this process commits (`noted`); a worker of a
        #: supervised server passes it to every other worker before its caller is answered.
        self.shared: Callable[[list[str], tuple[str, str, int] | None], None] | None = None

    def reload(self) -> None:
        """Read every live revocation and epoch from the store now."""
        started = time.monotonic()
        now_us = self._clock.now_us()
        with self._db.transaction(read_only=True) as session:
            revoked = frozenset(repo.live_revocations(session, now_us))
            rows = repo.epochs(session)
        users = {name: epoch for kind, name, epoch in rows if kind == "user"}
        apps = {name: epoch for kind, name, epoch in rows if kind == "app"}
        self._snapshot = _Snapshot(revoked, users, apps, started)

    def _current(self) -> _Snapshot:
        snapshot = self._snapshot
        age = time.monotonic() - snapshot.loaded
        if age < self.refresh_seconds:
            return snapshot
        # One thread reloads; the others keep the old view while it is within bounds.
        if self._lock.acquire(blocking=age >= 3 * self.refresh_seconds):
            try:
                if time.monotonic() - self._snapshot.loaded >= self.refresh_seconds:
                    self.reload()
            except StoreError:
                if time.monotonic() - self._snapshot.loaded >= 3 * self.refresh_seconds:
                    raise
            finally:
                self._lock.release()
        return self._snapshot

    def is_dead(
        self, jti: str, lineage: Iterable[str], subject: str, client_id: str, issued_at: int
    ) -> bool:
        """Whether a token with these claims is revoked or killed."""
        snap = self._current()
        if jti in snap.revoked or any(item in snap.revoked for item in lineage):
            return True
        user_epoch = snap.users.get(subject)
        if user_epoch is not None and issued_at <= user_epoch:
            return True
        # An app's kill switch covers its BFF client (``bff:<app>``) too.
        app_epoch = snap.apps.get(client_id.removeprefix(BFF_CLIENT_PREFIX))
        return app_epoch is not None and issued_at <= app_epoch

    def check(self, principal: Principal) -> None:
        """Raise `UnauthenticatedError` if the principal's access token is dead."""
        if principal.kind != "access":
            return
        if self.is_dead(
            principal.token_id,
            principal.lineage,
            principal.subject,
            principal.client_id,
            principal.issued_at,
        ):
            raise UnauthenticatedError()

    def fresh(self) -> bool:
        """Whether `check` would answer from memory now (no reload from the store)."""
        return time.monotonic() - self._snapshot.loaded < self.refresh_seconds

    async def check_async(self, principal: Principal) -> None:
        """`check` for coroutines: from memory, or in a worker thread when a reload is due.

        The same answer as `check`, on every call: a cached token is checked here too.
        """
        if principal.kind != "access":
            return
        if time.monotonic() - self._snapshot.loaded >= self.refresh_seconds:
            await asyncio.to_thread(self.check, principal)
        else:
            self.check(principal)

    def noted(
        self, token_ids: Iterable[str] = (), epoch: tuple[str, str, int] | None = None
    ) -> None:
        """Apply a revocation this node has just committed to the snapshot at once, and
        hand it to `shared` (the other workers of this server, when there are any)."""
        ids = list(token_ids)
        self.learned(ids, epoch)
        if self.shared is not None:
            try:
                self.shared(ids, epoch)
            except StrongroomError as exc:
                # Committed all the same: the others reload it within refresh_seconds.
                log.warning("revocation not shared with the other workers: %s", exc.slug)

    def learned(
        self, token_ids: Iterable[str] = (), epoch: tuple[str, str, int] | None = None
    ) -> None:
        """Apply a revocation another process of this server committed, at once."""
        with self._lock:
            snap = self._snapshot
            users, apps = dict(snap.users), dict(snap.apps)
            if epoch is not None:
                kind, name, value = epoch
                target = users if kind == "user" else apps
                target[name] = max(value, target.get(name, value))
            self._snapshot = _Snapshot(
                snap.revoked | frozenset(token_ids), users, apps, snap.loaded
            )
