"""Console sign-in through the real OpenID provider: the happy path and every refusal."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from support import Ready

from identity.conftest import BASE, CLIENT_SECRET, identity_settings, make_ready
from identity.oidcop import Browser, OpenIdProvider
from strongroom.errors import SignInError
from strongroom.identity.oidc import client


def _begin(sr: Ready, return_to: str | None = None) -> str:
    params = {} if return_to is None else {"return_to": return_to}
    resp = sr.client.get("/v1/auth/oidc/corp/login", params=params, follow_redirects=False)
    assert resp.status_code == 302, resp.text
    return resp.headers["location"]


def _events(sr: Ready) -> list[dict[str, object]]:
    resp = sr.client.get("/v1/audit/events", headers=sr.auth(), params={"limit": 1000})
    assert resp.status_code == 200, resp.text
    return list(resp.json()["events"])


def drive(url: str, login: str) -> str:
    browser = Browser(BASE)
    try:
        return browser.sign_in(url, login)
    finally:
        browser.close()


def sign_in(sr: Ready, login: str = "alice", return_to: str | None = None) -> str:
    return drive(_begin(sr, return_to), login)


def test_sign_in_creates_a_server_side_session(sr: Ready, idp: OpenIdProvider) -> None:
    url = _begin(sr, "/console/apps")
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(idp.issuer + "/auth?")
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert query["redirect_uri"] == [f"{BASE}/v1/auth/oidc/corp/callback"]
    assert query["state"][0] and query["nonce"][0]
    assert "code_verifier" not in query
    cookie = sr.client.cookies.get("__Host-sr_signin")
    assert cookie
    callback = drive(url, "bob")
    assert parse_qs(urlsplit(callback).query)["iss"] == [idp.issuer]
    resp = sr.client.get(callback.removeprefix(BASE), follow_redirects=False)
    assert resp.status_code == 302, resp.text
    assert resp.headers["location"] == "/console/apps"
    set_cookie = ",".join(resp.headers.get_list("set-cookie"))
    assert "__Host-sr_console=" in set_cookie
    for attribute in ("Secure", "HttpOnly", "SameSite=strict", "Path=/"):
        assert attribute.lower() in set_cookie.lower()
    me = sr.client.get("/v1/auth/session")
    assert me.status_code == 200
    assert me.json()["subject"] == "bob@example.test"
    assert me.json()["roles"] == ["admin"]
    # Nothing secret reaches the audit trail.
    text = str(_events(sr))
    session_id = sr.client.cookies.get("__Host-sr_console")
    assert session_id and session_id not in text
    assert CLIENT_SECRET not in text and "bob@example.test" not in text
    actions = [e["action"] for e in _events(sr)]
    assert "auth.signin.begin" in actions and "auth.signin.complete" in actions


def test_the_state_is_used_once(sr: Ready) -> None:
    callback = sign_in(sr)
    assert sr.client.get(callback.removeprefix(BASE), follow_redirects=False).status_code == 302
    again = sr.client.get(callback.removeprefix(BASE), follow_redirects=False)
    assert again.status_code == 401
    assert again.json()["type"] == "urn:strongroom:problem:sign-in-failed"
    assert "unknown, used or expired" in again.json()["detail"]


def test_missing_or_forged_state_is_refused(sr: Ready) -> None:
    callback = sign_in(sr)
    query = parse_qs(urlsplit(callback).query)
    code, iss = query["code"][0], query["iss"][0]
    for params in ({"code": code, "iss": iss}, {"code": code, "iss": iss, "state": "forged"}):
        resp = sr.client.get("/v1/auth/oidc/corp/callback", params=params)
        assert resp.status_code == 401
        assert resp.json()["title"] == "Sign-in failed"
    assert sr.client.get("/v1/auth/session").status_code == 401
    denied = [e for e in _events(sr) if e["outcome"] == "denied"]
    assert len(denied) == 2


def test_a_callback_in_another_browser_is_refused(sr: Ready) -> None:
    callback = sign_in(sr)
    sr.client.cookies.delete("__Host-sr_signin")
    resp = sr.client.get(callback.removeprefix(BASE))
    assert resp.status_code == 401
    assert "another browser" in resp.json()["detail"]


def test_wrong_iss_parameter_is_refused(sr: Ready) -> None:
    callback = sign_in(sr)
    parts = urlsplit(callback)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    for iss in ("https://evil.example.test", None):
        forged = dict(query)
        if iss is None:
            forged.pop("iss")
        else:
            forged["iss"] = iss
        resp = sr.client.get(parts.path, params=forged)
        assert resp.status_code == 401
        assert "RFC 9207" in resp.json()["detail"]
        assert sr.client.get("/v1/auth/session").status_code == 401
        # The failed attempt consumed the state; start over for the next case.
        callback = sign_in(sr)
        parts = urlsplit(callback)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}


def test_repeated_parameters_are_refused(sr: Ready) -> None:
    callback = sign_in(sr)
    resp = sr.client.get(callback.removeprefix(BASE) + "&state=other")
    assert resp.status_code == 401
    assert "repeated" in resp.json()["detail"]


def test_provider_error_is_a_clear_refusal(sr: Ready, idp: OpenIdProvider) -> None:
    url = _begin(sr)
    state = parse_qs(urlsplit(url).query)["state"][0]
    resp = sr.client.get(
        "/v1/auth/oidc/corp/callback",
        params={
            "error": "access_denied",
            "error_description": "<script>",
            "state": state,
            "iss": idp.issuer,
        },
    )
    assert resp.status_code == 401
    assert resp.json()["detail"] == "the provider refused the sign-in: access_denied"


def test_the_provider_refuses_a_wrong_pkce_verifier(sr: Ready) -> None:
    callback = sign_in(sr)
    code = parse_qs(urlsplit(callback).query)["code"][0]
    provider = sr.node.identity.registry.get("corp")
    redirect = sr.node.identity.signin.redirect_uri("corp", "console")
    with pytest.raises(SignInError, match="invalid_grant"):
        client.redeem(provider, code, redirect, "another-browser-binding")


def test_the_provider_refuses_a_pkce_downgrade(sr: Ready) -> None:
    url = _begin(sr)
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    del query["code_challenge"], query["code_challenge_method"]
    with httpx.Client(follow_redirects=False) as http:
        resp = http.get(f"{parts.scheme}://{parts.netloc}{parts.path}", params=query)
    assert resp.is_redirect
    answer = parse_qs(urlsplit(resp.headers["location"]).query)
    assert answer["error"] == ["invalid_request"]
    assert "code" not in answer


def test_open_redirects_are_refused(sr: Ready) -> None:
    for target in (
        "https://evil.example.test/",
        "//evil.example.test/x",
        "/\\evil.example.test",
        "javascript:alert(1)",
        "https://notes.example.test.evil.test/",
        "https://user@notes.example.test/",
        "/ok\r\nSet-Cookie: x=1",
    ):
        resp = sr.client.get(
            "/v1/auth/oidc/corp/login", params={"return_to": target}, follow_redirects=False
        )
        assert resp.status_code == 400, target
        assert target not in resp.text
    ok = sr.client.get(
        "/v1/auth/oidc/corp/login",
        params={"return_to": "https://notes.example.test/home"},
        follow_redirects=False,
    )
    assert ok.status_code == 302


def test_redirect_uri_comes_from_configuration_only(sr: Ready) -> None:
    resp = sr.client.get(
        "/v1/auth/oidc/corp/login",
        params={"redirect_uri": "https://evil.example.test/cb"},
        follow_redirects=False,
    )
    assert resp.status_code == 302
    sent = parse_qs(urlsplit(resp.headers["location"]).query)["redirect_uri"]
    assert sent == [f"{BASE}/v1/auth/oidc/corp/callback"]


def test_unknown_provider_is_not_found(sr: Ready) -> None:
    assert sr.client.get("/v1/auth/oidc/nope/login").status_code == 404


def test_logout_needs_the_csrf_header_and_ends_the_session(sr: Ready) -> None:
    callback = sign_in(sr)
    sr.client.get(callback.removeprefix(BASE), follow_redirects=False)
    assert sr.client.get("/v1/auth/session").status_code == 200
    assert sr.client.post("/v1/auth/logout").status_code == 400
    assert sr.client.get("/v1/auth/session").status_code == 200
    assert sr.client.post("/v1/auth/logout", headers={"X-Strongroom-CSRF": "1"}).status_code == 204
    assert sr.client.get("/v1/auth/session").status_code == 401


def _session_rows(sr: Ready) -> int:
    from sqlalchemy import func, select

    from strongroom.store.models import UserSession

    with sr.node.db.transaction(read_only=True) as session:
        return int(session.execute(select(func.count()).select_from(UserSession)).scalar_one())


def test_failed_sign_ins_create_no_session(sr: Ready) -> None:
    callback = sign_in(sr)
    sr.client.get(callback.removeprefix(BASE) + "x", follow_redirects=False)
    sr.client.get("/v1/auth/oidc/corp/callback", params={"state": "s", "code": "c"})
    assert _session_rows(sr) == 0
    assert sr.client.get(callback.removeprefix(BASE), follow_redirects=False).status_code == 401
    assert _session_rows(sr) == 0


def test_a_wrong_client_secret_is_a_clear_error_without_the_secret(
    database_url: str, tmp_path: Path, idp: OpenIdProvider
) -> None:
    canary = "canary-wrong-secret-51c2"
    providers = [dict(p) for p in identity_settings(idp)["oidc_providers"]]
    providers[0]["client_secret"] = canary
    ready = make_ready(database_url, tmp_path, idp, oidc_providers=providers)
    try:
        callback = sign_in(ready)
        resp = ready.client.get(callback.removeprefix(BASE))
        assert resp.status_code == 401
        assert resp.json()["detail"] == "the provider refused the code: invalid_client"
        assert canary not in resp.text
        assert canary not in str(_events(ready))
    finally:
        ready.client.__exit__(None, None, None)
        ready.node.close()


def test_an_expired_session_is_refused(sr: Ready) -> None:
    callback = sign_in(sr)
    sr.client.get(callback.removeprefix(BASE), follow_redirects=False)
    assert sr.client.get("/v1/auth/session").status_code == 200
    from sqlalchemy import update

    from strongroom.store.models import UserSession

    with sr.node.db.transaction() as session:
        session.execute(update(UserSession).values(expires_us=1))
    assert sr.client.get("/v1/auth/session").status_code == 401


def test_a_browser_gets_an_error_page(sr: Ready) -> None:
    resp = sr.client.get(
        "/v1/auth/oidc/corp/callback",
        params={"state": "<script>alert(1)</script>", "code": "c"},
        headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"},
    )
    assert resp.status_code == 401
    assert resp.headers["content-type"].startswith("text/html")
    assert "Sign-in failed" in resp.text
    assert "unknown, used or expired" in resp.text
    assert "<script>" not in resp.text
