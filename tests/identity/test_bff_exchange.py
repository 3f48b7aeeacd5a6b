"""BFF tokens come from RFC 8693 exchange, and logout revokes them by lineage.

Signs in at the real OpenID provider; the BFF's forwarded token must look like any
exchanged token (client id, roles, lineage, audience), be audited as an exchange, and
die with its session's lineage at logout (BFF and console alike).
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from support import Ready

from identity.conftest import BASE
from identity.oidcop import Browser
from identity.test_bff import add_echo, bff_sign_in
from strongroom.call import Call
from strongroom.config import BffAppSettings
from strongroom.errors import InvalidRequestError, OAuthInvalidRequestError
from strongroom.identity.bff import ExchangedTokenSource
from strongroom.identity.exchange import operator_approvals
from strongroom.identity.signin_tokens import AUDIENCE, SIGN_IN_TOKEN_TYPE
from strongroom.store.models import AuditEvent

GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"


def claims(token: str) -> dict[str, Any]:
    body = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))


def trail(sr: Ready, action: str) -> list[dict[str, Any]]:
    with sr.node.db.transaction(read_only=True) as session:
        rows = session.execute(
            sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
        ).scalars()
        return [
            {"actor": r.actor, "outcome": r.outcome, "detail": json.loads(r.detail)} for r in rows
        ]


def forwarded_token(sr: Ready, seen: list[dict[str, Any]]) -> str:
    resp = sr.client.get("/bff/notes/api/v1/test/echo")
    assert resp.status_code == 200, resp.text
    return str(seen[-1]["headers"]["authorization"].split(" ", 1)[1])


def test_a_bff_token_is_an_exchanged_token_with_the_sessions_lineage(sr: Ready) -> None:
    seen = add_echo(sr)
    bff_sign_in(sr, "alice")
    token = forwarded_token(sr, seen)
    got = claims(token)
    assert got["client_id"] == "bff:notes"
    assert got["aud"] == sr.node.tokens.audience
    assert got["scope"] == "sys:read" and got["roles"] == ["app-owner"]
    assert got["exp"] - got["iat"] <= 60  # the app's token_ttl
    view = sr.node.identity.signin.session(sr.client.cookies.get("__Host-sr_session"), "notes")
    assert view is not None and view.lineage_id.startswith("s_")
    assert got["lin"] == [view.lineage_id]
    # The exchange is audited like any other, naming the app, the parent and the BFF.
    event = trail(sr, "oauth.token.exchange")[-1]
    assert event["outcome"] == "success" and event["actor"] == "client:bff:notes"
    assert event["detail"]["jti"] == got["jti"]
    assert event["detail"]["parent"] == view.lineage_id
    assert event["detail"]["via"] == "bff/notes"
    assert token not in str(trail(sr, "oauth.token.exchange"))


def test_logout_kills_every_token_exchanged_from_the_session(sr: Ready) -> None:
    seen = add_echo(sr)
    bff_sign_in(sr, "alice")
    token = forwarded_token(sr, seen)
    assert sr.client.get("/v1/sys/keys", headers=sr.auth(token)).status_code == 200
    # A second-generation token, exchanged from the BFF token at the public endpoint.
    child = sr.node.broker.exchange_as(
        Call("t"),
        {
            "grant_type": [GRANT],
            "subject_token": [token],
            "subject_token_type": ["urn:ietf:params:oauth:token-type:access_token"],
            "scope": ["sys:read"],
        },
        "bff:notes",
        "test",
    ).issued.access_token
    assert sr.client.get("/v1/sys/keys", headers=sr.auth(child)).status_code == 200

    done = sr.client.post("/bff/notes/logout", headers={"X-Strongroom-CSRF": "1"})
    assert done.status_code == 204
    assert sr.client.get("/v1/sys/keys", headers=sr.auth(token)).status_code == 401
    assert sr.client.get("/v1/sys/keys", headers=sr.auth(child)).status_code == 401
    revoked = trail(sr, "auth.revocations.create")[-1]
    assert revoked["detail"]["token_ids"] == [claims(token)["lin"][0]]


def test_signing_in_again_kills_the_replaced_sessions_tokens(sr: Ready) -> None:
    seen = add_echo(sr)
    bff_sign_in(sr, "alice")
    token = forwarded_token(sr, seen)
    bff_sign_in(sr, "bob")
    assert sr.client.get("/v1/sys/keys", headers=sr.auth(token)).status_code == 401
    assert sr.client.get("/bff/notes/api/v1/test/echo").status_code == 200


def test_console_logout_revokes_its_sign_in_lineage(sr: Ready) -> None:
    resp = sr.client.get("/v1/auth/oidc/corp/login", follow_redirects=False)
    browser = Browser(BASE)
    try:
        callback = browser.sign_in(resp.headers["location"], "bob")
    finally:
        browser.close()
    assert urlsplit(callback).path == "/v1/auth/oidc/corp/callback"
    assert sr.client.get(callback.removeprefix(BASE), follow_redirects=False).status_code == 302
    view = sr.node.identity.signin.session(sr.client.cookies.get("__Host-sr_console"), "console")
    assert view is not None
    source = ExchangedTokenSource(sr.node.broker, sr.node.settings.oauth_role_scopes, sr.node.clock)
    app = BffAppSettings(name="notes", provider="corp", scopes=["sys:read"])
    issued = source.token_for(Call("t"), view, app)
    assert claims(issued.access_token)["lin"] == [view.lineage_id]
    assert sr.client.get("/v1/sys/keys", headers=sr.auth(issued.access_token)).status_code == 200
    out = sr.client.post("/v1/auth/logout", headers={"X-Strongroom-CSRF": "1"})
    assert out.status_code == 204
    assert sr.client.get("/v1/sys/keys", headers=sr.auth(issued.access_token)).status_code == 401


def test_a_sign_in_token_is_no_access_token(sr: Ready) -> None:
    token = sr.node.broker.sign_in_tokens.mint(
        "alice@example.test", ("admin",), "s_" + "0" * 40, 30
    )
    assert claims(token)["aud"] == AUDIENCE
    assert sr.client.get("/v1/sys/keys", headers=sr.auth(token)).status_code == 401
    # Nor is an access token a sign-in token.
    access = sr.mint("sys:read")
    with pytest.raises(OAuthInvalidRequestError):
        sr.node.broker.exchange_as(
            Call("t"),
            {
                "grant_type": [GRANT],
                "subject_token": [access],
                "subject_token_type": [SIGN_IN_TOKEN_TYPE],
                "scope": ["sys:read"],
            },
            "bff:notes",
            "test",
        )
    assert trail(sr, "oauth.token.exchange")[-1]["outcome"] == "denied"


def test_no_scope_left_is_a_denied_refusal(sr: Ready) -> None:
    seen = add_echo(sr)
    bff_sign_in(sr, "carol")  # carol has no role the app's scopes are entitled to
    resp = sr.client.get("/bff/notes/api/v1/test/echo")
    assert resp.status_code == 403, resp.text
    assert seen == []
    assert trail(sr, "bff.token")[-1]["outcome"] == "denied"


def test_a_registered_client_cannot_take_a_bff_apps_approvals(sr: Ready) -> None:
    """The BFF exchanges as ``bff:<app>``, an id no registered client can have: a client
    named like the app gets the default approvals, not the app's."""
    approved = operator_approvals(sr.node.settings)
    assert list(approved("bff:notes")) == ["sys:read", "audit:read"]
    assert list(approved("notes")) == list(sr.node.settings.oauth_default_app_scopes)
    with pytest.raises(InvalidRequestError):
        sr.node.broker.create_client(Call("t"), "bff:notes", "client_secret_basic", None)


def test_the_apps_kill_switch_kills_its_bff_tokens(sr: Ready) -> None:
    seen = add_echo(sr)
    bff_sign_in(sr, "alice")
    token = forwarded_token(sr, seen)
    assert claims(token)["client_id"] == "bff:notes"
    assert sr.client.get("/v1/sys/keys", headers=sr.auth(token)).status_code == 200
    sr.node.broker.kill(Call("t-kill", "root"), "app", "notes")
    assert sr.client.get("/v1/sys/keys", headers=sr.auth(token)).status_code == 401
