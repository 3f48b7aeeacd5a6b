"""Support for the alert tests (imported as ``alert_support``; not a conftest)."""

from __future__ import annotations

import time
from collections.abc import Callable

REDIS_URL = "redis://127.0.0.1:6379/0"
Received = list[tuple[dict[str, str], bytes]]
Hook = tuple[str, Received]


class StepClock:
    """Time that moves only when a test moves it (whole seconds from a fixed minute)."""

    def __init__(self, start_us: int = 1_767_225_600_000_000) -> None:  # 2026-01-01T00:00Z
        self.now = start_us

    def now_us(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * 1_000_000)


def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    """Poll until ``condition`` holds (delivery happens on the engine's threads)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
