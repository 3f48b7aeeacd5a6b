"""Alert rules over the audit stream, delivered to the store, a JSON-lines file and a
signed webhook on a real local HTTP server."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path

import pytest
from alert_support import Hook
from support import break_audit_trail

from strongroom.audit import alerts
from strongroom.config import Settings, load_settings
from strongroom.errors import AuditError
from strongroom.node import Call, Node

SECRET = "CANARY-webhook-secret-9f1"


def _wait(condition, seconds: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _node(settings: Settings, tmp_path: Path, url: str, **extra: object) -> Node:
    configured = load_settings(
        database_url=settings.resolved_database_url,
        data_dir=tmp_path / "data",
        alert_webhook_url=url,
        alert_webhook_secret=SECRET,
        alert_file=tmp_path / "alerts.jsonl",
        **extra,
    )
    return Node.open(configured)


def test_default_rules_deliver_everywhere(
    settings: Settings, tmp_path: Path, receiver: Hook
) -> None:
    url, received = receiver
    node = _node(settings, tmp_path, url)
    try:
        done = node.initialize(Call("i"), 1, 1)
        node.unseal(Call("u"), done.result.shares[0])
        node.rotate_key(Call("r", "root"), "barrier")
        _wait(lambda: len(received) >= 3)
        rules = [json.loads(body)["rule"] for _, body in received]
        assert rules[:3] == ["init", "unsealed", "key-rotated"]
        for headers, body in received:
            stamp, mac = headers["X-Strongroom-Signature"].split(",")
            t = stamp.removeprefix("t=")
            want = hmac.new(SECRET.encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
            assert mac == "v1=" + want
            assert SECRET not in body.decode()
        lines = (tmp_path / "alerts.jsonl").read_text().splitlines()
        assert [json.loads(x)["rule"] for x in lines][:3] == rules[:3]
        _wait(lambda: len(alerts.recent(node.db, 10)) >= 3)
        stored = alerts.recent(node.db, 10)
        assert {a.rule for a in stored} >= {"init", "unsealed", "key-rotated"}
    finally:
        node.close()


def test_threshold_rule_fires_once_per_burst(
    settings: Settings, tmp_path: Path, receiver: Hook
) -> None:
    url, received = receiver
    node = _node(settings, tmp_path, url)
    try:
        for i in range(45):
            node.record_denied(Call(f"d{i}", "mallory"), "sys.keys.list", "sys/keys", "nope")
        node.record_denied(Call("other", "alice"), "sys.keys.list", "sys/keys", "nope")
        _wait(lambda: len(received) >= 2)
        time.sleep(0.3)
        bursts = [json.loads(b) for _, b in received if json.loads(b)["rule"] == "denied-burst"]
        assert [b["actor"] for b in bursts] == ["mallory", "mallory"]
    finally:
        node.close()


def test_configured_rules_replace_the_defaults(
    settings: Settings, tmp_path: Path, receiver
) -> None:  # type: ignore[no-untyped-def]
    url, received = receiver
    rules = [{"name": "keys-read", "actions": ["sys.keys.*"], "severity": "low"}]
    node = _node(settings, tmp_path, url, alert_rules=rules)
    try:
        done = node.initialize(Call("i"), 1, 1)
        node.unseal(Call("u"), done.result.shares[0])
        node.list_keys(Call("k", "root"))
        _wait(lambda: len(received) >= 1)
        time.sleep(0.3)
        assert [json.loads(b)["rule"] for _, b in received] == ["keys-read"]
    finally:
        node.close()


def test_a_failing_audit_trail_raises_an_alert(
    settings: Settings, tmp_path: Path, receiver, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    url, received = receiver
    node = _node(settings, tmp_path, url)
    try:
        break_audit_trail(monkeypatch)
        with pytest.raises(AuditError):
            node.record_denied(Call("x", "a"), "sys.keys.list", "sys/keys", "nope")
        _wait(lambda: any(json.loads(b)["rule"] == "audit-degraded" for _, b in received))
    finally:
        monkeypatch.undo()
        node.close()


def test_webhook_settings_are_checked() -> None:
    from strongroom.errors import ConfigError

    with pytest.raises(ConfigError, match="alert_webhook_secret"):
        load_settings(alert_webhook_url="https://siem.example/hook")
    with pytest.raises(ConfigError, match="alert_webhook_url"):
        load_settings(alert_webhook_url="ftp://x", alert_webhook_secret="s")
