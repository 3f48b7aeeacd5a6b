"""A token bucket per caller, in this process only.

Each process keeps its own buckets: behind N replicas a caller may detokenize up to N
times the configured rate. Buckets of callers idle long enough to be full are dropped
when the table grows, so memory stays bounded.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from strongroom.errors import RateLimitedError

MAX_CALLERS = 10_000


class RateLimiter:
    """``rate`` units per second per caller, up to ``burst`` at once. Thread-safe."""

    def __init__(
        self, rate: float, burst: int, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._now = monotonic
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, caller: str, units: int) -> None:
        """Spend ``units`` from the caller's bucket; `RateLimitedError` (nothing spent) if short."""
        now = self._now()
        with self._lock:
            level, then = self._buckets.get(caller, (float(self.burst), now))
            level = min(float(self.burst), level + (now - then) * self.rate)
            if units > level:
                wait = math.ceil((units - level) / self.rate) if units <= self.burst else None
                self._buckets[caller] = (level, now)
                hint = f"retry in {wait} s" if wait is not None else "split the batch"
                extra = {"retry_after": wait} if wait is not None else {}
                raise RateLimitedError(f"detokenize rate exceeded; {hint}", extra=extra)
            self._buckets[caller] = (level - units, now)
            if len(self._buckets) > MAX_CALLERS:
                self._evict(now)

    def _evict(self, now: float) -> None:
        full = [
            k
            for k, (level, then) in self._buckets.items()
            if level + (now - then) * self.rate >= self.burst
        ]
        for key in full:
            del self._buckets[key]
