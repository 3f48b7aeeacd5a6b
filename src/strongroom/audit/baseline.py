"""Volume against a subject's own baseline: "far more than this app usually does".

Events are summed per subject (for detokenize: the app and policy, named by the event's
resource) in fixed time buckets (a minute by default). The baseline is the exponentially
weighted mean and deviation of the subject's completed buckets over the last
``history_buckets`` (newest weighing most; the weight decays by ``1 - 2/(history + 1)``
per bucket, the usual EWMA span). The current bucket fires once it exceeds

    max(floor, mean * factor, mean + sigmas * deviation)

and only after ``warmup_buckets`` buckets since the subject was first counted, so an empty
history never fires. A subject fires at most once per bucket, across replicas when the
counters are shared (see `strongroom.audit.alert_windows`). Buckets and their order come
from the events' own timestamps, so tests move a clock instead of sleeping.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from strongroom.audit.alert_windows import Windows

#: Most subjects whose baseline a process keeps cached; beyond it the cache starts over.
MAX_CACHED = 10_000


@dataclass(frozen=True)
class Baseline:
    """Parameters of a baseline rule (defaults: the built-in detokenize rule)."""

    bucket_seconds: int = 60
    history_buckets: int = 60
    warmup_buckets: int = 10
    floor: int = 100
    factor: float = 5.0
    sigmas: float = 4.0
    #: The event detail naming how many values an event covers (1 if absent).
    amount_detail: str = "count"

    def __post_init__(self) -> None:
        # Raised, not asserted: configuration reaches here from operators.
        if self.bucket_seconds < 1 or self.history_buckets < 1 or self.warmup_buckets < 0:
            raise ValueError("baseline buckets must be positive")
        if self.floor < 0 or self.factor < 0 or self.sigmas < 0:
            raise ValueError("baseline floor, factor and sigmas may not be negative")

    def limit(self, mean: float, deviation: float) -> float:
        """The count a bucket may reach without firing."""
        return max(float(self.floor), mean * self.factor, mean + self.sigmas * deviation)


def ewma(counts: Sequence[int], span: int) -> tuple[float, float]:
    """Exponentially weighted (mean, standard deviation) of ``counts``, oldest first.

    The newest count weighs 1, each older one ``1 - 2/(span + 1)`` times the next; both
    moments are normalised by the total weight. (0, 0) for no counts.
    """
    if not counts:
        return 0.0, 0.0
    decay = 1.0 - 2.0 / (span + 1)
    weights = [decay**age for age in range(len(counts) - 1, -1, -1)]
    total = math.fsum(weights)
    # Offsets from the newest count keep a steady history exact (a limit of 50 stays 50).
    anchor = counts[-1]
    mean = (
        anchor + math.fsum(w * (c - anchor) for w, c in zip(weights, counts, strict=True)) / total
    )
    variance = math.fsum(w * (c - mean) ** 2 for w, c in zip(weights, counts, strict=True)) / total
    return mean, math.sqrt(variance)


@dataclass(frozen=True)
class Spike:
    """A bucket far above its subject's baseline. Counts and statistics only."""

    subject: str
    bucket_start_us: int
    count: int
    mean: float
    deviation: float
    limit: float


class BaselineCounter:
    """Counts one rule's subjects in buckets and reports the first spike of each bucket."""

    def __init__(self, rule: str, baseline: Baseline, windows: Windows) -> None:
        self._rule = rule
        self._baseline = baseline
        self._windows = windows
        self._cache: dict[str, tuple[int, float, float]] = {}
        self._lock = threading.Lock()

    def count(self, subject: str, time_us: int, amount: int) -> Spike | None:
        """Add ``amount`` at ``time_us``; the `Spike` if this made the bucket fire."""
        b = self._baseline
        width_us = b.bucket_seconds * 1_000_000
        bucket = time_us // width_us
        key = f"{self._rule}\x00{subject}"
        keep = b.history_buckets + 1
        total, first = self._windows.add(
            key, bucket, amount, keep, (b.history_buckets + 2) * b.bucket_seconds
        )
        if bucket - first < b.warmup_buckets:
            return None
        mean, deviation = self._stats(key, bucket, first)
        limit = b.limit(mean, deviation)
        if total <= limit:
            return None
        if not self._windows.claim(key, bucket, 2 * b.bucket_seconds):
            return None  # this bucket already fired, here or on another replica
        return Spike(subject, bucket * width_us, total, mean, deviation, limit)

    def _stats(self, key: str, bucket: int, first: int) -> tuple[float, float]:
        # Completed buckets do not change, so each process reads them once per bucket.
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and cached[0] == bucket:
            return cached[1], cached[2]
        start = max(first, bucket - self._baseline.history_buckets)
        counts = self._windows.history(key, range(start, bucket))
        mean, deviation = ewma(counts, self._baseline.history_buckets)
        with self._lock:
            if len(self._cache) >= MAX_CACHED:
                self._cache.clear()
            self._cache[key] = (bucket, mean, deviation)
        return mean, deviation
