"""Two server processes on one store: each unseals on its own, keys and audit are shared."""

from __future__ import annotations

import base64
import json
import threading

import httpx
import pytest
from serverproc import (
    Backend,
    Launcher,
    all_events,
    assert_contiguous,
    bearer,
    initialize,
    mint,
    unseal,
)

pytestmark = pytest.mark.slow

# Replicas behind one name share an issuer. B refreshes its keyring on its own only once
# an hour here, so verifying A's token can only work through the unknown-kid refresh.
REPLICA_ENV = {
    "STRONGROOM_ISSUER": "https://strongroom.test",
    "STRONGROOM_KEYRING_REFRESH_SECONDS": "3600",
}
MINTS_PER_THREAD = 10


def _health(url: str) -> int:
    return httpx.get(url + "/v1/sys/health").status_code


def _kid(token: str) -> str:
    header = token.split(".", 1)[0]
    return str(json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"])


def _mint_many(url: str, token: str, jtis: list[str], failures: list[str]) -> None:
    with httpx.Client(base_url=url, headers=bearer(token), timeout=30) as client:
        for _ in range(MINTS_PER_THREAD):
            body = {"subject": "replica", "scopes": ["sys:read"], "ttl": 60}
            resp = client.post("/v1/auth/tokens", json=body)
            if resp.status_code == 200:
                jtis.append(resp.json()["jti"])
            else:
                failures.append(f"{url}: {resp.status_code} {resp.text[:200]}")


def test_two_replicas_share_keys_and_one_audit_trail(backend: Backend, launcher: Launcher) -> None:
    env = {**backend.env, **REPLICA_ENV}
    a = launcher.start(env=env)
    b = launcher.start(env=env)
    assert _health(a.url) == _health(b.url) == 501

    shares, root = initialize(a.url, shares=3, threshold=2)
    assert _health(b.url) == 503  # B sees the init, and is still sealed
    unseal(a.url, shares[:2])
    assert _health(a.url) == 200
    assert _health(b.url) == 503  # each replica unseals on its own
    unseal(b.url, shares[1:])
    assert _health(b.url) == 200

    # B has loaded token-signing v1 only; A adds v2 and signs with it.
    resp = httpx.post(a.url + "/v1/sys/keys/token-signing/rotate", headers=bearer(root))
    assert resp.status_code == 200, resp.text
    assert resp.json()["version"] == 2
    token = mint(a.url, root, ["sys:read"])["access_token"]
    kid = _kid(token)
    assert kid in {k["kid"] for k in httpx.get(a.url + "/.well-known/jwks.json").json()["keys"]}

    resp = httpx.get(b.url + "/v1/sys/keys", headers=bearer(token))
    assert resp.status_code == 200, resp.text
    signing = [k for k in resp.json()["keys"] if k["purpose"] == "token-signing"]
    assert [(k["version"], k["current"]) for k in signing] == [(1, False), (2, True)]
    jwks_b = httpx.get(b.url + "/.well-known/jwks.json").json()["keys"]
    assert jwks_b[0]["kid"] == kid
    # And the other way round: B signs with v2 now, A verifies.
    from_b = mint(b.url, root, ["sys:read"])["access_token"]
    assert _kid(from_b) == kid
    assert httpx.get(a.url + "/v1/sys/keys", headers=bearer(from_b)).status_code == 200

    # Both replicas append to the one audit trail at once.
    jtis: list[str] = []
    failures: list[str] = []
    threads = [
        threading.Thread(target=_mint_many, args=(server.url, root, jtis, failures))
        for server in (a, b, a, b)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures[:5]
    assert len(jtis) == len(threads) * MINTS_PER_THREAD

    # Read through A, then through B (reads are audited too, so B's view is longer).
    seen = [all_events(reader.url, root, page=100) for reader in (a, b)]
    for events in seen:
        assert_contiguous(events)
        minted = {e["detail"].get("jti") for e in events if e["action"] == "auth.tokens.create"}
        assert set(jtis) <= minted
    assert seen[1][: len(seen[0])] == seen[0]

    assert a.stop() == 0
    assert b.stop() == 0
