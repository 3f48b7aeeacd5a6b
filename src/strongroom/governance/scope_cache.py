"""A bounded-staleness cache of the scopes each app's signed manifest approves.

Token exchange asks for an app's approved scopes on every request; reading the store and
verifying the DSSE signature each time costs more than the rest of an exchange. This cache
keeps, per app, what the last read found: whether governance knows the app, its approved
submission's id, a fingerprint of the signed envelope and of the trusted keys, and the
scopes that envelope verified to.

Contract:

- An entry is served for at most ``refresh_seconds`` after it was read; then the next
  lookup reads the store again. A change made on another replica (an approval, a denial,
  a new submission, a tampered row) is therefore seen within ``refresh_seconds`` plus one
  read. A change made through this node's `Submissions` or `Reviews` drops the app's
  entry once it commits, so it applies to the very next exchange here.
- Scopes come only from an envelope that verified: a re-read reuses the cached scopes only
  when the approved submission id, the exact envelope text and the trusted key versions
  are all unchanged; otherwise the envelope is verified again, and one that fails raises
  `EnvelopeError` (nothing is cached for it, so a tampered row never yields scopes).
- A read that started before an invalidation never stores its (possibly older) answer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class Governed:
    """What one read of the store found for an app.

    ``scopes`` is None when governance does not know the app. ``fingerprint`` names what
    the scopes were verified from (submission id, envelope digest, trusted key versions);
    None when there is nothing to verify.
    """

    scopes: frozenset[str] | None
    fingerprint: tuple[object, ...] | None = None


@dataclass(frozen=True)
class _Entry:
    governed: Governed
    loaded: float


#: Reads an app's state; given the previous answer so an unchanged envelope is not
#: verified again. Raises `EnvelopeError` for an envelope that does not verify.
Loader = Callable[[str, Governed | None], Governed]


class ScopeCache:
    """Per-app `Governed` answers with bounded staleness; see the module docstring."""

    def __init__(self, refresh_seconds: float) -> None:
        self.refresh_seconds = refresh_seconds
        self._entries: dict[str, _Entry] = {}
        self._generation = 0
        self._lock = threading.Lock()

    def get(self, name: str, load: Loader) -> frozenset[str] | None:
        """The app's approved scopes (None if governance does not know it)."""
        entry = self._entries.get(name)
        now = time.monotonic()
        if entry is not None and now - entry.loaded < self.refresh_seconds:
            return entry.governed.scopes
        generation = self._generation
        governed = load(name, entry.governed if entry is not None else None)
        with self._lock:
            if generation == self._generation:
                if len(self._entries) >= MAX_ENTRIES:
                    self._entries.clear()
                self._entries[name] = _Entry(governed, now)
        return governed.scopes

    def fresh(self, name: str) -> bool:
        """Whether `get` would answer from memory now (no load from the store)."""
        entry = self._entries.get(name)
        return entry is not None and time.monotonic() - entry.loaded < self.refresh_seconds

    def forget(self, name: str) -> None:
        """Drop the app's entry (after a change to its governance state commits)."""
        with self._lock:
            self._generation += 1
            self._entries.pop(name, None)

    def clear(self) -> None:
        """Drop every entry (e.g. when the keyring is sealed)."""
        with self._lock:
            self._generation += 1
            self._entries.clear()
