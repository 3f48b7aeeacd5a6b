"""Audit events: what is recorded, and how it becomes a Merkle leaf.

An event names the actor, the action, the resource, the outcome, the request id and the
time, plus a small ``detail`` of identifiers (key versions, token ids, scope names).
Never a secret value, a plaintext, a token or a share: the services building events pass
identifiers only, and `Detail` refuses values that are not plain scalars or lists of them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from json import encoder as _json_encoder
from json.encoder import encode_basestring
from typing import Any, Literal

from strongroom.clock import rfc3339
from strongroom.crypto.canonical import canonical_json, plain

Outcome = Literal["success", "denied", "error"]
Detail = dict[str, str | int | bool | list[str] | None]
MAX_DETAIL_BYTES = 4096
#: Column limits of the audit table; longer caller-supplied text is cut to fit.
LIMITS = {"request_id": 64, "actor": 256, "action": 128, "resource": 512}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# The standard encoder as `plain_json` configures it, built once (appends are hot).
_PLAIN = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _refuse(value: object) -> object:
    raise TypeError(f"cannot encode {type(value).__name__}")


def _plain_encoder() -> Callable[[Detail], str]:
    """`_PLAIN.encode` for a dict, calling CPython's C encoder directly when it has one.

    `JSONEncoder.encode` rebuilds that encoder on every call; building it once saves
    about half the cost. Checked against `_PLAIN` before use; without it, `_PLAIN`. It
    skips the circular-reference check: it only sees details `plain` accepted, and
    `plain` cannot accept a cycle.
    """
    make = getattr(_json_encoder, "c_make_encoder", None)
    if make is not None:
        try:
            one_shot = make(None, _refuse, encode_basestring, None, ":", ",", True, False, True)
            sample: Detail = {"b": ["\u00e9", "\x7f"], "a": 1, "c": None, "d": True}

            def encode(detail: Detail) -> str:
                return "".join(one_shot(detail, 0))

            if encode(sample) == _PLAIN.encode(sample):
                return encode
        except (TypeError, ValueError):
            pass
    return _PLAIN.encode


_encode_detail = _plain_encoder()
_MAX_SAFE_INT = 2**53 - 1
# An event's members in sorted order (what `plain_json` of `AuditRecord.as_json` gives).
_ENTRY = (
    '{"action":%s,"actor":%s,"detail":%s,"outcome":%s,"request_id":%s,"resource":%s,"time":"%s"}'
)
# Below this many microseconds (the year 2041) a timestamp's float conversion in
# `rfc3339` is exact to well under half a microsecond, so integer arithmetic agrees.
_FAST_TIME_LIMIT = 1 << 51
# The last second formatted, and its text; one tuple, so threads see a consistent pair.
_last_second: list[tuple[int, str]] = [(-1, "")]


def _plain_detail(detail: Detail) -> bool:
    """`plain` for the usual detail (ASCII keys; strings, safe ints, booleans, None and
    lists of strings) without recursion; anything else is left to `plain` itself."""
    for key, value in detail.items():
        if type(key) is not str or not key.isascii():
            return plain(detail)
        kind = type(value)
        if kind is str or kind is bool or value is None:
            continue
        if kind is int:
            if -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT:  # type: ignore[operator]
                continue
            return False
        if kind is list:
            for item in value:  # type: ignore[union-attr]
                if type(item) is not str:
                    return plain(detail)
            continue
        return plain(detail)
    return True


def _time_text(time_us: int) -> str:
    """`rfc3339` of ``time_us``, formatting each second once (events come many a second)."""
    if not 0 <= time_us < _FAST_TIME_LIMIT:
        return rfc3339(time_us)
    seconds, micros = divmod(time_us, 1_000_000)
    cached_second, prefix = _last_second[0]
    if cached_second != seconds:
        prefix = rfc3339(seconds * 1_000_000)[:19]  # YYYY-MM-DDTHH:MM:SS
        _last_second[0] = (seconds, prefix)
    return f"{prefix}.{micros:06d}Z"


def bounded(text: str, limit: int) -> str:
    """``text`` made safe to store: control characters and unpaired surrogates replaced,
    and cut to ``limit`` characters (the cut marked with an ellipsis)."""
    if len(text) <= limit and text.isascii() and text.isprintable():
        return text  # the usual case: nothing to replace or cut
    clean = _CONTROL.sub("\ufffd", text.encode("utf-8", "replace").decode("utf-8"))
    return clean if len(clean) <= limit else clean[: limit - 1] + "\u2026"


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """An event before it has a sequence number."""

    time_us: int
    request_id: str
    actor: str
    action: str
    resource: str
    outcome: Outcome
    detail: Detail = field(default_factory=dict)
    # The canonical entry and the detail's column text, computed once (`entry_bytes`).
    # Slots, not an instance dict: an event is built and encoded on every audited request.
    _entry: bytes | None = field(default=None, init=False, repr=False, compare=False)
    _detail_json: str | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Requests choose paths, actors and ids: an event must fit its columns whatever
        # they sent, or one caller's odd request could fail everyone's audit batch.
        for name, limit in LIMITS.items():
            object.__setattr__(self, name, bounded(getattr(self, name), limit))

    def as_json(self) -> dict[str, Any]:
        return {
            "time": rfc3339(self.time_us),
            "request_id": self.request_id,
            "actor": self.actor,
            "action": self.action,
            "resource": self.resource,
            "outcome": self.outcome,
            "detail": self.detail,
        }

    def entry_bytes(self) -> bytes:
        """The canonical bytes that become this event's Merkle leaf (computed once).

        `ValueError` or `TypeError` if the detail cannot be encoded.
        """
        entry = self._entry
        return entry if entry is not None else self._encode()[0]

    def detail_json(self) -> str:
        """The detail as stored in its column (ASCII JSON, sorted keys); `ValueError` if
        it is over `MAX_DETAIL_BYTES`."""
        cached = self._detail_json
        return cached if cached is not None else self._encode()[1]

    def _encode(self) -> tuple[bytes, str]:
        detail_text: str | None = None
        if _plain_detail(self.detail):
            # For a plain detail `plain_json(self.as_json())` is canonical; this builds
            # the same text field by field (keys in sorted order, the same string escapes)
            # and keeps the detail's text for its column.
            detail_text = _encode_detail(self.detail)
            q = encode_basestring
            entry = (
                _ENTRY
                % (
                    q(self.action),
                    q(self.actor),
                    detail_text,
                    q(self.outcome),
                    q(self.request_id),
                    q(self.resource),
                    _time_text(self.time_us),
                )
            ).encode()
        else:
            entry = canonical_json(self.as_json())
        # The column holds ASCII JSON; text that is ASCII without DEL (which the ASCII
        # encoder escapes) is already exactly that.
        if detail_text is None or not detail_text.isascii() or "\x7f" in detail_text:
            detail_text = json.dumps(self.detail, sort_keys=True, separators=(",", ":"))
        if len(detail_text) > MAX_DETAIL_BYTES:  # ASCII: characters are bytes
            raise ValueError("audit detail too large")
        object.__setattr__(self, "_detail_json", detail_text)
        object.__setattr__(self, "_entry", entry)
        return entry, detail_text
