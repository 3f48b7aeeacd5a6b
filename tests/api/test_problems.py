"""Bad input and bad credentials: each a clear 4xx problem that changes nothing."""

from __future__ import annotations

import time

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from support import Ready

PROBLEM = "application/problem+json"


def _slug(resp) -> str:  # type: ignore[no-untyped-def]
    assert resp.headers["content-type"] == PROBLEM, resp.text
    body = resp.json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == resp.status_code
    return str(body["type"]).removeprefix("urn:strongroom:problem:")


def _audit_size(ready: Ready) -> int:
    with ready.node.db.transaction() as s:
        from strongroom.store.repositories import audit

        return audit.size(s)


def _keys_state(ready: Ready) -> list[tuple[str, int]]:
    return [(k.purpose, k.version) for k in ready.node.keyring().describe()]


@pytest.mark.parametrize(
    ("kwargs", "status", "slug"),
    [
        (
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
            400,
            "invalid-request",
        ),
        (
            {
                "content": b"shares=5",
                "headers": {"content-type": "application/x-www-form-urlencoded"},
            },
            415,
            "unsupported-media-type",
        ),
        (
            {"content": b'{"subject":"a"}', "headers": {"content-type": "text/plain"}},
            415,
            "unsupported-media-type",
        ),
        ({"json": {"subject": "a", "scopes": [], "admin": True}}, 422, "validation-failed"),
        ({"json": {"subject": "a", "ttl": "60"}}, 422, "validation-failed"),
        ({"json": {"subject": 7}}, 422, "validation-failed"),
        ({"json": {"subject": ""}}, 422, "validation-failed"),
        ({"json": {"subject": "a\nb"}}, 422, "validation-failed"),
        ({"json": ["subject"]}, 422, "validation-failed"),
        ({"json": {"subject": "a", "scopes": "sys:read"}}, 422, "validation-failed"),
        ({"json": {"subject": "a", "scopes": ["x y"]}}, 400, "invalid-request"),
    ],
)
def test_bad_bodies(ready: Ready, kwargs: dict, status: int, slug: str) -> None:  # type: ignore[type-arg]
    kwargs = dict(kwargs)  # the parameters are shared between backends
    headers = {**ready.auth(), **kwargs.pop("headers", {})}
    before = _audit_size(ready)
    resp = ready.client.post("/v1/auth/tokens", headers=headers, **kwargs)
    assert resp.status_code == status
    assert _slug(resp) == slug
    # Body-shape errors are refused before any work: at most a failure event is added.
    assert _audit_size(ready) - before <= 1


def test_validation_errors_name_the_field_not_the_value(ready: Ready) -> None:
    resp = ready.client.post(
        "/v1/auth/tokens", json={"subject": "a", "ttl": "CANARY-TTL"}, headers=ready.auth()
    )
    assert resp.status_code == 422
    assert "CANARY" not in resp.text
    assert any(e["loc"] == "body.ttl" for e in resp.json()["errors"])


def test_oversized_bodies(ready: Ready) -> None:
    limit = ready.node.settings.max_body_bytes
    big = b'{"subject":"' + b"a" * limit + b'"}'
    resp = ready.client.post(
        "/v1/auth/tokens", content=big, headers={**ready.auth(), "content-type": "application/json"}
    )
    assert resp.status_code == 413 and _slug(resp) == "payload-too-large"

    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(limit // 65536 + 2):
            yield b"a" * 65536

    chunked = ready.client.post(
        "/v1/auth/tokens",
        content=chunks(),
        headers={**ready.auth(), "content-type": "application/json"},
    )
    assert chunked.status_code == 413 and _slug(chunked) == "payload-too-large"


def test_unknown_routes_and_methods(ready: Ready) -> None:
    assert _slug(ready.client.get("/v1/nope", headers=ready.auth())) == "not-found"
    resp = ready.client.delete("/v1/sys/keys", headers=ready.auth())
    assert resp.status_code == 405 and _slug(resp) == "method-not-allowed"
    assert _slug(ready.client.post("/v1/sys/keys/nope/rotate", headers=ready.auth())) == "not-found"


def _forge(ready: Ready, **overrides) -> str:  # type: ignore[no-untyped-def]
    """A token signed by the real current key, with claims changed."""
    from strongroom.identity.tokens import PURPOSE

    key = ready.node.keyring().current(PURPOSE)
    private = Ed25519PrivateKey.from_private_bytes(key.material)
    kid = ready.client.get("/.well-known/jwks.json").json()["keys"][0]["kid"]
    now = int(time.time())
    claims = {
        "iss": ready.node.tokens.issuer,
        "sub": "mallory",
        "aud": "strongroom",
        "client_id": "x",
        "scope": "sys:read",
        "jti": "j",
        "iat": now,
        "nbf": now,
        "exp": now + 60,
    }
    headers = {"typ": "at+jwt", "kid": kid}
    headers.update(overrides.pop("headers", {}))
    claims.update(overrides)
    return pyjwt.encode(claims, private, algorithm="EdDSA", headers=headers)


def test_forged_token_baseline_is_accepted(ready: Ready) -> None:
    # Guards the tests below: a correctly made token passes, so their refusals mean something.
    resp = ready.client.get("/v1/sys/keys", headers=ready.auth(_forge(ready)))
    assert resp.status_code == 200


@pytest.mark.parametrize(
    "variant",
    [
        "expired",
        "future",
        "audience",
        "issuer",
        "typ",
        "kid",
        "lifetime",
        "none",
        "hs256",
        "foreign",
    ],
)
def test_bad_tokens_get_one_uniform_401(ready: Ready, variant: str) -> None:
    now = int(time.time())
    if variant == "expired":
        token = _forge(ready, iat=now - 600, nbf=now - 600, exp=now - 300)
    elif variant == "future":
        token = _forge(ready, iat=now + 600, nbf=now + 600, exp=now + 660)
    elif variant == "audience":
        token = _forge(ready, aud="someone-else")
    elif variant == "issuer":
        token = _forge(ready, iss="https://evil.example")
    elif variant == "typ":
        token = _forge(ready, headers={"typ": "JWT"})
    elif variant == "kid":
        token = _forge(ready, headers={"kid": "unknown"})
    elif variant == "lifetime":
        token = _forge(ready, exp=now + 3600)
    elif variant == "none":
        token = pyjwt.encode({"sub": "mallory", "scope": "sys:read"}, None, algorithm="none")
    elif variant == "hs256":
        jwk = ready.client.get("/.well-known/jwks.json").json()["keys"][0]
        token = pyjwt.encode(
            {"sub": "m", "aud": "strongroom"},
            jwk["x"],
            algorithm="HS256",
            headers={"kid": jwk["kid"]},
        )
    else:
        kid = ready.client.get("/.well-known/jwks.json").json()["keys"][0]["kid"]
        token = pyjwt.encode(
            {
                "iss": ready.node.tokens.issuer,
                "sub": "m",
                "aud": "strongroom",
                "jti": "j",
                "iat": now,
                "exp": now + 60,
                "scope": "sys:read",
            },
            Ed25519PrivateKey.generate(),
            algorithm="EdDSA",
            headers={"typ": "at+jwt", "kid": kid},
        )
    resp = ready.client.get("/v1/sys/keys", headers=ready.auth(token))
    assert resp.status_code == 401
    assert _slug(resp) == "unauthenticated"
    assert resp.json()["detail"] == "A valid token is required."
    assert resp.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer srr.unknown", "Bearer a.b.c"],
)
def test_missing_or_malformed_credentials(ready: Ready, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    resp = ready.client.get("/v1/sys/keys", headers=headers)
    assert resp.status_code == 401 and _slug(resp) == "unauthenticated"


def test_refused_calls_change_nothing(ready: Ready) -> None:
    before = _keys_state(ready)
    reader = ready.mint("sys:read")
    for headers in ({}, ready.auth("srr.bogus"), ready.auth(reader)):
        assert ready.client.post("/v1/sys/keys/barrier/rotate", headers=headers).status_code in (
            401,
            403,
        )
    assert _keys_state(ready) == before
