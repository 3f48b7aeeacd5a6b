"""Every route declares its scope, and the OpenAPI document describes the API."""

from __future__ import annotations

from fastapi.testclient import TestClient
from support import Ready

PUBLIC = {
    ("GET", "/v1/sys/health"),
    ("GET", "/v1/sys/seal-status"),
    ("POST", "/v1/sys/init"),
    ("POST", "/v1/sys/unseal"),
    ("GET", "/.well-known/jwks.json"),
    ("GET", "/.well-known/oauth-authorization-server"),
    ("GET", "/.well-known/oauth-authorization-server/{issuer_path}"),
    ("GET", "/v1/audit/checkpoint"),
    ("GET", "/v1/audit/keys"),
    ("GET", "/v1/schemas/manifest"),
    ("GET", "/v1/manifest-keys"),
    ("GET", "/v1/auth/oidc/{provider}/login"),
    ("GET", "/v1/auth/oidc/{provider}/callback"),
    ("GET", "/bff/{app}/login"),
    ("GET", "/bff/{app}/callback"),
}


def api_operations(client: TestClient) -> list[tuple[str, str, dict]]:  # type: ignore[type-arg]
    """(method, path, operation) for every operation of the API, from its OpenAPI document."""
    doc = client.get("/openapi.json").json()
    return [
        (method.upper(), path.replace("{purpose}", "barrier"), op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
    ]


def test_every_non_public_route_declares_bearer_auth(client: TestClient) -> None:
    ops = api_operations(client)
    assert len(ops) >= 11
    for method, path, op in ops:
        assert bool(op.get("security")) == ((method, path) not in PUBLIC), (method, path)


def test_every_scoped_route_refuses_anonymous_calls(ready: Ready) -> None:
    checked = 0
    for method, path, _ in api_operations(ready.client):
        if (method, path) not in PUBLIC:
            assert ready.client.request(method, path).status_code == 401, (method, path)
            checked += 1
    assert checked >= 6


def test_openapi_document(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    assert doc["info"]["title"] == "Strongroom"
    paths = set(doc["paths"])
    assert {"/v1/sys/health", "/v1/sys/init", "/v1/auth/tokens", "/v1/audit/events"} <= paths
    token_in = doc["components"]["schemas"]["TokenIn"]
    assert token_in.get("additionalProperties") is False
