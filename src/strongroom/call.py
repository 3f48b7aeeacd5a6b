"""Who makes a call into Strongroom, as the audit trail records it."""

from __future__ import annotations

from dataclasses import dataclass

ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Call:
    """Who makes a call and under which request id."""

    request_id: str
    actor: str = ANONYMOUS
