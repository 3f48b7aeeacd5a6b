"""The BFF end to end with the real OpenID provider: tokens never reach the browser."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import Request
from support import Ready

from identity.conftest import BASE
from identity.oidcop import Browser
from strongroom.identity import bff


def bff_sign_in(sr: Ready, login: str, return_to: str = "/notes/") -> None:
    resp = sr.client.get(
        "/bff/notes/login", params={"return_to": return_to}, follow_redirects=False
    )
    assert resp.status_code == 302, resp.text
    browser = Browser(BASE)
    try:
        callback = browser.sign_in(resp.headers["location"], login)
    finally:
        browser.close()
    assert urlsplit(callback).path == "/bff/notes/callback"
    done = sr.client.get(callback.removeprefix(BASE), follow_redirects=False)
    assert done.status_code == 302, done.text
    assert done.headers["location"] == return_to
    cookie = [c for c in done.headers.get_list("set-cookie") if c.startswith("__Host-sr_session=")]
    assert len(cookie) == 1
    lowered = cookie[0].lower()
    for attribute in ("secure", "httponly", "samesite=strict", "path=/"):
        assert attribute in lowered
    assert "domain=" not in lowered


def events(sr: Ready) -> list[dict[str, Any]]:
    resp = sr.client.get("/v1/audit/events", headers=sr.auth(), params={"limit": 1000})
    return list(resp.json()["events"])


def add_echo(sr: Ready) -> list[dict[str, Any]]:
    """A route on the API that records what the forwarded request carried."""
    seen: list[dict[str, Any]] = []

    async def echo(request: Request) -> dict[str, Any]:
        principal = sr.node.authenticate(request.headers["authorization"].split(" ", 1)[1])
        seen.append({"headers": dict(request.headers), "scopes": sorted(principal.scopes)})
        return {"subject": principal.subject}

    sr.client.app.add_api_route("/v1/test/echo", echo, methods=["GET", "POST"])  # type: ignore[attr-defined]
    return seen


def test_session_says_who_without_any_token(sr: Ready) -> None:
    bff_sign_in(sr, "alice")
    resp = sr.client.get("/bff/notes/session")
    assert resp.status_code == 200
    body = resp.json()
    assert body["subject"] == "alice@example.test"
    assert body["roles"] == ["app-owner"]
    assert set(body) == {"authenticated", "subject", "app", "provider", "roles", "expires_at"}
    assert "eyJ" not in resp.text
    # Another app's endpoints do not accept this app's session.
    assert sr.client.get("/v1/auth/session").status_code == 401


def test_api_calls_are_forwarded_with_a_narrowed_token_and_no_cookie(sr: Ready) -> None:
    seen = add_echo(sr)
    bff_sign_in(sr, "alice")
    resp = sr.client.get("/bff/notes/api/v1/test/echo", headers={"X-Extra": "kept"})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"subject": "alice@example.test"}
    forwarded = seen[-1]
    assert "cookie" not in forwarded["headers"]
    assert forwarded["headers"]["x-extra"] == "kept"
    # notes may ask for sys:read and audit:read; alice is an app-owner (sys:read only).
    assert forwarded["scopes"] == ["sys:read"]
    assert "set-cookie" not in resp.headers
    # The narrowed token works for what it allows and not for the rest.
    assert sr.client.get("/bff/notes/api/v1/sys/keys").status_code == 200
    assert sr.client.get("/bff/notes/api/v1/audit/events").status_code == 403


def test_an_admin_gets_the_apps_full_scopes_but_no_more(sr: Ready) -> None:
    seen = add_echo(sr)
    bff_sign_in(sr, "bob")
    assert sr.client.get("/bff/notes/api/v1/test/echo").status_code == 200
    assert seen[-1]["scopes"] == ["audit:read", "sys:read"]


def test_state_changing_calls_need_the_csrf_header(sr: Ready) -> None:
    seen = add_echo(sr)
    bff_sign_in(sr, "alice")
    refused = sr.client.post("/bff/notes/api/v1/test/echo", json={})
    assert refused.status_code == 400
    assert "X-Strongroom-CSRF" in refused.json()["detail"]
    assert seen == []
    assert any(e["action"] == "bff.api" and e["outcome"] == "denied" for e in events(sr))
    ok = sr.client.post("/bff/notes/api/v1/test/echo", json={}, headers={"X-Strongroom-CSRF": "1"})
    assert ok.status_code == 200
    assert "x-strongroom-csrf" not in seen[-1]["headers"]


def test_only_strongroom_api_paths_are_forwarded(sr: Ready) -> None:
    bff_sign_in(sr, "alice")
    for path in (
        "/bff/notes/api/bff/notes/session",
        "/bff/notes/api/scim/v2/Users",
        "/bff/notes/api/v1/../scim/v2/Users",
        "/bff/notes/api/v1/%2e%2e/scim/v2/Users",
        "/bff/notes/api/https://evil.example.test/v1/x",
        "/bff/notes/api/v1//sys/keys",
    ):
        resp = sr.client.get(path)
        assert resp.status_code == 400, (path, resp.status_code)
        assert "own API" in resp.json()["detail"]


def test_no_session_no_forwarding(sr: Ready) -> None:
    assert sr.client.get("/bff/notes/api/v1/sys/keys").status_code == 401
    assert sr.client.get("/bff/notes/session").status_code == 401
    assert sr.client.get("/bff/unknown/session").status_code == 401
    bff_sign_in(sr, "alice")
    assert sr.client.get("/bff/unknown/session").status_code == 404
    refused = [e for e in events(sr) if e["action"] == "bff.api" and e["outcome"] == "denied"]
    assert len(refused) == 1


def test_logout_needs_csrf_and_kills_the_session(sr: Ready) -> None:
    bff_sign_in(sr, "alice")
    assert sr.client.post("/bff/notes/logout").status_code == 400
    assert sr.client.get("/bff/notes/session").status_code == 200
    done = sr.client.post("/bff/notes/logout", headers={"X-Strongroom-CSRF": "1"})
    assert done.status_code == 204
    assert sr.client.get("/bff/notes/session").status_code == 401
    assert sr.client.get("/bff/notes/api/v1/sys/keys").status_code == 401


def test_forward_headers_strip_credentials() -> None:
    headers = bff.forward_headers(
        [("Cookie", "__Host-sr_session=s"), ("Authorization", "Basic x"), ("Accept", "a/b"),
         ("DPoP", "browser-proof")],
        {"authorization": "Bearer tok"},
    )  # fmt: skip
    assert headers == {"Accept": "a/b", "authorization": "Bearer tok"}


def test_signing_in_again_ends_the_previous_session(sr: Ready) -> None:
    bff_sign_in(sr, "alice")
    first = sr.client.cookies.get("__Host-sr_session")
    bff_sign_in(sr, "bob")
    assert sr.client.get("/bff/notes/session").json()["subject"] == "bob@example.test"
    assert sr.node.identity.signin.session(first, "notes") is None


def test_no_token_or_session_id_reaches_logs_or_the_audit_trail(
    sr: Ready, caplog: pytest.LogCaptureFixture
) -> None:
    from identity.conftest import CLIENT_SECRET

    caplog.set_level(logging.DEBUG)
    seen = add_echo(sr)
    bff_sign_in(sr, "alice")
    assert sr.client.get("/bff/notes/api/v1/test/echo").status_code == 200
    token = seen[-1]["headers"]["authorization"].split(" ", 1)[1]
    session_id = sr.client.cookies.get("__Host-sr_session")
    assert session_id
    trail = str(events(sr))
    for canary in (token, session_id, CLIENT_SECRET):
        assert canary not in caplog.text
        assert canary not in trail
    assert "eyJ" not in caplog.text


def test_the_provider_refuses_a_redirect_uri_it_does_not_know(sr: Ready) -> None:
    resp = sr.client.get("/bff/notes/login", follow_redirects=False)
    url = httpx.URL(resp.headers["location"])
    tampered = url.copy_set_param("redirect_uri", "https://evil.example.test/cb")
    with httpx.Client(follow_redirects=False) as http:
        answer = http.get(tampered)
    assert answer.status_code == 400
    assert "evil.example.test" not in answer.headers.get("location", "")
