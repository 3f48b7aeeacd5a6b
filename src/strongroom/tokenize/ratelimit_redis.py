"""The detokenize token bucket shared by every replica, in Redis.

One hash per caller (``level``, ``ts``), updated by one Lua script so that reading the
bucket, refilling it and spending from it is a single atomic step however many replicas
call at once. The script runs on Redis's clock (``TIME``), so replicas whose clocks
disagree still share one rate. Each bucket expires once it would have refilled completely
(``burst / rate`` seconds, plus a second), so idle callers leave nothing behind. Keys name
callers by SHA-256, never in clear.

The script is called by ``EVALSHA``; a Redis that does not have it (restarted, flushed,
or a failover replica) gets it again by ``EVAL``. If Redis cannot be reached, or answers
with an error, the take fails closed: `StoreError` (503), and the caller detokenizes
nothing until the shared budget is back. Falling back to a per-process bucket would
silently multiply the rate by the number of replicas, which is what this limiter exists
to prevent.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

from strongroom.errors import StoreError
from strongroom.tokenize.ratelimit import refused

#: KEYS[1]: the bucket. ARGV: rate (units/s), burst, units, expiry (ms).
#: Returns {1, level} when spent, {0, level} when refused (nothing spent).
#: Numbers go back as strings: Redis would cut Lua numbers to integers.
SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local units = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local saved = redis.call('HMGET', KEYS[1], 'level', 'ts')
local level = tonumber(saved[1])
local since = tonumber(saved[2])
if level == nil or since == nil then
  level = burst
  since = now
end
level = math.min(burst, level + math.max(0, now - since) * rate)
local spent = 0
if units <= level then
  level = level - units
  spent = 1
end
redis.call('HSET', KEYS[1], 'level', tostring(level), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {spent, tostring(level)}
"""
SCRIPT_SHA = hashlib.sha1(SCRIPT.encode(), usedforsecurity=False).hexdigest()
UNREACHABLE = "the shared rate-limit store (Redis) cannot be reached; detokenize is refused"


class RedisRateLimiter:
    """``rate`` units per second per caller, up to ``burst`` at once, across replicas."""

    def __init__(self, url: str, rate: float, burst: int, prefix: str) -> None:
        import redis  # noqa: PLC0415 - only servers configured for Redis load the client

        self.rate = rate
        self.burst = burst
        self.prefix = prefix
        self._redis = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        self._errors: tuple[type[Exception], ...] = (redis.RedisError,)
        self._no_script: type[Exception] = redis.exceptions.NoScriptError
        self._sha = SCRIPT_SHA
        self._expiry_ms = math.ceil(burst / rate * 1000) + 1000

    def key(self, caller: str) -> str:
        return self.prefix + hashlib.sha256(caller.encode()).hexdigest()

    def take(self, caller: str, units: int) -> None:
        """Spend ``units`` from the caller's shared bucket; `RateLimitedError` (nothing spent)
        if short; `StoreError` if Redis cannot answer (fail closed)."""
        args = (self.key(caller), repr(float(self.rate)), self.burst, units, self._expiry_ms)
        try:
            try:
                answer: Any = self._redis.evalsha(self._sha, 1, *args)
            except self._no_script:
                answer = self._redis.eval(SCRIPT, 1, *args)
            spent, level = int(answer[0]), float(answer[1])
        except self._errors:
            raise StoreError(UNREACHABLE) from None
        except (TypeError, ValueError, IndexError):
            raise StoreError("the shared rate-limit store gave an unusable answer") from None
        if not spent:
            raise refused(units, level, self.rate, self.burst)

    def close(self) -> None:
        self._redis.close()
