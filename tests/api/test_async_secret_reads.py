"""The secret value route as a coroutine: one durable audit event per read before the answer,
503 when the trail cannot record, and a verified-token cache that never outlives a revocation,
a kill switch, an expiry or a seal."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from typing import Any

import pytest
from sqlalchemy import select, text
from support import Ready

from strongroom.audit import identifiers, log
from strongroom.call import Call
from strongroom.config import Settings
from strongroom.errors import AuditError, SecretDisabledError, UnauthenticatedError
from strongroom.identity import tokens as tokens_mod
from strongroom.identity.tokens import TokenService
from strongroom.node import Node
from strongroom.store.models import AuditEvent

BASE = "/v1/apps/crm/secrets"
CANARY = "CANARY-async-read-3f9c1e"
SYSTEM = Call("t", "tester")


def _claims(token: str) -> dict[str, Any]:
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))  # type: ignore[no-any-return]


def _events(ready: Ready, action: str) -> list[AuditEvent]:
    with ready.node.db.transaction(read_only=True) as s:
        stmt = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
        return list(s.execute(stmt).scalars())


def _trail_text(ready: Ready) -> str:
    with ready.node.db.engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM audit_events")).all()
    return "\n".join(" ".join(str(v) for v in row) for row in rows)


def _store(ready: Ready, name: str = "api-key", value: str = CANARY) -> None:
    resp = ready.client.put(f"{BASE}/{name}", json={"value": value}, headers=ready.auth())
    assert resp.status_code == 200, resp.text


def _read(ready: Ready, token: str, request_id: str | None = None, name: str = "api-key") -> Any:
    headers = ready.auth(token)
    if request_id is not None:
        headers["X-Request-Id"] = request_id
    return ready.client.get(f"{BASE}/{name}/value", headers=headers)


def test_concurrent_reads_each_audited_once_and_durably_before_the_answer(ready: Ready) -> None:
    _store(ready)
    runtime = ready.mint("secrets:read:crm/api-key", subject="crm-runtime")
    seen_before_answer: list[bool] = []
    failures: list[int] = []

    def client(n: int) -> None:
        for i in range(5):
            request_id = f"r{n}-{i}"
            resp = _read(ready, runtime, request_id)
            if resp.status_code != 200 or resp.json()["value"] != CANARY:
                failures.append(resp.status_code)
                continue
            with ready.node.db.transaction(read_only=True) as s:
                stmt = select(AuditEvent.seq).where(AuditEvent.request_id == request_id)
                seen_before_answer.append(len(s.execute(stmt).all()) == 1)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert seen_before_answer == [True] * 30
    reads = [e for e in _events(ready, "secrets.read") if e.request_id.startswith("r")]
    assert sorted(e.request_id for e in reads) == sorted(
        f"r{n}-{i}" for n in range(6) for i in range(5)
    )
    assert {(e.outcome, e.resource) for e in reads} == {("success", "secrets/crm/api-key")}
    assert all(json.loads(e.detail) == {"secret": "crm/api-key", "version": 1} for e in reads)
    assert CANARY not in _trail_text(ready)


def test_refusals_on_the_async_route_are_audited_once_and_leak_nothing(ready: Ready) -> None:
    _store(ready)
    other = ready.mint("secrets:read:crm/other")
    resp = _read(ready, other, "deny-scope")
    assert resp.status_code == 403 and CANARY not in resp.text
    resp = ready.client.get(
        f"{BASE}/api-key/value", headers={"Authorization": "Bearer ey.bad.token"}
    )
    assert resp.status_code == 401 and CANARY not in resp.text
    ready.client.post(f"{BASE}/api-key/revoke", headers=ready.auth())
    runtime = ready.mint("secrets:read:crm/api-key")
    revoked = _read(ready, runtime, "deny-revoked")
    assert revoked.status_code in (403, 409, 410, 423) and CANARY not in revoked.text
    events = _events(ready, "secrets.read")
    by_id = {e.request_id: e for e in events}
    assert by_id["deny-scope"].outcome == "denied"
    assert "missing scope secrets:read:crm/api-key" in by_id["deny-scope"].detail
    assert by_id["deny-revoked"].outcome == "error"
    assert sum(1 for e in events if e.request_id in ("deny-scope", "deny-revoked")) == 2
    assert [e.outcome for e in events].count("denied") == 2  # the bad token too
    assert CANARY not in _trail_text(ready)


def test_a_trail_that_cannot_record_fails_the_read_with_503(ready: Ready, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _store(ready)
    runtime = ready.mint("secrets:read:crm/api-key")
    assert _read(ready, runtime).status_code == 200  # the token is verified and cached

    def broken(*args: object, **kwargs: object) -> list[int]:
        raise AuditError("the audit store is down")

    monkeypatch.setattr(log, "append_many", broken)
    resp = _read(ready, runtime, "blind-1")
    assert resp.status_code == 503
    assert resp.json()["type"] == "urn:strongroom:problem:audit-unavailable"
    assert CANARY not in resp.text and "value" not in resp.json()
    monkeypatch.undo()
    assert _read(ready, runtime, "seen-1").json()["value"] == CANARY
    ids = {e.request_id for e in _events(ready, "secrets.read")}
    assert "seen-1" in ids and "blind-1" not in ids


def test_a_cached_token_is_refused_at_once_when_revoked(ready: Ready) -> None:
    _store(ready)
    runtime = ready.mint("secrets:read:crm/api-key", subject="crm-runtime")
    digest_count = len(ready.node.tokens._verified)
    assert _read(ready, runtime).status_code == 200
    assert _read(ready, runtime).status_code == 200
    assert len(ready.node.tokens._verified) == digest_count + 1  # cached once
    ready.node.broker.revoke_ids(SYSTEM, [_claims(runtime)["jti"]])
    refused = _read(ready, runtime, "after-revoke")
    assert refused.status_code == 401
    denied = [e for e in _events(ready, "secrets.read") if e.request_id == "after-revoke"]
    assert [(e.outcome, json.loads(e.detail)) for e in denied] == [
        ("denied", {"error": "unauthenticated"})
    ]


@pytest.mark.parametrize("kind", ["user", "app"])
def test_a_cached_token_is_refused_at_once_by_a_kill_switch(ready: Ready, kind: str) -> None:
    _store(ready)
    runtime = ready.mint("secrets:read:crm/api-key", subject="crm-runtime")
    assert _read(ready, runtime).status_code == 200
    claims = _claims(runtime)
    name = claims["sub"] if kind == "user" else claims["client_id"]
    ready.node.broker.kill(SYSTEM, kind, name)
    assert _read(ready, runtime).status_code == 401
    # A token minted after the kill switch's second works again.
    time.sleep(1.05)
    fresh = ready.mint("secrets:read:crm/api-key", subject="crm-runtime")
    assert _read(ready, fresh).json()["value"] == CANARY


def test_a_tampered_token_is_never_taken_from_the_cache(ready: Ready) -> None:
    _store(ready)
    runtime = ready.mint("secrets:read:crm/api-key")
    assert _read(ready, runtime).status_code == 200
    head, body, sig = runtime.split(".")
    claims = _claims(runtime)
    claims["scope"] = "secrets:read:crm/*"
    forged_body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert _read(ready, f"{head}.{forged_body}.{sig}").status_code == 401
    flipped = sig[:-2] + ("AA" if sig[-2:] != "AA" else "BB")
    assert _read(ready, f"{head}.{body}.{flipped}").status_code == 401


def test_sealing_drops_the_cache_and_refuses_cached_tokens(ready: Ready) -> None:
    _store(ready)
    runtime = ready.mint("secrets:read:crm/api-key")
    assert _read(ready, runtime).status_code == 200
    assert ready.node.tokens._verified
    assert identifiers._HIDDEN  # the caller's HMAC, as its events name it
    ready.node.seal(SYSTEM)
    assert ready.node.tokens._verified == {}
    assert identifiers._HIDDEN == {}
    assert _read(ready, runtime).status_code == 503
    for share in ready.shares:
        if not ready.node.unseal(Call("u"), share).sealed:
            break
    again = _read(ready, runtime)
    assert again.status_code == 200, again.text
    assert again.json()["value"] == CANARY


class _Clock:
    def __init__(self) -> None:
        self.us = int(time.time() * 1_000_000)

    def now_us(self) -> int:
        return self.us


def test_cached_claims_expire_with_the_token_and_the_cache_is_bounded(
    ready: Ready, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = _Clock()
    node = ready.node
    service = TokenService(
        node.seal_manager.keyring, node.refresh_keyring, clock, issuer="iss", audience="aud"
    )
    issued = service.mint("svc", ["sys:read"], 10, client_id="c")
    assert service.cached_claims(issued.access_token) is None
    assert service.verify_claims(issued.access_token)["sub"] == "svc"
    assert service.cached_claims(issued.access_token) == _claims(issued.access_token)
    # The copy handed out cannot change the cached entry.
    service.verify_claims(issued.access_token)["scope"] = "everything"
    assert service.verify_claims(issued.access_token)["scope"] == "sys:read"
    clock.us += 11 * 1_000_000
    with pytest.raises(UnauthenticatedError):
        service.cached_claims(issued.access_token)
    with pytest.raises(UnauthenticatedError):
        service.verify_claims(issued.access_token)
    # A key rotation changes the key set: entries verified before are checked afresh.
    live = service.mint("svc", ["sys:read"], 60, client_id="c")
    service.verify_claims(live.access_token)
    node.rotate_key(SYSTEM, "token-signing")
    assert service.cached_claims(live.access_token) is None
    assert service.verify_claims(live.access_token)["sub"] == "svc"
    # Bounded: at most VERIFIED_CACHE_SIZE entries, expired ones dropped first.
    monkeypatch.setattr(tokens_mod, "VERIFIED_CACHE_SIZE", 4)
    for _ in range(10):
        service.verify_claims(service.mint("svc", [], 60, client_id="c").access_token)
        assert len(service._verified) <= 4


def test_a_revoked_secret_is_refused_at_once_by_another_replica_async(settings: Settings) -> None:
    first = Node.open(settings)
    second = Node.open(settings)
    try:
        done = first.initialize(Call("init"), shares=1, threshold=1)
        first.unseal(Call("u"), done.result.shares[0])
        second.unseal(Call("u"), done.result.shares[0])
        first.secrets.put(SYSTEM, "crm", "key", b"value-one")

        async def read() -> bytes:
            return (await second.secrets.read_async(SYSTEM, "crm", "key")).value

        assert asyncio.run(read()) == b"value-one"
        first.secrets.revoke(SYSTEM, "crm", "key")
        with pytest.raises(SecretDisabledError):
            asyncio.run(read())
    finally:
        second.close()
        first.close()


def test_another_replicas_token_revocation_reaches_the_cache(settings: Settings) -> None:
    quick = settings.model_copy(update={"revocation_refresh_seconds": 0.2})
    first = Node.open(quick)
    second = Node.open(quick)
    try:
        done = first.initialize(Call("init"), shares=1, threshold=1)
        first.unseal(Call("u"), done.result.shares[0])
        second.unseal(Call("u"), done.result.shares[0])
        token = first.tokens.mint("svc", ["sys:read"], 60, client_id="c").access_token

        async def authenticate() -> str:
            return (await second.authenticate_async(token)).subject

        assert asyncio.run(authenticate()) == "svc"
        assert asyncio.run(authenticate()) == "svc"  # now from the cache
        first.broker.revoke_ids(SYSTEM, [_claims(token)["jti"]])
        time.sleep(0.3)
        with pytest.raises(UnauthenticatedError):
            asyncio.run(authenticate())
    finally:
        second.close()
        first.close()
