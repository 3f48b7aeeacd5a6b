"""Canonical JSON (RFC 8785, JCS) for the values Strongroom signs and hashes.

Supported: objects with string keys, arrays, strings, booleans, null and integers within
the IEEE 754 exact range (|n| <= 2**53 - 1). Floats are refused rather than risk a
serialisation that differs from another JCS implementation's.
"""

from __future__ import annotations

import json
from typing import Any

_MAX_SAFE_INT = 2**53 - 1


def canonical_json(value: Any) -> bytes:
    """Serialise ``value`` to its RFC 8785 canonical UTF-8 bytes."""
    if plain(value):
        # For these values the standard encoder's output is already canonical: same
        # escapes, and sorting by code point equals sorting by UTF-16 code units.
        return plain_json(value)
    return _encode(value).encode("utf-8")


def plain(value: Any) -> bool:
    """True if the standard JSON encoder (sorted keys, no spaces, no ASCII escaping)
    encodes ``value`` exactly as RFC 8785 does."""
    if value is None or isinstance(value, str | bool):
        return True
    if isinstance(value, int):
        return abs(value) <= _MAX_SAFE_INT
    if isinstance(value, list | tuple):
        return all(plain(v) for v in value)
    if isinstance(value, dict):
        # Below U+E000 code point order and UTF-16 order agree; above it they may not.
        return all(
            isinstance(k, str) and (k.isascii() or max(k) < "\ue000") and plain(v)
            for k, v in value.items()
        )
    return False


def _encode(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        if abs(value) > _MAX_SAFE_INT:
            raise ValueError("integer outside the JSON-safe range")
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise TypeError("object keys must be strings")
        # RFC 8785 orders members by the UTF-16 code units of their names.
        keys = sorted(value, key=lambda k: k.encode("utf-16-be"))
        return (
            "{"
            + ",".join(json.dumps(k, ensure_ascii=False) + ":" + _encode(value[k]) for k in keys)
            + "}"
        )
    raise TypeError(f"cannot canonicalise {type(value).__name__}")


def plain_json(value: Any) -> bytes:
    """The standard encoder's output; canonical only for values `plain` accepts."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
