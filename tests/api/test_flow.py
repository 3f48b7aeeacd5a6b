"""The operator's path through the API: init, sealed start, unseal, rotate, tokens, seal."""

from __future__ import annotations

from fastapi.testclient import TestClient
from support import Ready

from strongroom.node import Node

PROBLEM = "application/problem+json"


def _problem(resp, status: int, slug: str) -> dict:  # type: ignore[no-untyped-def]
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == PROBLEM
    body = resp.json()
    assert body["type"] == f"urn:strongroom:problem:{slug}"
    assert body["status"] == status
    assert body["title"] and body["detail"]
    assert body["request_id"] == resp.headers["x-request-id"]
    return body


def test_full_ceremony(client: TestClient, node: Node) -> None:
    assert client.get("/v1/sys/health").status_code == 501
    assert client.get("/v1/sys/seal-status").json()["initialized"] is False
    _problem(client.get("/v1/sys/keys"), 503, "sealed")

    init = client.post("/v1/sys/init", json={"shares": 5, "threshold": 3})
    assert init.status_code == 200
    shares, root = init.json()["shares"], init.json()["root_token"]
    assert len(shares) == 5 and len(set(shares)) == 5
    assert init.headers["cache-control"] == "no-store"
    _problem(
        client.post("/v1/sys/init", json={"shares": 1, "threshold": 1}), 409, "already-initialized"
    )

    health = client.get("/v1/sys/health")
    assert health.status_code == 503
    assert health.json() == {
        "initialized": True,
        "sealed": True,
        "version": health.json()["version"],
        "audit": "ok",
    }
    auth = {"Authorization": f"Bearer {root}"}
    _problem(client.get("/v1/sys/keys", headers=auth), 503, "sealed")

    # Bad shares do not count.
    _problem(client.post("/v1/sys/unseal", json={"share": "srs1-nonsense"}), 400, "invalid-share")
    assert client.post("/v1/sys/unseal", json={"share": shares[0]}).json()["progress"] == 1
    _problem(client.post("/v1/sys/unseal", json={"share": shares[0]}), 400, "invalid-share")
    status = client.post("/v1/sys/unseal", json={"share": shares[3]}).json()
    assert status["progress"] == 2 and status["sealed"] is True
    reset = client.post("/v1/sys/unseal", json={"reset": True}).json()
    assert reset["progress"] == 0
    for share in (shares[4], shares[2], shares[1]):
        status = client.post("/v1/sys/unseal", json={"share": share}).json()
    assert status["sealed"] is False and status["progress"] == 0
    assert client.get("/v1/sys/health").status_code == 200

    rotated = client.post("/v1/sys/keys/barrier/rotate", headers=auth)
    assert rotated.status_code == 200 and rotated.json()["version"] == 2
    keys = client.get("/v1/sys/keys", headers=auth).json()["keys"]
    barrier = [k for k in keys if k["purpose"] == "barrier"]
    assert [(k["version"], k["current"]) for k in barrier] == [(1, False), (2, True)]
    assert all(set(k) == {"purpose", "version", "algorithm", "created", "current"} for k in keys)

    minted = client.post(
        "/v1/auth/tokens", json={"subject": "ops", "scopes": ["sys:read"], "ttl": 60}, headers=auth
    )
    assert minted.status_code == 200
    reader = {"Authorization": f"Bearer {minted.json()['access_token']}"}
    assert minted.json()["expires_in"] == 60
    assert client.get("/v1/sys/keys", headers=reader).status_code == 200
    _problem(client.post("/v1/sys/keys/barrier/rotate", headers=reader), 403, "forbidden")
    _problem(client.get("/v1/audit/events", headers=reader), 403, "forbidden")
    _problem(client.post("/v1/sys/seal", headers=reader), 403, "forbidden")

    assert client.post("/v1/sys/seal", headers=auth).json()["sealed"] is True
    _problem(client.get("/v1/sys/keys", headers=auth), 503, "sealed")
    _problem(client.get("/v1/sys/keys", headers=reader), 503, "sealed")
    _problem(client.get("/.well-known/jwks.json"), 503, "sealed")
    assert client.get("/v1/sys/health").status_code == 503
    assert node.seal_manager.sealed


def test_every_call_is_audited(ready: Ready) -> None:
    reader = ready.mint("sys:read")
    c = ready.client
    c.get("/v1/sys/keys", headers=ready.auth(reader))
    c.post("/v1/sys/keys/barrier/rotate", headers=ready.auth(reader))
    c.get("/v1/sys/keys", headers={"Authorization": "Bearer not-a-token"})
    events = c.get("/v1/audit/events", headers=ready.auth(), params={"limit": 1000}).json()[
        "events"
    ]
    seen = [(e["actor"], e["action"], e["outcome"]) for e in events]
    # Users appear under the HMAC of their subject, never by name.
    alice = c.post("/v1/audit/hash", json={"value": "alice"}, headers=ready.auth()).json()
    hidden = alice["hmacs"][0]
    assert hidden.startswith("hmac-sha256:") and len(alice["hmacs"]) == 1
    assert ("anonymous", "sys.init", "success") in seen
    assert ("anonymous", "sys.unseal", "success") in seen
    assert ("root", "auth.tokens.create", "success") in seen
    assert (hidden, "sys.keys.list", "success") in seen
    assert (hidden, "sys.keys.rotate", "denied") in seen
    assert ("anonymous", "sys.keys.list", "denied") in seen
    assert '"alice"' not in str(events)
    assert [e["index"] for e in events] == list(range(len(events)))
    # The audit read itself is recorded, after the page was taken.
    again = c.get("/v1/audit/events", headers=ready.auth(), params={"after": events[-1]["index"]})
    assert again.json()["events"][0]["action"] == "audit.events.read"
    # Searching by the plain subject finds the hidden events; hashing needs its own scope.
    mine = c.get("/v1/audit/events", headers=ready.auth(), params={"actor": "alice"}).json()
    assert {e["actor"] for e in mine["events"]} == {hidden}
    # A reader without audit:hash cannot use the filter to test guesses.
    auditor = ready.mint("audit:read", subject="auditor")
    blind = c.get("/v1/audit/events", headers=ready.auth(auditor), params={"actor": "alice"})
    assert blind.json()["events"] == []
    assert (
        c.post("/v1/audit/hash", json={"value": "x"}, headers=ready.auth(reader)).status_code == 403
    )


def test_minting_only_narrows(ready: Ready) -> None:
    c = ready.client
    minter = ready.mint("tokens:create", "sys:read")
    ok = c.post(
        "/v1/auth/tokens", json={"subject": "b", "scopes": ["sys:read"]}, headers=ready.auth(minter)
    )
    assert ok.status_code == 200 and ok.json()["expires_in"] == 300
    escalate = c.post(
        "/v1/auth/tokens",
        json={"subject": "b", "scopes": ["sys:write"]},
        headers=ready.auth(minter),
    )
    _problem(escalate, 400, "invalid-request")
    unknown = c.post(
        "/v1/auth/tokens", json={"subject": "b", "scopes": ["sys:raed"]}, headers=ready.auth()
    )
    detail = _problem(unknown, 400, "invalid-request")["detail"]
    assert "scope 1 is unknown" in detail and "sys:raed" not in detail
    perpetual = c.post(
        "/v1/auth/tokens",
        json={"subject": "b", "scopes": ["tokens:create"]},
        headers=ready.auth(minter),
    )
    assert "only the root token" in _problem(perpetual, 400, "invalid-request")["detail"]
    for reserved in ("root", "Anonymous", "dev"):
        spoof = c.post("/v1/auth/tokens", json={"subject": reserved}, headers=ready.auth())
        _problem(spoof, 400, "invalid-request")
    too_long = c.post("/v1/auth/tokens", json={"subject": "b", "ttl": 301}, headers=ready.auth())
    _problem(too_long, 400, "invalid-request")


def test_audit_filters_and_pages(ready: Ready) -> None:
    c = ready.client
    for _ in range(5):
        c.get("/v1/sys/keys", headers=ready.auth())
    page = c.get(
        "/v1/audit/events", headers=ready.auth(), params={"action": "sys.keys.*", "limit": 2}
    ).json()
    assert [e["action"] for e in page["events"]] == ["sys.keys.list"] * 2
    assert page["next"] == page["events"][-1]["index"]
    rest = c.get(
        "/v1/audit/events",
        headers=ready.auth(),
        params={"action": "sys.keys.list", "after": page["next"], "limit": 100},
    ).json()
    assert len(rest["events"]) == 3 and rest["next"] is None
    newest = c.get("/v1/audit/events", headers=ready.auth(), params={"order": "desc", "limit": 1})
    assert newest.json()["events"][0]["action"] == "audit.events.read"
    by_actor = c.get("/v1/audit/events", headers=ready.auth(), params={"actor": "nobody"})
    assert by_actor.json()["events"] == []
    _problem(
        c.get("/v1/audit/events", headers=ready.auth(), params={"since": "yesterday"}),
        400,
        "invalid-request",
    )
    _problem(
        c.get("/v1/audit/events", headers=ready.auth(), params={"limit": 5000}),
        400,
        "invalid-request",
    )
    late = c.get("/v1/audit/events", headers=ready.auth(), params={"since": "2999-01-01T00:00:00Z"})
    assert late.json()["events"] == []


def test_metrics(ready: Ready) -> None:
    c = ready.client
    c.get("/v1/sys/keys", headers=ready.auth())
    text = c.get("/v1/sys/metrics", headers=ready.auth()).text
    assert 'strongroom_http_requests_total{method="GET",route="/v1/sys/keys",status="200"}' in text
    assert "strongroom_http_request_duration_seconds_bucket" in text
    assert "strongroom_sealed 0.0" in text
    assert c.get("/v1/sys/metrics").status_code == 401
