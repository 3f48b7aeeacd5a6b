"""Time as a collaborator, so tests move it instead of patching it."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now_us(self) -> int:
        """Microseconds since the Unix epoch, UTC."""


class SystemClock:
    """The wall clock."""

    def now_us(self) -> int:
        return time.time_ns() // 1000


def rfc3339(time_us: int) -> str:
    """Render microseconds since the epoch as an RFC 3339 UTC timestamp."""
    moment = datetime.fromtimestamp(time_us / 1_000_000, tz=UTC)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_rfc3339(text: str) -> int:
    """Parse an RFC 3339 timestamp into microseconds since the epoch; `ValueError` if bad."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("timestamp needs a time zone")
    return int(moment.timestamp() * 1_000_000)
