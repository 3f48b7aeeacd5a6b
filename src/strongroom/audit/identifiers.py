"""Sensitive identifiers in the audit trail: HMAC-SHA256 under the keyring's audit key.

A user's subject (often an e-mail address) is recorded as ``hmac-sha256:<hex>``, as Vault
records its sensitive fields. An administrator who knows a value computes its HMACs
(one per key version, since the key rotates) to search for it; the trail itself never
holds the value.
"""

from __future__ import annotations

import hashlib
import hmac

from strongroom.kms.keyring import Keyring

PREFIX = "hmac-sha256:"
PURPOSE = "audit-hmac"


def _digest(key: bytes, value: str) -> str:
    return PREFIX + hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


#: HMACs already computed, by keyring generation and value: every request of a caller
#: names it the same way, and an HMAC costs more than the rest of naming it. Bounded;
#: a keyring that loads new versions (a rotated audit key) has a new generation.
_HIDDEN: dict[tuple[int, str], str] = {}
_HIDDEN_MAX = 8192


def hide(keyring: Keyring, value: str) -> str:
    """The HMAC of ``value`` under the current audit key, as events record it."""
    key = (keyring.generation, value)
    found = _HIDDEN.get(key)
    if found is None:
        found = _digest(keyring.current(PURPOSE).material, value)  # SealedError once wiped
        if len(_HIDDEN) >= _HIDDEN_MAX:
            _HIDDEN.clear()
        _HIDDEN[key] = found
    return found


def forget() -> None:
    """Drop the HMACs computed so far (on seal: a sealed process keeps no derived values)."""
    _HIDDEN.clear()


def candidates(keyring: Keyring, value: str) -> list[str]:
    """Every form ``value`` may have in the trail: its HMAC under each key version,
    newest first."""
    return [_digest(v.material, value) for v in reversed(keyring.versions(PURPOSE))]
