"""Sign-in through the real OpenID provider, then RFC 8693 exchange (issue 3, "Done when").

A user signs in at the real `oidc-provider`; a micro app (an OAuth client) exchanges the
user's ID token for a narrowed access token; a scope the app is not approved for is
refused although the user's role allows it; revoking the sign-in kills the derived token
on its next call; SCIM deprovisioning kills the user's tokens.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support import Ready

from identity.conftest import BASE, make_ready
from identity.oidcop import Browser, OpenIdProvider
from strongroom.identity.oidc import client
from strongroom.identity.scim.schemas import PATCH, USER
from strongroom.identity.subjects import ID_TOKEN_TYPE

APP = "notes-app"
GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"


@pytest.fixture
def sr(database_url: str, tmp_path: Path, idp: OpenIdProvider) -> Iterator[Ready]:
    ready = make_ready(database_url, tmp_path, idp, oauth_app_scopes={APP: ["sys:read"]})
    yield ready
    ready.client.__exit__(None, None, None)
    ready.node.close()


def id_token_of(sr: Ready, login: str) -> str:
    provider = sr.node.identity.registry.get("corp")
    redirect = sr.node.identity.signin.redirect_uri("corp", "console")
    request = client.begin(provider, redirect)
    browser = Browser(BASE)
    try:
        callback = browser.sign_in(request.url, login)
    finally:
        browser.close()
    params = dict(httpx.URL(callback).params)
    tokens = client.redeem(
        provider, client.read_callback(provider, params), redirect, request.binding
    )
    return str(tokens.id_token)


def register(sr: Ready) -> dict[str, str]:
    resp = sr.client.post(
        "/v1/oauth/clients",
        json={"client_id": APP, "auth_method": "client_secret_basic"},
        headers=sr.auth(),
    )
    assert resp.status_code == 201, resp.text
    raw = f"{APP}:{resp.json()['client_secret']}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def exchange(sr: Ready, basic: dict[str, str], id_token: str, scope: str) -> httpx.Response:
    form = {
        "grant_type": GRANT,
        "subject_token": id_token,
        "subject_token_type": ID_TOKEN_TYPE,
        "scope": scope,
    }
    return sr.client.post("/v1/oauth/token", data=form, headers=basic)


def claims(token: str) -> dict[str, object]:
    body = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))


def test_a_real_sign_in_exchanges_to_a_narrowed_token_that_revocation_kills(sr: Ready) -> None:
    basic = register(sr)
    id_token = id_token_of(sr, "bob")  # bob is in the provider's "platform" group: admin
    resp = exchange(sr, basic, id_token, "sys:read")
    assert resp.status_code == 200, resp.text
    assert resp.headers["cache-control"] == "no-store"
    token = resp.json()["access_token"]
    got = claims(token)
    assert got["scope"] == "sys:read" and got["client_id"] == APP
    assert got["sub"] == "bob@example.test" and got["roles"] == ["admin"]
    keys = sr.client.get("/v1/sys/keys", headers=sr.auth(token))
    assert keys.status_code == 200

    # An admin may read the audit trail, but the app is not approved for it.
    refused = exchange(sr, basic, id_token, "audit:read")
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_scope"
    # A tampered ID token is refused and nothing is issued.
    head, body, sig = id_token.split(".")
    forged = exchange(sr, basic, f"{head}.{body[:-2]}AA.{sig}", "sys:read")
    assert forged.status_code == 400 and "access_token" not in forged.json()

    # Revoking the sign-in (the lineage root every exchanged token names) kills the token.
    lineage = got["lin"]
    assert isinstance(lineage, list) and str(lineage[0]).startswith("s_")
    revoke = sr.client.post(
        "/v1/auth/revocations", json={"token_ids": [lineage[0]]}, headers=sr.auth()
    )
    assert revoke.status_code == 204, revoke.text
    assert sr.client.get("/v1/sys/keys", headers=sr.auth(token)).status_code == 401
    again = exchange(sr, basic, id_token, "sys:read")
    assert again.status_code == 400 and again.json()["error"] == "invalid_request"


def test_scim_deprovisioning_kills_exchanged_tokens(sr: Ready) -> None:
    basic = register(sr)
    scim = {**sr.auth(sr.mint("scim:provision")), "Content-Type": "application/scim+json"}
    created = sr.client.post(
        "/scim/v2/Users", json={"schemas": [USER], "userName": "bob@example.test"}, headers=scim
    )
    assert created.status_code == 201, created.text
    token = exchange(sr, basic, id_token_of(sr, "bob"), "sys:read").json()["access_token"]
    assert sr.client.get("/v1/sys/keys", headers=sr.auth(token)).status_code == 200
    off = {"op": "replace", "path": "active", "value": False}
    resp = sr.client.patch(
        f"/scim/v2/Users/{created.json()['id']}",
        json={"schemas": [PATCH], "Operations": [off]},
        headers=scim,
    )
    assert resp.status_code == 200, resp.text
    assert sr.client.get("/v1/sys/keys", headers=sr.auth(token)).status_code == 401
