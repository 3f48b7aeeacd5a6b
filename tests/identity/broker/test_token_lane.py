"""The token endpoint through the API's fast lane: the same answers as through the
framework (status, headers, bodies, problems, audit), the same body limit, and nothing
else taken from the framework."""

from __future__ import annotations

import asyncio
import base64
import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.responses import Response

from identity.broker.brokerkit import AT, GRANT, Kit
from strongroom.api.fastlane import FastLane
from strongroom.api.middleware import EdgeMiddleware
from strongroom.api.routes import oauth
from strongroom.api.routes import secrets as secret_routes

TOKEN = "/v1/oauth/token"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
#: Headers that differ between any two answers.
VARYING = {"date", "x-request-id", "content-length"}


def _framework(kit: Kit) -> TestClient:
    """A client of the same application without the lane: edge middleware, then FastAPI.
    Not entered, so the application's lifespan is not run a second time."""
    app = kit.client.app
    assert isinstance(app, FastAPI)
    edge = EdgeMiddleware(functools.partial(FastAPI.__call__, app), metrics=app.state.metrics)
    return TestClient(edge, raise_server_exceptions=False)


def _basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def _same(lane: Any, framework: Any) -> None:
    assert lane.status_code == framework.status_code, (lane.text, framework.text)
    strip = lambda r: [(k, v) for k, v in r.headers.items() if k not in VARYING]  # noqa: E731
    assert strip(lane) == strip(framework)
    if lane.headers["content-type"] == "application/problem+json":
        # A problem names its request: the same shape, each with its own id.
        mine, theirs = lane.json(), framework.json()
        assert mine.pop("request_id") == lane.headers["x-request-id"]
        assert theirs.pop("request_id") == framework.headers["x-request-id"]
        assert mine == theirs
    else:
        assert lane.content == framework.content


def _requests(kit: Kit) -> list[tuple[str, bytes, dict[str, str]]]:
    good = _basic("crm", kit.secrets["crm"])
    subject = kit.mint("sys:read", subject="lane-user")
    form = {"grant_type": GRANT, "subject_token": subject, "subject_token_type": AT}
    body = urlencode(form).encode()
    return [
        ("no client", body, FORM),
        ("wrong secret", body, {**FORM, "Authorization": _basic("crm", "nope")}),
        ("bad basic", body, {**FORM, "Authorization": "Basic !!!"}),
        (
            "json body",
            b'{"grant_type": "x"}',
            {"Content-Type": "application/json", "Authorization": good},
        ),
        ("not a form", b"a=1&&=&%zz", {**FORM, "Authorization": good}),
        ("repeated", body + b"&grant_type=x", {**FORM, "Authorization": good}),
        ("bad scope", body + b"&scope=audit%3Aread", {**FORM, "Authorization": good}),
        ("foreign audience", body + b"&audience=other", {**FORM, "Authorization": good}),
        (
            "wrong grant",
            body.replace(b"token-exchange", b"jwt-bearer"),
            {**FORM, "Authorization": good},
        ),
        (
            "forged subject",
            body.replace(subject[-6:].encode(), b"AAAAAA"),
            {**FORM, "Authorization": good},
        ),
        (
            "two proofs",
            body,
            [
                ("Authorization", good),
                ("DPoP", "a"),
                ("DPoP", "b"),
                ("Content-Type", FORM["Content-Type"]),
            ],
        ),  # type: ignore[list-item]
    ]


def test_refusals_are_the_frameworks_answers(kit: Kit) -> None:
    framework = _framework(kit)
    for name, body, headers in _requests(kit):
        lane = kit.client.post(TOKEN, content=body, headers=headers)
        other = framework.post(TOKEN, content=body, headers=headers)
        assert lane.status_code >= 400, name
        _same(lane, other)
        assert lane.headers["cache-control"] == "no-store", name


def test_an_exchange_answers_as_through_the_framework(kit: Kit) -> None:
    framework = _framework(kit)
    subject = kit.mint("sys:read", "audit:read", subject="lane-user")
    form = {
        "grant_type": GRANT,
        "subject_token": subject,
        "subject_token_type": AT,
        "scope": "sys:read",
    }
    headers = {**FORM, "Authorization": _basic("crm", kit.secrets["crm"]), "X-Request-Id": "l-1"}
    lane = kit.client.post(TOKEN, content=urlencode(form), headers=headers)
    other = framework.post(
        TOKEN, content=urlencode(form), headers={**headers, "X-Request-Id": "f-1"}
    )
    assert lane.status_code == other.status_code == 200, (lane.text, other.text)
    assert lane.headers["x-request-id"] == "l-1"
    strip = lambda r: [(k, v) for k, v in r.headers.items() if k not in VARYING]  # noqa: E731
    assert strip(lane) == strip(other)
    got, reference = lane.json(), other.json()
    assert got.keys() == reference.keys()
    assert {k: v for k, v in got.items() if k != "access_token"} == {
        k: v for k, v in reference.items() if k != "access_token"
    }
    assert got["access_token"] != reference["access_token"]
    # The token works, and the event names the request and the route's action.
    check = kit.client.get("/v1/sys/seal-status", headers=kit.auth(got["access_token"]))
    assert check.status_code == 200
    events = kit.events("oauth.token.exchange")
    assert [e["outcome"] for e in events[-2:]] == ["success", "success"]


def test_a_refused_client_is_audited_once(kit: Kit) -> None:
    subject = kit.mint("sys:read", subject="lane-user")
    before = len(kit.events("oauth.token.exchange"))
    resp = kit.exchange(subject, headers={"Authorization": _basic("crm", "wrong")})
    assert resp.status_code == 401
    assert resp.json()["error"] == "invalid_client"
    events = kit.events("oauth.token.exchange")
    assert len(events) == before + 1
    assert events[-1]["outcome"] == "denied"
    assert events[-1]["detail"] == {"error": "oauth-invalid-client"}


@pytest.mark.parametrize("declared", [True, False])
def test_the_body_limit_is_the_frameworks(make_kit: Callable[..., Kit], declared: bool) -> None:
    kit = make_kit(max_body_bytes=2048)
    framework = _framework(kit)
    body = b"grant_type=" + b"x" * 4096
    headers = {**FORM, "Authorization": _basic("crm", kit.secrets["crm"])}

    def chunks() -> Any:
        # Without a declared length the body arrives in pieces; the limit still holds.
        yield body[:1500]
        yield body[1500:]

    before = len(kit.events("oauth.token.exchange"))
    if declared:
        lane = kit.client.post(TOKEN, content=body, headers=headers)
        other = framework.post(TOKEN, content=body, headers=headers)
    else:
        lane = kit.client.post(TOKEN, content=chunks(), headers=headers)
        other = framework.post(TOKEN, content=chunks(), headers=headers)
    assert lane.status_code == 413
    assert lane.headers["content-type"] == "application/problem+json"
    _same(lane, other)
    # Refused before the endpoint: nothing exchanged, nothing recorded.
    assert len(kit.events("oauth.token.exchange")) == before


def test_sealed_is_the_frameworks_503(kit: Kit) -> None:
    framework = _framework(kit)
    body = urlencode({"grant_type": GRANT, "subject_token": "x", "subject_token_type": AT})
    headers = {**FORM, "Authorization": _basic("crm", kit.secrets["crm"])}
    kit.node.seal_manager.seal()
    lane = kit.client.post(TOKEN, content=body, headers=headers)
    other = framework.post(TOKEN, content=body, headers=headers)
    assert lane.status_code == 503
    _same(lane, other)


def test_other_methods_and_paths_go_to_the_framework(kit: Kit) -> None:
    assert kit.client.get(TOKEN).status_code == 405
    assert kit.client.post(TOKEN + "/").status_code == 404
    # The other form endpoints are not in the lane and still answer.
    revoke = kit.client.post(
        "/v1/oauth/revoke",
        data={"token": "x"},
        headers={"Authorization": _basic("crm", kit.secrets["crm"])},
    )
    assert revoke.status_code == 200


def _routes() -> tuple[APIRoute, APIRoute, APIRoute]:
    found = {
        r.name: r
        for r in (*secret_routes.router.routes, *oauth.router.routes)
        if isinstance(r, APIRoute)
    }
    return found["secrets.read"], found["oauth.token.exchange"], found["secrets.write"]


def test_the_lane_takes_only_its_form_routes() -> None:
    """As an ASGI unit: the form route's body reaches its endpoint, others the app."""
    hot, token, put = _routes()
    passed: list[tuple[str, str]] = []
    served: list[bytes] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        passed.append((scope["method"], scope["path"]))

    async def endpoint(request: Any) -> Response:
        served.append(await request.body())
        return Response(b"{}", media_type="application/json")

    class _Node:
        async def keyring_async(self) -> None:
            return None

    lane = FastLane(
        app,
        hot,
        endpoint,
        _Node(),
        forms=[(token, endpoint)],  # type: ignore[arg-type]
        max_body_bytes=1024,
    )

    async def call(method: str, path: str, body: bytes) -> None:
        scope = {
            "type": "http",
            "method": method,
            "path": path,
            "headers": [],
            "query_string": b"",
            "app": None,
        }
        parts = [body[:3], body[3:]]

        async def receive() -> dict[str, Any]:
            chunk = parts.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(parts)}

        async def send(message: Any) -> None:
            return None

        await lane(scope, receive, send)

    asyncio.run(call("POST", TOKEN, b"grant_type=x"))
    asyncio.run(call("POST", "/v1/oauth/revoke", b"token=x"))
    asyncio.run(call("PUT", TOKEN, b"a=b"))
    assert served == [b"grant_type=x"]
    assert passed == [("POST", "/v1/oauth/revoke"), ("PUT", TOKEN)]
    with pytest.raises(ValueError, match="POST"):
        FastLane(app, hot, endpoint, _Node(), forms=[(hot, endpoint)], max_body_bytes=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="fixed path"):
        FastLane(app, hot, endpoint, _Node(), forms=[(put, endpoint)], max_body_bytes=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="body limit"):
        FastLane(app, hot, endpoint, _Node(), forms=[(token, endpoint)])  # type: ignore[arg-type]


def test_token_requests_skip_the_framework(kit: Kit) -> None:
    app = kit.client.app
    assert isinstance(app, FastAPI)
    assert kit.client.get("/v1/sys/health").status_code == 200  # builds the stack
    inner = app.middleware_stack
    assert inner is not None
    seen: list[str] = []

    async def counting(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["path"])
        await inner(scope, receive, send)

    subject = kit.mint("sys:read", subject="lane-user")
    app.middleware_stack = counting
    assert kit.exchange(subject, scope="sys:read").status_code == 200
    assert kit.exchange(subject, scope="nope:x").status_code == 400
    revoke = kit.client.post(
        "/v1/oauth/revoke",
        data={"token": "x"},
        headers={"Authorization": _basic("crm", kit.secrets["crm"])},
    )
    assert revoke.status_code == 200
    assert seen == ["/v1/oauth/revoke"]
