"""Alerts: rules over the audit stream, delivered to a webhook, a JSON-lines file and the store.

Every event is offered to the rules once it is durable. A rule matches actions (shell-style
patterns), optionally an outcome and detail values; with a ``threshold`` above one it fires
when one actor reaches that many matching events within ``window_seconds``; with a
``baseline`` it fires when the volume of a subject (e.g. one app's detokenize policy) is
far above its own history (`strongroom.audit.baseline`). Counting is per process, or
shared by every replica through Redis (`strongroom.audit.alert_windows`).

Rules are evaluated by one background thread and alerts delivered by another, so neither
Redis nor a slow webhook ever slows or fails a request; a delivery that fails is retried,
then logged.

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
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx

from strongroom.audit.alert_windows import LocalWindows, SharedWindows, Windows, WindowsState
from strongroom.audit.baseline import Baseline, BaselineCounter, Spike
from strongroom.audit.events import AuditRecord, bounded
from strongroom.clock import Clock, rfc3339
from strongroom.store.engine import Database
from strongroom.store.models import AuditAlert
from strongroom.store.repositories import audit as repo

log = logging.getLogger("strongroom.alerts")
Severity = Literal["low", "medium", "high", "critical"]
_STOP = object()
#: How many (action, outcome) pairs `AlertEngine.observe` remembers the candidate rules of.
MAX_CANDIDATE_KEYS = 4096


@dataclass(frozen=True)
class Rule:
    """When to raise an alert: on each match, on ``threshold`` matches by one actor within
    ``window_seconds``, or (with ``baseline``) on volume far above the subject's history."""

    name: str
    actions: tuple[str, ...]
    outcome: str | None = None
    detail: tuple[tuple[str, Any], ...] = ()
    threshold: int = 1
    window_seconds: float = 60.0
    severity: Severity = "high"
    summary: str = ""
    baseline: Baseline | None = None

    def __post_init__(self) -> None:
        # Every event meets every rule: the action patterns are one regex, built once.
        pattern = "|".join(fnmatch.translate(p) for p in self.actions) or "(?!)"
        object.__setattr__(self, "_action", re.compile(pattern).match)

    def matches(self, record: AuditRecord) -> bool:
        return self.may_match(record.action, record.outcome) and self.details_match(record)

    def may_match(self, action: str, outcome: str) -> bool:
        """Whether an event with ``action`` and ``outcome`` can match (its detail aside)."""
        if self.outcome is not None and outcome != self.outcome:
            return False
        return self.__dict__["_action"](action) is not None

    def details_match(self, record: AuditRecord) -> bool:
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
    Rule(
        "detokenize-spike",
        ("tokens.detokenize",),
        "success",
        baseline=Baseline(),
        summary="detokenize volume far above the app's baseline",
    ),
)


@dataclass(frozen=True)
class Alert:
    """A raised alert. ``detail`` (counts and statistics, never values) goes to the file
    and the webhook; the store keeps the summary, which says the same in words."""

    time_us: int
    rule: str
    severity: str
    summary: str
    actor: str
    action: str
    request_id: str
    detail: dict[str, Any] = field(default_factory=dict, compare=False)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "time": rfc3339(self.time_us),
            "rule": self.rule,
            "severity": self.severity,
            "summary": self.summary,
            "actor": self.actor,
            "action": self.action,
            "request_id": self.request_id,
        }
        if self.detail:
            out["detail"] = self.detail
        return out


def spike_text(rule: Rule, baseline: Baseline, spike: Spike) -> tuple[str, dict[str, Any]]:
    """The summary and detail of a baseline alert: the subject, the count, the baseline."""
    seconds = baseline.bucket_seconds
    text = (
        f"{rule.summary or rule.name}: {spike.subject} had {spike.count} in {seconds} s "
        f"(baseline mean {spike.mean:.1f}, sd {spike.deviation:.1f}; limit {spike.limit:.1f})"
    )
    detail = {
        "subject": spike.subject,
        "count": spike.count,
        "bucket_start": rfc3339(spike.bucket_start_us),
        "bucket_seconds": seconds,
        "baseline_mean": round(spike.mean, 3),
        "baseline_deviation": round(spike.deviation, 3),
        "limit": round(spike.limit, 3),
    }
    return text, detail


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
    """Applies rules to durable events and delivers the alerts they raise.

    ``windows`` holds the counting state (`LocalWindows` unless given); two engines given
    windows over one Redis count together and fire once between them.
    """

    def __init__(
        self,
        rules: Sequence[Rule],
        sinks: Sinks,
        database: Database | None,
        clock: Clock,
        transport: httpx.BaseTransport | None = None,
        windows: Windows | None = None,
    ) -> None:
        self._rules = list(rules)
        # The rules an (action, outcome) pair can meet, worked out once per pair: every
        # event is offered to the rules, and most (reads) meet none.
        self._candidates: dict[tuple[str, str], tuple[Rule, ...]] = {}
        self._sinks = sinks
        self._db = database
        self._clock = clock
        self._transport = transport
        self._windows: Windows = windows if windows is not None else LocalWindows()
        self._baselines = {
            r.name: BaselineCounter(r.name, r.baseline, self._windows)
            for r in self._rules
            if r.baseline is not None
        }
        self._lock = threading.Lock()
        self._inbox: queue.Queue[object] = queue.Queue(maxsize=100_000)
        self._queue: queue.Queue[object] = queue.Queue(maxsize=10_000)
        self._threads: list[threading.Thread] = []
        self.dropped = 0
        self.delivered: Callable[[Alert], None] | None = None

    @property
    def windows_state(self) -> WindowsState:
        """``local`` (this process counts alone), ``shared`` (Redis) or ``fallback``
        (Redis configured but unreachable: counting locally until it answers)."""
        if isinstance(self._windows, SharedWindows):
            return self._windows.state
        return "local"

    def observe(self, record: AuditRecord) -> None:
        """Offer one durable event to the rules; never raises, never waits.

        Matching is cheap and done here; counting (which may talk to Redis) and delivery
        happen on the engine's threads.
        """
        try:
            key = (record.action, record.outcome)
            candidates = self._candidates.get(key)
            if candidates is None:
                candidates = tuple(r for r in self._rules if r.may_match(*key))
                if len(self._candidates) >= MAX_CANDIDATE_KEYS:
                    self._candidates.clear()  # actions are a fixed set: never in practice
                self._candidates[key] = candidates
            if not any(rule.details_match(record) for rule in candidates):
                return
            self._start()
            self._inbox.put_nowait(record)
        except queue.Full:
            self.dropped += 1
            log.error("alert rule queue full; an event was not evaluated")
        except Exception:
            log.exception("an alert rule failed")

    def evaluate(self, record: AuditRecord) -> list[Alert]:
        """Apply every rule to ``record`` now and return the alerts it raises (undelivered).

        The engine's thread calls this for observed events; tests call it directly.
        """
        raised: list[Alert] = []
        for rule in self._rules:
            try:
                if not rule.matches(record):
                    continue
                if rule.baseline is not None:
                    alert = self._baseline(rule, rule.baseline, record)
                    if alert is not None:
                        raised.append(alert)
                elif self._counts(rule, record):
                    raised.append(self._alert(rule.name, rule.severity, rule.summary, record))
            except Exception:
                log.exception("an alert rule failed")
        return raised

    def _counts(self, rule: Rule, record: AuditRecord) -> bool:
        if rule.threshold <= 1:
            return True
        window = int(rule.window_seconds * 1_000_000)
        key = f"{rule.name}\x00{record.actor}"
        return self._windows.slide(key, record.time_us, window, rule.threshold)

    def _baseline(self, rule: Rule, baseline: Baseline, record: AuditRecord) -> Alert | None:
        amount = record.detail.get(baseline.amount_detail, 1)
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
            amount = 1
        spike = self._baselines[rule.name].count(record.resource, record.time_us, amount)
        if spike is None:
            return None
        summary, detail = spike_text(rule, baseline, spike)
        return self._alert(rule.name, rule.severity, summary, record, detail)

    def _alert(
        self,
        rule: str,
        severity: str,
        summary: str,
        record: AuditRecord,
        detail: dict[str, Any] | None = None,
    ) -> Alert:
        return Alert(
            self._clock.now_us(),
            rule,
            severity,
            bounded(summary, 512),
            record.actor,
            record.action,
            record.request_id,
            detail or {},
        )

    def raise_alert(self, rule: str, severity: str, summary: str, record: AuditRecord) -> None:
        """Queue an alert for delivery (dropped with a log line if the queue is full)."""
        self._send(self._alert(rule, severity, summary, record))

    def _send(self, alert: Alert) -> None:
        self._start()
        try:
            self._queue.put_nowait(alert)
        except queue.Full:
            log.error("alert queue full; dropped an alert", extra={"rule": alert.rule})

    def _start(self) -> None:
        with self._lock:
            if not self._threads:
                for target, name in (
                    (self._evaluate_loop, "strongroom-alert-rules"),
                    (self._run, "strongroom-alerts"),
                ):
                    thread = threading.Thread(target=target, name=name, daemon=True)
                    thread.start()
                    self._threads.append(thread)

    def close(self, timeout: float = 10.0) -> None:
        """Evaluate and deliver what is queued, then stop."""
        with self._lock:
            threads = list(self._threads)
        if threads:
            evaluator, deliverer = threads
            self._inbox.put(_STOP)
            evaluator.join(timeout)
            self._queue.put(_STOP)
            deliverer.join(timeout)

    def _evaluate_loop(self) -> None:
        while True:
            item = self._inbox.get()
            if item is _STOP:
                return
            if isinstance(item, AuditRecord):
                for alert in self.evaluate(item):
                    self._send(alert)

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
                repo.add_alert(
                    session,
                    AuditAlert(
                        time_us=alert.time_us,
                        rule=alert.rule,
                        severity=alert.severity,
                        summary=alert.summary,
                        actor=alert.actor,
                        action=alert.action,
                        request_id=alert.request_id,
                    ),
                )
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
