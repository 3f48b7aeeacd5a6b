"""Audit events: what is recorded, and how it becomes a Merkle leaf.

An event names the actor, the action, the resource, the outcome, the request id and the
time, plus a small ``detail`` of identifiers (key versions, token ids, scope names).
Never a secret value, a plaintext, a token or a share: the services building events pass
identifiers only, and `Detail` refuses values that are not plain scalars or lists of them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from strongroom.clock import rfc3339
from strongroom.crypto.canonical import canonical_json, plain, plain_json

Outcome = Literal["success", "denied", "error"]
Detail = dict[str, str | int | bool | list[str] | None]
MAX_DETAIL_BYTES = 4096
#: Column limits of the audit table; longer caller-supplied text is cut to fit.
LIMITS = {"request_id": 64, "actor": 256, "action": 128, "resource": 512}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def bounded(text: str, limit: int) -> str:
    """``text`` made safe to store: control characters and unpaired surrogates replaced,
    and cut to ``limit`` characters (the cut marked with an ellipsis)."""
    clean = _CONTROL.sub("\ufffd", text.encode("utf-8", "replace").decode("utf-8"))
    return clean if len(clean) <= limit else clean[: limit - 1] + "\u2026"


@dataclass(frozen=True)
class AuditRecord:
    """An event before it has a sequence number."""

    time_us: int
    request_id: str
    actor: str
    action: str
    resource: str
    outcome: Outcome
    detail: Detail = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Requests choose paths, actors and ids: an event must fit its columns whatever
        # they sent, or one caller's odd request could fail everyone's audit batch.
        for name, limit in LIMITS.items():
            object.__setattr__(self, name, bounded(getattr(self, name), limit))
        object.__setattr__(self, "_entry", None)

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
        """The canonical bytes that become this event's Merkle leaf (computed once)."""
        entry: bytes | None = self.__dict__["_entry"]
        if entry is None:
            # Every field but the detail is a bounded string under an ASCII key, so
            # checking the detail is enough to take the fast canonical path.
            doc = self.as_json()
            entry = plain_json(doc) if plain(self.detail) else canonical_json(doc)
            object.__setattr__(self, "_entry", entry)
        return entry

    def detail_json(self) -> str:
        cached: str | None = self.__dict__.get("_detail_json")
        if cached is not None:
            return cached
        text = json.dumps(self.detail, sort_keys=True, separators=(",", ":"))
        if len(text.encode()) > MAX_DETAIL_BYTES:
            raise ValueError("audit detail too large")
        object.__setattr__(self, "_detail_json", text)
        return text
