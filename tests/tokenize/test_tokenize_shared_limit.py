"""The detokenize budget shared in Redis: two replicas, one bucket per caller.

Runs against the real Redis at 127.0.0.1:6379 (each test under a key prefix of its own);
skipped when there is none, unless ``STRONGROOM_REQUIRE_REDIS`` is set (then it fails).
The rate is tiny (one value per 1,000 s), so what refills while a test runs is negligible
and no assertion depends on timing.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import select

from strongroom.call import Call
from strongroom.config import Settings, load_settings
from strongroom.errors import ConfigError, RateLimitedError, StoreError
from strongroom.node import Node
from strongroom.store.models import AuditEvent
from strongroom.tokenize.ratelimit import RateLimiter, limiter_for
from strongroom.tokenize.ratelimit_redis import SCRIPT_SHA, RedisRateLimiter

REDIS_URL = "redis://127.0.0.1:6379/0"
RATE = 0.001
BURST = 10


def _redis_up() -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", 6379)) == 0


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    if not _redis_up():
        if os.environ.get("STRONGROOM_REQUIRE_REDIS"):
            pytest.fail("STRONGROOM_REQUIRE_REDIS is set but no Redis answers on 127.0.0.1:6379")
        pytest.skip("no Redis on 127.0.0.1:6379")
    prefix = f"strongroom-test:{secrets.token_hex(8)}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(match=prefix + "*"):
        client.delete(key)
    client.close()


def _settings(database_url: str, tmp_path: Path, **extra: Any) -> Settings:
    return load_settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        token_detokenize_rate=RATE,
        token_detokenize_burst=BURST,
        **extra,
    )


def _replicas(settings: Settings) -> tuple[Node, Node]:
    first, second = Node.open(settings), Node.open(settings)
    done = first.initialize(Call("init"), shares=1, threshold=1)
    first.unseal(Call("u"), done.result.shares[0])
    second.unseal(Call("u"), done.result.shares[0])
    return first, second


def _everything(_: str) -> bool:
    return True


def _detokenize(node: Node, actor: str, tokens: list[str]) -> list[str | None]:
    found = node.vault.detokenize(Call("r", actor), _everything, "app", "p", tokens, "export")
    return [r.value for r in found]


def _policy_and_tokens(node: Node, count: int) -> list[str]:
    call = Call("r", "admin")
    fields = {"name": "p", "region": "default", "scheme": "opaque", "format": "text"}
    node.vault.create_policy(call, "app", fields)
    return node.vault.tokenize(call, "app", "p", [f"value {i}" for i in range(count)])


def test_two_replicas_share_one_budget(
    database_url: str, tmp_path: Path, redis_prefix: str
) -> None:
    settings = _settings(
        database_url,
        tmp_path,
        redis_url=REDIS_URL,
        token_rate_limit_store="redis",
        token_rate_limit_prefix=redis_prefix,
    )
    first, second = _replicas(settings)
    try:
        assert isinstance(first.vault.limiter, RedisRateLimiter)
        tokens = _policy_and_tokens(first, 12)
        assert _detokenize(first, "alice", tokens[:6]) == [f"value {i}" for i in range(6)]
        # Four left in the shared bucket: five is refused on the other replica, and that
        # refusal spends nothing, so four still go through there.
        with pytest.raises(RateLimitedError) as info:
            _detokenize(second, "alice", tokens[:5])
        assert 1 <= info.value.extra["retry_after"] <= 1 / RATE
        assert len(_detokenize(second, "alice", tokens[:4])) == 4
        for node in (first, second):
            with pytest.raises(RateLimitedError):
                _detokenize(node, "alice", tokens[:1])
        # A batch larger than the whole bucket is told to split, not to wait.
        with pytest.raises(RateLimitedError, match="split the batch") as info:
            _detokenize(first, "bob", tokens[:11])
        assert "retry_after" not in info.value.extra
        # Another caller has a bucket of its own.
        assert len(_detokenize(second, "bob", tokens[:10])) == 10
        # Buckets expire once they would be full again, and name no caller in clear.
        client = redis.Redis.from_url(REDIS_URL)
        keys = sorted(k.decode() for k in client.scan_iter(match=redis_prefix + "*"))
        assert len(keys) == 2 and not any("alice" in k or "bob" in k for k in keys)
        for key in keys:
            assert 0 < client.pttl(key) <= (BURST / RATE + 1) * 1000
        client.close()
    finally:
        second.close()
        first.close()


def test_in_memory_buckets_are_per_replica(database_url: str, tmp_path: Path) -> None:
    """What the shared store fixes: without it each replica has a bucket of its own."""
    first, second = _replicas(_settings(database_url, tmp_path))
    try:
        assert isinstance(first.vault.limiter, RateLimiter)
        tokens = _policy_and_tokens(first, BURST)
        assert len(_detokenize(first, "alice", tokens)) == BURST
        assert len(_detokenize(second, "alice", tokens)) == BURST
        with pytest.raises(RateLimitedError):
            _detokenize(first, "alice", tokens[:1])
    finally:
        second.close()
        first.close()


def test_an_unreachable_redis_fails_detokenize_closed_and_audited(
    database_url: str, tmp_path: Path
) -> None:
    settings = _settings(database_url, tmp_path, redis_url="redis://127.0.0.1:1/0")
    first, second = _replicas(settings)
    try:
        tokens = _policy_and_tokens(first, 1)
        with pytest.raises(StoreError, match="rate-limit store") as info:
            _detokenize(first, "alice", tokens)
        assert info.value.status == 503 and "value 0" not in str(info.value)
        with first.db.transaction(read_only=True) as session:
            stmt = select(AuditEvent).where(AuditEvent.action == "tokens.detokenize")
            refused = session.execute(stmt).scalars().all()
        assert [(e.actor, e.outcome, json.loads(e.detail)) for e in refused] == [
            ("alice", "error", {"error": "store-unavailable"})
        ]
    finally:
        second.close()
        first.close()


def test_a_redis_without_the_script_gets_it_by_eval(redis_prefix: str) -> None:
    limiter = RedisRateLimiter(REDIS_URL, RATE, BURST, redis_prefix)
    limiter._sha = "0" * 40  # a script this Redis has never seen: EVALSHA says NOSCRIPT
    limiter.take("carol", 3)
    with pytest.raises(RateLimitedError):
        limiter.take("carol", 8)
    limiter.take("carol", 7)
    client = redis.Redis.from_url(REDIS_URL)
    assert client.script_exists(SCRIPT_SHA) == [True]  # the EVAL left it loaded
    client.close()
    limiter.close()


def test_settings_pick_and_check_the_store(tmp_path: Path) -> None:
    assert load_settings(data_dir=tmp_path).resolved_token_rate_limit_store == "memory"
    auto = load_settings(data_dir=tmp_path, redis_url=REDIS_URL)
    assert auto.resolved_token_rate_limit_store == "redis"
    assert isinstance(limiter_for(auto), RedisRateLimiter)
    chosen = load_settings(data_dir=tmp_path, redis_url=REDIS_URL, token_rate_limit_store="memory")
    assert isinstance(limiter_for(chosen), RateLimiter)
    with pytest.raises(ConfigError, match="token_rate_limit_store"):
        load_settings(data_dir=tmp_path, token_rate_limit_store="redis")
    with pytest.raises(ConfigError, match="token_rate_limit_store"):
        load_settings(data_dir=tmp_path, token_rate_limit_store="etcd")
    with pytest.raises(ConfigError, match="token_rate_limit_prefix"):
        load_settings(data_dir=tmp_path, redis_url=REDIS_URL, token_rate_limit_prefix="a b")


def _outcomes(limiter: RateLimiter | RedisRateLimiter) -> list[str]:
    steps = [("alice", 6), ("alice", 5), ("alice", 4), ("alice", 1), ("alice", 11), ("bob", 10)]
    seen = []
    for caller, units in steps:
        try:
            limiter.take(caller, units)
            seen.append("spent")
        except RateLimitedError as exc:
            seen.append("wait" if "retry_after" in exc.extra else "split")
    return seen


def test_the_shared_bucket_answers_as_the_local_one(redis_prefix: str) -> None:
    local = RateLimiter(RATE, BURST, monotonic=lambda: 0.0)
    shared = RedisRateLimiter(REDIS_URL, RATE, BURST, redis_prefix)
    expected = ["spent", "wait", "spent", "wait", "split", "spent"]
    assert _outcomes(local) == _outcomes(shared) == expected
    shared.close()
