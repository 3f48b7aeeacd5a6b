"""Alert windows shared by replicas through the real Redis on 127.0.0.1:6379.

Two engines over one key prefix stand for two replicas: each sees its own half of the
events, together they fire once. Time comes from the events' timestamps.
"""

from __future__ import annotations

import redis
from alert_support import REDIS_URL, StepClock
from fastapi.testclient import TestClient

from strongroom.api.app import create_app
from strongroom.audit import alerts
from strongroom.audit.alert_windows import LocalWindows, RedisWindows, SharedWindows
from strongroom.audit.baseline import Baseline
from strongroom.audit.events import AuditRecord
from strongroom.config import Settings, load_settings
from strongroom.node import Call, Node

T0 = 1_767_225_600_000_000
MINUTE_US = 60_000_000
BURST = alerts.Rule("denied-burst", ("*",), "denied", threshold=20, window_seconds=60.0)
SPIKE = alerts.Rule(
    "detokenize-spike",
    ("tokens.detokenize",),
    "success",
    baseline=Baseline(bucket_seconds=60, history_buckets=10, warmup_buckets=3, floor=20),
)


def _replica(prefix: str, url: str = REDIS_URL) -> alerts.AlertEngine:
    windows = SharedWindows(RedisWindows(url, prefix))
    return alerts.AlertEngine((BURST, SPIKE), alerts.Sinks(), None, StepClock(), windows=windows)


def _denied(i: int, actor: str = "mallory") -> AuditRecord:
    return AuditRecord(T0 + i * 1_000_000, f"d{i}", actor, "sys.keys.list", "sys/keys", "denied")


def _detok(minute: int, count: int, offset_us: int = 0) -> AuditRecord:
    return AuditRecord(
        T0 + minute * MINUTE_US + offset_us, "r", "analyst", "tokens.detokenize",
        "tokens/shop/cards", "success", {"count": count},
    )  # fmt: skip


def test_two_replicas_fire_once_on_their_combined_denials(redis_prefix: str) -> None:
    a, b = _replica(redis_prefix), _replica(redis_prefix)
    fired: list[tuple[str, int]] = []
    for i in range(50):
        replica, name = (a, "a") if i % 2 == 0 else (b, "b")
        fired += [(name, i) for alert in replica.evaluate(_denied(i)) if alert.actor == "mallory"]
        assert replica.evaluate(_denied(i, f"alice-{i}")) == []
    # The 20th and the 40th denial fire, once each, on whichever replica saw them.
    assert fired == [("b", 19), ("b", 39)]
    assert a.windows_state == b.windows_state == "shared"
    # Each replica alone saw 25 denials in 50 s: counting locally, neither reaches 20
    # in the first 30 s, where the shared count had already fired.
    local = alerts.AlertEngine((BURST,), alerts.Sinks(), None, StepClock(), LocalWindows())
    assert [i for i in range(0, 30, 2) if local.evaluate(_denied(i))] == []


def test_a_window_slides_in_redis_as_in_memory(redis_prefix: str) -> None:
    shared = RedisWindows(REDIS_URL, redis_prefix)
    local = LocalWindows()
    window = 10 * 1_000_000
    seconds = [0, 3, 6, 9, 10, 11, 12, 30, 31, 32, 33, 34, 35]
    got = [shared.slide("k", T0 + s * 1_000_000, window, 4) for s in seconds]
    want = [local.slide("k", T0 + s * 1_000_000, window, 4) for s in seconds]
    assert got == want
    assert [s for s, hit in zip(seconds, got, strict=True) if hit] == [9, 33]


def test_two_replicas_fire_once_on_a_combined_detokenize_spike(redis_prefix: str) -> None:
    a, b = _replica(redis_prefix), _replica(redis_prefix)
    for minute in range(4):  # history: 8 a minute, half on each replica
        assert a.evaluate(_detok(minute, 4)) == b.evaluate(_detok(minute, 4, 1)) == []
    # The limit is max(floor 20, mean 8 x factor 5, 8 + 4 x sd 0) = 40 together.
    for _ in range(3):
        assert a.evaluate(_detok(4, 4)) == b.evaluate(_detok(4, 4, 1)) == []
    assert a.evaluate(_detok(4, 16)) == []  # 40: at the limit, not above it
    [alert] = b.evaluate(_detok(4, 1, 2))  # 41 together; 13 on b alone
    assert alert.detail["count"] == 41 and alert.detail["baseline_mean"] == 8.0
    assert "tokens/shop/cards had 41 in 60 s" in alert.summary
    # Both replicas go on seeing the bucket above its limit; it has fired, for both.
    assert a.evaluate(_detok(4, 100)) == b.evaluate(_detok(4, 100)) == []
    # Every key the engines wrote expires.
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{redis_prefix}:*"))
    assert keys and all(client.ttl(k) > 0 for k in keys)


def test_an_unreachable_redis_falls_back_to_local_windows() -> None:
    engine = _replica("unused", "redis://127.0.0.1:1/0")
    assert engine.windows_state == "shared"  # nothing tried yet
    fired = [engine.evaluate(_denied(i)) for i in range(20)]
    assert [len(f) for f in fired] == [0] * 19 + [1]
    assert engine.windows_state == "fallback"
    for minute in range(4):
        assert engine.evaluate(_detok(minute, 1)) == []
    assert len(engine.evaluate(_detok(4, 21))) == 1


def _served(settings: Settings, keys: list[str]) -> tuple[Node, TestClient, str]:
    """A node on ``settings``' database, unsealed; ``keys`` holds (share, root token)."""
    node = Node.open(settings)
    if not keys:
        done = node.initialize(Call("i"), 1, 1)
        keys += [done.result.shares[0], done.root_token]
    node.unseal(Call("u"), keys[0])
    return node, TestClient(create_app(node), raise_server_exceptions=False), keys[1]


def _gauges(client: TestClient, token: str) -> dict[str, str]:
    text = client.get("/v1/sys/metrics", headers={"Authorization": f"Bearer {token}"}).text
    return {
        line.split()[0]: line.split()[1]
        for line in text.splitlines()
        if line.startswith("strongroom_alert_windows_")
    }


def test_health_and_metrics_tell_shared_from_fallback(
    settings: Settings, redis_prefix: str
) -> None:
    base = {"database_url": settings.resolved_database_url, "data_dir": settings.data_dir}
    keys: list[str] = []
    node, client, root = _served(
        load_settings(**base, redis_url=REDIS_URL, alert_redis_prefix=redis_prefix), keys
    )
    try:
        for i in range(3):
            node.record_denied(Call(f"x{i}", "m"), "sys.keys.list", "sys/keys", "nope")
        node.alerts.close()  # evaluates what is queued (through Redis)
        health = client.get("/v1/sys/health")
        assert health.status_code == 200 and health.json()["alerts"] == "shared"
        assert _gauges(client, root) == {
            "strongroom_alert_windows_shared": "1.0",
            "strongroom_alert_windows_fallback": "0.0",
        }
    finally:
        client.close()
        node.close()
    node, client, root = _served(load_settings(**base, redis_url="redis://127.0.0.1:1/0"), keys)
    try:
        for i in range(3):
            node.record_denied(Call(f"y{i}", "m"), "sys.keys.list", "sys/keys", "nope")
        node.alerts.close()
        # Alerts never fail a request: the server is healthy, and says how it counts.
        health = client.get("/v1/sys/health")
        assert health.status_code == 200 and health.json()["alerts"] == "fallback"
        assert _gauges(client, root)["strongroom_alert_windows_fallback"] == "1.0"
    finally:
        client.close()
        node.close()
    node, client, _ = _served(load_settings(**base), keys)
    try:
        assert "alerts" not in client.get("/v1/sys/health").json()
    finally:
        client.close()
        node.close()
