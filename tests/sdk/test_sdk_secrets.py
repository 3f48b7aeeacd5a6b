"""The SDK's secrets client against the real API: references, TTL cache, typed errors."""

from __future__ import annotations

import pytest
from support import Ready

from strongroom.sdk.secrets import SecretsClient, SecretsError

REF = "sr://secrets/crm/api-key"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _rotate(ready: Ready, value: str) -> None:
    ready.client.put(
        "/v1/apps/crm/secrets/api-key", json={"value": value}, headers=ready.auth()
    ).raise_for_status()


def test_get_caches_for_the_ttl(ready: Ready) -> None:
    _rotate(ready, "first-value")
    token = ready.mint("secrets:read:crm/api-key", subject="crm-runtime")
    clock = Clock()
    client = SecretsClient("http://testserver", token, ttl=30, http=ready.client, clock=clock)
    assert client.get(REF) == "first-value"
    _rotate(ready, "second-value")
    assert client.get(REF) == "first-value"  # still fresh in the cache
    clock.now += 31
    assert client.get(REF) == "second-value"
    _rotate(ready, "third-value")
    client.invalidate(REF)
    assert client.get(REF) == "third-value"
    assert "value" not in repr(client).replace("cached", "")


def test_errors_are_typed_and_hold_no_secret(ready: Ready) -> None:
    _rotate(ready, "CANARY-sdk-4417")
    token = ready.mint("secrets:read:crm/api-key")
    client = SecretsClient("http://testserver", token, ttl=0, http=ready.client)
    for bad in ("crm/api-key", "sr://secrets/crm", "sr://secrets/CRM/x", "sr://secrets/a/b/c"):
        with pytest.raises(SecretsError):
            client.get(bad)
    with pytest.raises(SecretsError) as caught:
        client.get("sr://secrets/crm/other")
    assert caught.value.status == 403
    ready.client.post("/v1/apps/crm/secrets/api-key/revoke", headers=ready.auth())
    with pytest.raises(SecretsError) as revoked:
        client.get(REF)
    assert revoked.value.status == 423
    assert revoked.value.kind.endswith("secret-disabled")
    assert "CANARY" not in str(revoked.value)


def test_sdk_imports_only_crypto_and_httpx() -> None:
    import ast
    from pathlib import Path

    import strongroom.sdk.secrets as module

    tree = ast.parse(Path(module.__file__).read_text())
    imported = {
        (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    strongroom_modules = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("strongroom")
    }
    assert all(m.startswith("strongroom.crypto") for m in strongroom_modules)
    assert imported <= {
        "__future__",
        "re",
        "threading",
        "time",
        "collections",
        "urllib",
        "contextlib",
        "httpx",
        "strongroom",
    }
