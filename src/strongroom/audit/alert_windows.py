"""Counting state of the alert rules: in this process, or shared by replicas in Redis.

Behind N replicas each process sees only its own share of the events, so a rule like
"20 refused requests by one caller in a minute" would need 20 on one replica. With
``redis_url`` set the counts live in Redis, where every replica adds to the same window;
each operation is atomic there (a Lua script for sliding windows, ``INCRBY`` for bucket
counters, ``SET NX`` to claim a firing), so an alert fires once across the replicas.

If Redis cannot be reached the engine counts in this process instead, says so
(`SharedWindows.state`), and tries Redis again after a pause: an alert rule must never
fail or stall a request, and a local count is better than none.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Literal, Protocol, TypeVar

log = logging.getLogger("strongroom.alerts")
#: Most keys (rule x subject) a process counts for; beyond it the oldest are dropped.
MAX_KEYS = 100_000
#: How long Redis remembers when a subject was first counted, after its last event.
FIRST_SEEN_SECONDS = 30 * 86_400
WindowsState = Literal["local", "shared", "fallback"]
_T = TypeVar("_T")

# KEYS[1] the window; ARGV: now (us), window (us), threshold, a unique member, ttl (ms).
# Drops what left the window, adds this event, and fires (resetting the window) when the
# count reaches the threshold: atomic, so of all replicas exactly one sees the crossing.
_SLIDE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  redis.call('DEL', KEYS[1])
  return 1
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 0
"""


class Windows(Protocol):
    """Counting state one alert engine uses; ``key`` names a rule and a subject."""

    def slide(self, key: str, now_us: int, window_us: int, threshold: int) -> bool:
        """Count one event at ``now_us``; True if it brings the events within the last
        ``window_us`` to ``threshold`` (the window then starts again, so one burst fires
        once)."""

    def add(
        self, key: str, bucket: int, amount: int, keep: int, ttl_seconds: int
    ) -> tuple[int, int]:
        """Add ``amount`` to the counter of ``bucket``; (its new total, the first bucket
        this key was ever counted in). Counters older than ``keep`` buckets, or than
        ``ttl_seconds``, may be forgotten."""

    def history(self, key: str, buckets: Sequence[int]) -> list[int]:
        """The counters of ``buckets`` (0 where nothing was counted)."""

    def claim(self, key: str, bucket: int, ttl_seconds: int) -> bool:
        """True the first time anyone claims (``key``, ``bucket``); False after."""


class LocalWindows:
    """`Windows` in this process's memory. Thread-safe; bounded to `MAX_KEYS` keys."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slides: dict[str, deque[int]] = {}
        self._buckets: dict[str, dict[int, int]] = {}
        self._first: dict[str, int] = {}
        self._claims: dict[str, int] = {}

    def slide(self, key: str, now_us: int, window_us: int, threshold: int) -> bool:
        with self._lock:
            seen = self._slides.setdefault(key, deque())
            seen.append(now_us)
            while seen and seen[0] <= now_us - window_us:
                seen.popleft()
            if len(seen) >= threshold:
                del self._slides[key]
                return True
            if len(self._slides) > MAX_KEYS:
                self._slides.clear()
            return False

    def add(
        self, key: str, bucket: int, amount: int, keep: int, ttl_seconds: int
    ) -> tuple[int, int]:
        with self._lock:
            if len(self._buckets) > MAX_KEYS:
                self._buckets.clear()
                self._first.clear()
            counters = self._buckets.setdefault(key, {})
            counters[bucket] = counters.get(bucket, 0) + amount
            first = self._first.setdefault(key, bucket)
            if len(counters) > keep + 1:
                for old in [b for b in counters if b < bucket - keep]:
                    del counters[old]
            return counters[bucket], first

    def history(self, key: str, buckets: Sequence[int]) -> list[int]:
        with self._lock:
            counters = self._buckets.get(key, {})
            return [counters.get(b, 0) for b in buckets]

    def claim(self, key: str, bucket: int, ttl_seconds: int) -> bool:
        with self._lock:
            if self._claims.get(key, bucket - 1) >= bucket:
                return False
            if len(self._claims) > MAX_KEYS:
                self._claims.clear()
            self._claims[key] = bucket
            return True


class RedisWindows:
    """`Windows` in Redis, shared by every replica using the same ``prefix``.

    Keys are ``<prefix>:<kind>:<sha256 of the key>[:<bucket>]`` (subjects are caller
    input; hashing bounds the key length) and all expire. Raises the client's errors.
    """

    def __init__(self, url: str, prefix: str, timeout_seconds: float = 0.5) -> None:
        import redis  # noqa: PLC0415 - only servers configured for Redis load the client

        self._redis = redis.Redis.from_url(
            url, socket_timeout=timeout_seconds, socket_connect_timeout=timeout_seconds
        )
        self._slide = self._redis.register_script(_SLIDE)
        self._prefix = prefix
        self.errors: tuple[type[Exception], ...] = (redis.RedisError,)

    def _key(self, kind: str, key: str) -> str:
        return f"{self._prefix}:{kind}:{hashlib.sha256(key.encode()).hexdigest()[:32]}"

    def slide(self, key: str, now_us: int, window_us: int, threshold: int) -> bool:
        member = f"{now_us}:{os.urandom(8).hex()}"
        ttl_ms = window_us // 1000 + 1000
        fired = self._slide(
            keys=[self._key("w", key)], args=[now_us, window_us, threshold, member, ttl_ms]
        )
        return bool(fired)

    def add(
        self, key: str, bucket: int, amount: int, keep: int, ttl_seconds: int
    ) -> tuple[int, int]:
        counter = f"{self._key('b', key)}:{bucket}"
        first = self._key("f", key)
        pipe = self._redis.pipeline(transaction=False)
        pipe.incrby(counter, amount)
        pipe.expire(counter, ttl_seconds)
        pipe.set(first, bucket, nx=True, ex=FIRST_SEEN_SECONDS)
        pipe.expire(first, FIRST_SEEN_SECONDS)  # forgotten only after that long idle
        pipe.get(first)
        total, _, _, _, seen = pipe.execute()
        return int(total), int(seen)

    def history(self, key: str, buckets: Sequence[int]) -> list[int]:
        if not buckets:
            return []
        base = self._key("b", key)
        values = self._redis.mget([f"{base}:{b}" for b in buckets])
        return [0 if v is None else int(v) for v in values]

    def claim(self, key: str, bucket: int, ttl_seconds: int) -> bool:
        return bool(
            self._redis.set(f"{self._key('c', key)}:{bucket}", b"1", nx=True, ex=ttl_seconds)
        )

    def delete_all(self) -> int:
        """Delete every key under the prefix (tests and decommissioning); how many."""
        names = list(self._redis.scan_iter(match=f"{self._prefix}:*", count=1000))
        return int(self._redis.delete(*names)) if names else 0


class SharedWindows:
    """`RedisWindows`, falling back to `LocalWindows` while Redis cannot be reached.

    After a failure Redis is left alone for ``retry_seconds`` (counted on ``monotonic``),
    so a dead Redis costs one timeout per pause, not one per event.
    """

    def __init__(
        self,
        shared: RedisWindows,
        retry_seconds: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._shared = shared
        self._local = LocalWindows()
        self._retry = retry_seconds
        self._now = monotonic
        self._down_since: float | None = None
        self._lock = threading.Lock()
        self.failures = 0

    @property
    def state(self) -> WindowsState:
        """``shared`` while Redis answers; ``fallback`` while counting locally instead."""
        return "shared" if self._down_since is None else "fallback"

    def _use_shared(self) -> bool:
        with self._lock:
            down = self._down_since
            return down is None or self._now() - down >= self._retry

    def _failed(self) -> None:
        with self._lock:
            if self._down_since is None:
                log.warning("alert windows: Redis unreachable; counting in this process only")
            self._down_since = self._now()
            self.failures += 1

    def _recovered(self) -> None:
        if self._down_since is not None:
            with self._lock:
                if self._down_since is not None:
                    log.warning("alert windows: Redis reachable again; counting is shared")
                self._down_since = None

    def _run(self, shared: Callable[[], _T], local: Callable[[], _T]) -> _T:
        if self._use_shared():
            try:
                result = shared()
            except self._shared.errors:
                self._failed()
            else:
                self._recovered()
                return result
        return local()

    def slide(self, key: str, now_us: int, window_us: int, threshold: int) -> bool:
        return self._run(
            lambda: self._shared.slide(key, now_us, window_us, threshold),
            lambda: self._local.slide(key, now_us, window_us, threshold),
        )

    def add(
        self, key: str, bucket: int, amount: int, keep: int, ttl_seconds: int
    ) -> tuple[int, int]:
        return self._run(
            lambda: self._shared.add(key, bucket, amount, keep, ttl_seconds),
            lambda: self._local.add(key, bucket, amount, keep, ttl_seconds),
        )

    def history(self, key: str, buckets: Sequence[int]) -> list[int]:
        return self._run(
            lambda: self._shared.history(key, buckets),
            lambda: self._local.history(key, buckets),
        )

    def claim(self, key: str, bucket: int, ttl_seconds: int) -> bool:
        return self._run(
            lambda: self._shared.claim(key, bucket, ttl_seconds),
            lambda: self._local.claim(key, bucket, ttl_seconds),
        )
