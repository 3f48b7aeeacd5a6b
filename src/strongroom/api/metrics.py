"""Prometheus metrics of one API instance (its own registry, no process globals)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: Methods that get a label of their own; any other token a client sends counts as "OTHER",
#: so clients cannot mint new time series (and memory) by inventing methods.
STANDARD_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "OTHER"
#: At most this many (method, route, status) label sets keep their children cached.
_MAX_CHILDREN = 4096


def method_label(method: str) -> str:
    """The ``method`` label for a request method: itself if standard, else ``OTHER``."""
    return method if method in STANDARD_METHODS else OTHER_METHOD


class _SealCollector(Collector):
    def __init__(self, state: Callable[[], tuple[bool, bool]]) -> None:
        self._state = state

    def collect(self) -> Iterator[Metric]:
        initialized, sealed = self._state()
        yield GaugeMetricFamily(
            "strongroom_initialized", "1 if initialized", value=int(initialized)
        )
        yield GaugeMetricFamily("strongroom_sealed", "1 if sealed", value=int(sealed))


class _AlertWindowsCollector(Collector):
    def __init__(self, state: Callable[[], str]) -> None:
        self._state = state

    def collect(self) -> Iterator[Metric]:
        state = self._state()
        yield GaugeMetricFamily(
            "strongroom_alert_windows_shared",
            "1 if alert windows are shared by the replicas through Redis",
            value=int(state == "shared"),
        )
        yield GaugeMetricFamily(
            "strongroom_alert_windows_fallback",
            "1 if Redis is configured but unreachable, so this replica counts alone",
            value=int(state == "fallback"),
        )


class Metrics:
    """Request counts and latencies by route and status, the seal state, and how alert
    windows are counted."""

    def __init__(
        self,
        seal_state: Callable[[], tuple[bool, bool]],
        alert_windows: Callable[[], str] | None = None,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "strongroom_http_requests",
            "HTTP requests by method (standard ones, else OTHER), route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "strongroom_http_request_duration_seconds",
            "HTTP request latency by method and route template.",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self.registry.register(_SealCollector(seal_state))
        if alert_windows is not None:
            self.registry.register(_AlertWindowsCollector(alert_windows))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one request. ``route`` must be a route template (or ``unmatched``)."""
        label = method_label(method)
        key = (label, route, status)
        children = self._children.get(key)
        if children is None:
            # Labels are bounded (standard methods, route templates, statuses), and so is
            # this cache of their children: `labels()` costs more than counting.
            children = (
                self.requests.labels(label, route, str(status)),
                self.latency.labels(label, route),
            )
            if len(self._children) < _MAX_CHILDREN:
                self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))
