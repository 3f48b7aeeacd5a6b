"""The fast lane: the hottest route served from the ASGI stack, answering exactly as the
application would (headers, problems, metrics, audit), and nothing else taken from it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from fastapi.routing import APIRoute
from starlette.requests import Request
from support import Ready

from strongroom.api.deps import _path
from strongroom.api.fastlane import FastLane
from strongroom.api.routes import secrets as secret_routes

BASE = "/v1/apps/crm/secrets"
CANARY = "CANARY-fastlane-8d1e0c"
PROBLEM = "application/problem+json"
TEMPLATE = "/v1/apps/{app}/secrets/{name}/value"


def _problem(resp: Any, status: int, slug: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == PROBLEM, resp.text
    body = dict(resp.json())
    assert body["type"] == f"urn:strongroom:problem:{slug}", body
    assert body["request_id"] == resp.headers["x-request-id"]
    return body


@pytest.fixture
def reader(ready: Ready) -> str:
    put = ready.client.put(f"{BASE}/api-key", json={"value": CANARY}, headers=ready.auth())
    assert put.status_code == 200, put.text
    return ready.mint("secrets:read:crm/api-key", subject="crm-runtime")


def test_a_read_through_the_lane_answers_as_the_application_does(ready: Ready, reader: str) -> None:
    got = ready.client.get(
        f"{BASE}/api-key/value", headers={**ready.auth(reader), "X-Request-Id": "lane-read-1"}
    )
    assert got.status_code == 200, got.text
    assert got.json() == {"id": "crm/api-key", "version": 1, "value": CANARY}
    assert got.headers["cache-control"] == "no-store"
    assert got.headers["x-request-id"] == "lane-read-1"
    assert got.headers["x-content-type-options"] == "nosniff"
    # Metrics and audit name the route, as for any other.
    text = ready.client.get("/v1/sys/metrics", headers=ready.auth()).text
    assert any(
        line.startswith("strongroom_http_requests_total{") and f'route="{TEMPLATE}"' in line
        for line in text.splitlines()
    )
    events = ready.client.get(
        "/v1/audit/events", headers=ready.auth(), params={"limit": 1000}
    ).json()["events"]
    mine = [e for e in events if e["request_id"] == "lane-read-1"]
    assert [(e["action"], e["outcome"]) for e in mine] == [("secrets.read", "success")]
    assert mine[0]["detail"] == {"secret": "crm/api-key", "version": 1}
    assert CANARY not in json.dumps(events)


def test_versions_and_their_bounds(ready: Ready, reader: str) -> None:
    ready.client.put(f"{BASE}/api-key", json={"value": "second"}, headers=ready.auth())
    first = ready.client.get(f"{BASE}/api-key/value?version=1", headers=ready.auth(reader))
    assert first.json()["value"] == CANARY
    latest = ready.client.get(f"{BASE}/api-key/value", headers=ready.auth(reader))
    assert latest.json() == {"id": "crm/api-key", "version": 2, "value": "second"}
    for bad in ("0", "-1", "x", "2147483649", "\uff11", "", "9" * 5000, "00000000001"):
        resp = ready.client.get(f"{BASE}/api-key/value", params={"version": bad},
                                headers=ready.auth(reader))  # fmt: skip
        body = _problem(resp, 422, "validation-failed")
        assert body["errors"][0]["loc"] == "query.version"
    missing = ready.client.get(f"{BASE}/api-key/value?version=9", headers=ready.auth(reader))
    _problem(missing, 404, "not-found")


def test_refusals_are_the_same_problems(ready: Ready, reader: str) -> None:
    anon = ready.client.get(f"{BASE}/api-key/value")
    _problem(anon, 401, "unauthenticated")
    assert anon.headers["www-authenticate"].startswith("Bearer")
    other = ready.mint("secrets:read:crm/other", subject="crm-runtime")
    _problem(ready.client.get(f"{BASE}/api-key/value", headers=ready.auth(other)), 403, "forbidden")
    # The root token is a person's: refused too.
    _problem(ready.client.get(f"{BASE}/api-key/value", headers=ready.auth()), 403, "forbidden")
    _problem(ready.client.get(f"{BASE}/nope/value", headers=ready.auth(reader)), 403, "forbidden")
    # Paths the route does not match go on to the application.
    _problem(ready.client.get(f"{BASE}/api-key/value/", headers=ready.auth(reader)), 404,
             "not-found")  # fmt: skip
    head = ready.client.head(f"{BASE}/api-key/value", headers=ready.auth(reader))
    assert head.status_code == 405


def test_sealed_is_503(ready: Ready, reader: str) -> None:
    ready.node.seal_manager.seal()
    resp = ready.client.get(f"{BASE}/api-key/value", headers=ready.auth(reader))
    _problem(resp, 503, "sealed")


def test_an_unexpected_failure_is_a_500_problem_without_detail(
    ready: Ready,
    reader: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError(f"boom {CANARY}")

    monkeypatch.setattr(ready.node.secrets, "read_async", broken)
    resp = ready.client.get(f"{BASE}/api-key/value", headers=ready.auth(reader))
    body = _problem(resp, 500, "internal")
    assert CANARY not in resp.text
    assert body["detail"] == "internal error"


def test_the_lane_takes_only_its_route() -> None:
    """As an ASGI unit: its route goes to the endpoint, everything else to the app."""
    route = next(r for r in secret_routes.router.routes
                 if isinstance(r, APIRoute) and r.name == "secrets.read")  # fmt: skip
    passed: list[tuple[str, str]] = []
    served: list[dict[str, str]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        passed.append((scope["method"], scope["path"]))

    async def endpoint(request: Any) -> Any:
        from starlette.responses import Response

        served.append(dict(request.path_params))
        return Response(b"{}", media_type="application/json")

    class _Node:
        async def keyring_async(self) -> None:
            return None

    lane = FastLane(app, route=route, endpoint=endpoint, node=_Node())  # type: ignore[arg-type]

    async def call(method: str, path: str) -> None:
        scope = {"type": "http", "method": method, "path": path, "headers": [],
                 "query_string": b"", "app": None}  # fmt: skip

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b""}

        async def send(message: Any) -> None:
            return None

        await lane(scope, receive, send)

    for method, path in [
        ("GET", "/v1/apps/crm/secrets/api-key/value"),
        ("GET", "/v1/apps/crm/secrets/api-key"),
        ("POST", "/v1/apps/crm/secrets/api-key/value"),
        ("GET", "/v1/apps/crm/secrets/a/b/value"),
        ("HEAD", "/v1/apps/crm/secrets/api-key/value"),
    ]:
        asyncio.run(call(method, path))
    assert served == [{"app": "crm", "name": "api-key"}]
    assert passed == [
        ("GET", "/v1/apps/crm/secrets/api-key"),
        ("POST", "/v1/apps/crm/secrets/api-key/value"),
        ("GET", "/v1/apps/crm/secrets/a/b/value"),
        ("HEAD", "/v1/apps/crm/secrets/api-key/value"),
    ]
    with pytest.raises(ValueError, match="GET"):
        post = next(r for r in secret_routes.router.routes
                    if isinstance(r, APIRoute) and "POST" in r.methods)  # fmt: skip
        FastLane(app, route=post, endpoint=endpoint, node=_Node())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "path",
    ["/v1/apps/crm/secrets/api-key/value", "/v1/a?b#c\\d/é%20/", "//x/y", "/"],
)
def test_the_path_used_for_checks_is_the_one_starlette_gives(path: str) -> None:
    scope = {"type": "http", "method": "GET", "path": path, "query_string": b"q=1",
             "headers": [(b"host", b"example.test:8200")], "scheme": "https",
             "server": ("example.test", 8200)}  # fmt: skip
    assert _path(Request(scope)) == Request(scope).url.path
