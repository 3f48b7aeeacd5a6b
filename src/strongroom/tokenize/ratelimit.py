"""Detokenize rate limits: a token bucket per caller, in this process or shared in Redis.

Both limiters have the same contract (`Limiter`): ``take(caller, units)`` spends units or
raises `RateLimitedError` (with ``retry_after`` seconds, or "split the batch" when the
batch is larger than the whole bucket) and then nothing is spent. `limiter_for` picks one
from the settings (``token_rate_limit_store``).

The in-process bucket (`RateLimiter`) is per process: behind N replicas a caller may
detokenize up to N times the configured rate (the worker processes of one server,
``workers``, split the configured rate and burst between them instead). Buckets of callers
idle long enough to be full are dropped when the table grows, so memory stays bounded. The
shared bucket (`strongroom.tokenize.ratelimit_redis.RedisRateLimiter`) gives every replica
one budget.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Protocol

from strongroom.config import Settings
from strongroom.errors import ConfigError, RateLimitedError

MAX_CALLERS = 10_000


class Limiter(Protocol):
    """Spends a caller's detokenize budget."""

    def take(self, caller: str, units: int) -> None:
        """Spend ``units``; `RateLimitedError` (nothing spent) if the caller is short."""


def refused(units: int, level: float, rate: float, burst: int) -> RateLimitedError:
    """The error for a take of ``units`` from a bucket holding ``level``: when to retry,
    or, for a batch larger than the whole bucket, to split it (waiting would not help)."""
    wait = math.ceil((units - level) / rate) if units <= burst else None
    hint = f"retry in {wait} s" if wait is not None else "split the batch"
    extra = {"retry_after": wait} if wait is not None else {}
    return RateLimitedError(f"detokenize rate exceeded; {hint}", extra=extra)


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
                self._buckets[caller] = (level, now)
                raise refused(units, level, self.rate, self.burst)
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


def limiter_for(settings: Settings) -> Limiter:
    """The detokenize limiter the settings ask for (Redis only when configured for it)."""
    rate, burst = settings.token_detokenize_rate, settings.token_detokenize_burst
    if settings.resolved_token_rate_limit_store == "redis":  # noqa: S105 - a store name
        from strongroom.tokenize.ratelimit_redis import RedisRateLimiter  # noqa: PLC0415

        if settings.redis_url is None:
            raise ConfigError("token_rate_limit_store redis needs redis_url")
        return RedisRateLimiter(settings.redis_url, rate, burst, settings.token_rate_limit_prefix)
    # Buckets in memory are per process: each of several workers takes its share, so a
    # caller spread over all of them never gets more than the configured rate and burst.
    share = settings.workers
    return RateLimiter(rate / share, max(1, burst // share))
