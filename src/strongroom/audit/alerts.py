"""Alerts: rules over the audit stream, delivered to a webhook, a JSON-lines file and the store.

Every event is offered to the rules once it is durable. A rule matches actions (shell-style
patterns), optionally an outcome and detail values; with a ``threshold`` above one it fires
when one actor reaches that many matching events within ``window_seconds`` (counted by
this server process). Alerts are queued and delivered by one background thread, so a slow
webhook never slows a request; a delivery that fails is retried, then logged.

Webhook bodies are signed: ``X-Strongroom-Signature: t=<unix time>,v1=<hex>`` where the
hex is HMAC-SHA256 over ``"<t>." + body`` with the configured secret; receivers check the
MAC and refuse old timestamps.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import json
import logging
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx

from strongroom.audit.events import AuditRecord, bounded
from strongroom.clock import Clock, rfc3339
from strongroom.store.engine import Database
from strongroom.store.models import AuditAlert
from strongroom.store.repositories import audit as repo

log = logging.getLogger("strongroom.alerts")
Severity = Literal["low", "medium", "high", "critical"]
_STOP = object()


@dataclass(frozen=True)
class Rule:
    """When to raise an alert."""

    name: str
    actions: tuple[str, ...]
    outcome: str | None = None
    detail: tuple[tuple[str, Any], ...] = ()
    threshold: int = 1
    window_seconds: float = 60.0
    severity: Severity = "high"
    summary: str = ""

    def matches(self, record: AuditRecord) -> bool:
        if self.outcome is not None and record.outcome != self.outcome:
            return False
        if not any(fnmatch.fnmatchcase(record.action, p) for p in self.actions):
            return False
        return all(record.detail.get(k) == v for k, v in self.detail)


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule("init", ("sys.init",), "success", summary="the server was initialised"),
    Rule(
        "unsealed",
        ("sys.unseal",),
        "success",
        (("sealed", False),),
        severity="medium",
        summary="the server was unsealed",
    ),
    Rule("sealed", ("sys.seal",), "success", summary="the server was sealed"),
    Rule(
        "key-rotated", ("sys.keys.rotate",), "success", severity="medium", summary="a key rotated"
    ),
    Rule(
        "shred-or-escrow",
        ("*.shred", "*.shred.*", "*.escrow.release"),
        "success",
        severity="critical",
        summary="keys were destroyed or an escrowed key released",
    ),
    Rule(
        "audit-hash",
        ("audit.hash",),
        "success",
        severity="medium",
        summary="someone computed the audit HMAC of an identifier",
    ),
    Rule(
        "denied-burst",
        ("*",),
        "denied",
        threshold=20,
        window_seconds=60.0,
        summary="many refused requests from one caller",
    ),
)


@dataclass(frozen=True)
class Alert:
    time_us: int
    rule: str
    severity: str
    summary: str
    actor: str
    action: str
    request_id: str

    def as_json(self) -> dict[str, Any]:
        return {
            "time": rfc3339(self.time_us),
            "rule": self.rule,
            "severity": self.severity,
            "summary": self.summary,
            "actor": self.actor,
            "action": self.action,
            "request_id": self.request_id,
        }


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The ``X-Strongroom-Signature`` header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


@dataclass
class Sinks:
    """Where alerts go besides the store."""

    webhook_url: str | None = None
    webhook_secret: bytes | None = field(default=None, repr=False)
    jsonl_file: Path | None = None
    attempts: int = 3
    timeout_seconds: float = 5.0


class AlertEngine:
    """Applies rules to durable events and delivers the alerts they raise."""

    def __init__(
        self,
        rules: Sequence[Rule],
        sinks: Sinks,
        database: Database | None,
        clock: Clock,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._rules = list(rules)
        self._sinks = sinks
        self._db = database
        self._clock = clock
        self._transport = transport
        self._windows: dict[tuple[str, str], deque[int]] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[object] = queue.Queue(maxsize=10_000)
        self._thread: threading.Thread | None = None
        self.delivered: Callable[[Alert], None] | None = None

    def observe(self, record: AuditRecord) -> None:
        """Offer one durable event to the rules; never raises."""
        for rule in self._rules:
            try:
                if rule.matches(record) and self._counts(rule, record):
                    self.raise_alert(rule.name, rule.severity, rule.summary, record)
            except Exception:
                log.exception("an alert rule failed")

    def _counts(self, rule: Rule, record: AuditRecord) -> bool:
        if rule.threshold <= 1:
            return True
        now = record.time_us
        window = int(rule.window_seconds * 1_000_000)
        with self._lock:
            seen = self._windows.setdefault((rule.name, record.actor), deque())
            seen.append(now)
            while seen and seen[0] <= now - window:
                seen.popleft()
            if len(seen) >= rule.threshold:
                seen.clear()  # one alert per burst; counting starts again
                return True
            if len(self._windows) > 100_000:
                self._windows.clear()
        return False

    def raise_alert(self, rule: str, severity: str, summary: str, record: AuditRecord) -> None:
        """Queue an alert for delivery (dropped with a log line if the queue is full)."""
        alert = Alert(
            self._clock.now_us(),
            rule,
            severity,
            bounded(summary, 512),
            record.actor,
            record.action,
            record.request_id,
        )
        self._start()
        try:
            self._queue.put_nowait(alert)
        except queue.Full:
            log.error("alert queue full; dropped an alert", extra={"rule": rule})

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="strongroom-alerts", daemon=True
                )
                self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is queued, then stop."""
        with self._lock:
            thread = self._thread
        if thread is not None:
            self._queue.put(_STOP)
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if isinstance(item, Alert):
                self._deliver(item)

    def _deliver(self, alert: Alert) -> None:
        body = json.dumps(alert.as_json(), separators=(",", ":")).encode()
        if self._db is not None:
            self._store(alert)
        if self._sinks.jsonl_file is not None:
            self._append_line(self._sinks.jsonl_file, body)
        if self._sinks.webhook_url is not None:
            self._post(body)
        if self.delivered is not None:
            self.delivered(alert)

    def _store(self, alert: Alert) -> None:
        database = self._db
        if database is None:
            return
        try:
            with database.transaction() as session:
                repo.add_alert(session, AuditAlert(**vars(alert)))
        except Exception:
            log.warning("could not store an alert", extra={"rule": alert.rule})

    def _append_line(self, path: Path, body: bytes) -> None:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, body + b"\n")
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError:
            log.warning("could not write an alert to the alert file")

    def _post(self, body: bytes) -> None:
        sinks = self._sinks
        headers = {"Content-Type": "application/json", "User-Agent": "strongroom-alerts"}
        for attempt in range(sinks.attempts):
            timestamp = int(time.time())
            if sinks.webhook_secret is not None:
                headers["X-Strongroom-Signature"] = sign(sinks.webhook_secret, timestamp, body)
            try:
                with httpx.Client(
                    timeout=sinks.timeout_seconds, transport=self._transport, follow_redirects=False
                ) as client:
                    response = client.post(str(sinks.webhook_url), content=body, headers=headers)
                if response.status_code < 300:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(min(2.0, 0.2 * 2**attempt))
        log.warning("could not deliver an alert to the webhook")


def recent(database: Database, limit: int) -> list[Alert]:
    """The newest stored alerts, newest first."""
    with database.transaction(read_only=True) as session:
        rows = repo.recent_alerts(session, limit)
        return [
            Alert(r.time_us, r.rule, r.severity, r.summary, r.actor, r.action, r.request_id)
            for r in rows
        ]
