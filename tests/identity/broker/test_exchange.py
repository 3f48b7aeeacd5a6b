"""Token exchange (RFC 8693) at /v1/oauth/token, end to end through the API.

Every refusal is checked for its RFC 6749 error code, for ``Cache-Control: no-store``, for
issuing nothing, and for its audit event.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from identity.broker.brokerkit import AT, Kit
from strongroom.crypto import jws
from strongroom.identity.subjects import ID_TOKEN_TYPE


def claims_of(token: str) -> dict[str, Any]:
    return json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))


def header_of(token: str) -> dict[str, Any]:
    return json.loads(base64.urlsafe_b64decode(token.split(".", maxsplit=1)[0] + "=="))


def refused(resp: Any, error: str, status: int = 400) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["error"] == error
    assert isinstance(body["error_description"], str)
    assert "access_token" not in body
    assert resp.headers["cache-control"] == "no-store"
    assert resp.headers["content-type"].startswith("application/json")
    return dict(body)


def test_exchange_narrows_to_the_requested_approved_held_scopes(kit: Kit) -> None:
    parent = kit.mint("sys:read", "audit:read")
    resp = kit.exchange(parent, scope="sys:read")
    assert resp.status_code == 200, resp.text
    assert resp.headers["cache-control"] == "no-store"
    body = resp.json()
    assert body["token_type"] == "Bearer"
    assert body["issued_token_type"] == AT
    assert body["scope"] == "sys:read"
    assert 0 < body["expires_in"] <= 300
    token = body["access_token"]
    assert header_of(token)["typ"] == "at+jwt"
    claims = claims_of(token)
    assert claims["client_id"] == "crm"
    assert claims["sub"] == "alice"
    assert claims["aud"] == "strongroom"
    assert claims["lin"] == [claims_of(parent)["jti"]]
    assert claims["exp"] - claims["iat"] <= 300
    # The token works on the API, for exactly its scope.
    assert kit.client.get("/v1/sys/keys", headers=kit.auth(token)).status_code == 200
    assert kit.client.get("/v1/audit/events", headers=kit.auth(token)).status_code == 403
    # Audited with its lineage, never with the tokens.
    event = kit.events("oauth.token.exchange")[-1]
    assert event["outcome"] == "success" and event["actor"] == "client:crm"
    assert event["detail"]["parent"] == claims_of(parent)["jti"]
    assert event["detail"]["jti"] == claims["jti"]
    trail = kit.trail_text()
    assert token not in trail and parent not in trail
    assert kit.secrets["crm"] not in trail


def test_the_token_verifies_with_an_independent_library(kit: Kit) -> None:
    token = kit.exchange(kit.mint("sys:read"), scope="sys:read").json()["access_token"]
    jwks = kit.client.get("/.well-known/jwks.json").json()
    key = jwt.PyJWK(jwks["keys"][0])
    claims = jwt.decode(token, key, algorithms=["EdDSA"], audience="strongroom")
    assert claims["scope"] == "sys:read"


def test_without_scope_the_approved_held_ones_are_issued(kit: Kit) -> None:
    resp = kit.exchange(kit.mint("sys:read", "audit:read", "sys:write"))
    assert resp.status_code == 200, resp.text
    assert resp.json()["scope"].split() == ["audit:read", "sys:read"]


def test_a_scope_the_app_is_not_approved_for_is_refused(kit: Kit) -> None:
    before = len(kit.events("oauth.token.exchange"))
    resp = kit.exchange(kit.mint("sys:read", "audit:read"), "hr", post=True, scope="audit:read")
    refused(resp, "invalid_scope")
    events = kit.events("oauth.token.exchange")
    assert len(events) == before + 1
    assert events[-1]["outcome"] == "denied"
    assert events[-1]["detail"]["error"] == "oauth-invalid-scope"


def test_a_scope_the_subject_does_not_hold_is_refused(kit: Kit) -> None:
    refused(kit.exchange(kit.mint("audit:read"), scope="sys:read"), "invalid_scope")


@pytest.mark.parametrize("scope", ["tokens:create", "no:such:scope", "sys:read  x"])
def test_unknown_or_unobtainable_scopes_are_refused(kit: Kit, scope: str) -> None:
    refused(kit.exchange(kit.mint("sys:read"), scope=scope), "invalid_scope")


def test_sign_in_roles_map_to_entitlements(kit: Kit) -> None:
    admin = kit.idp.id_token("alice", groups=["sg-admins"])
    resp = kit.exchange(admin, subject_token_type=ID_TOKEN_TYPE, scope="sys:read")
    assert resp.status_code == 200, resp.text
    claims = claims_of(resp.json()["access_token"])
    assert claims["roles"] == ["admin"]
    assert claims["lin"][0].startswith("s_")
    user = kit.idp.id_token("bob", groups=["sg-users"])
    refused(kit.exchange(user, subject_token_type=ID_TOKEN_TYPE, scope="sys:read"), "invalid_scope")
    nobody = kit.idp.id_token("carol", groups=[])
    refused(kit.exchange(nobody, subject_token_type=ID_TOKEN_TYPE), "invalid_scope")


def test_exchanged_tokens_can_be_exchanged_again_only_narrower(kit: Kit) -> None:
    first = kit.exchange(kit.mint("sys:read", "audit:read"), scope="sys:read audit:read")
    child = first.json()["access_token"]
    second = kit.exchange(child, scope="sys:read")
    assert second.status_code == 200, second.text
    grandchild = claims_of(second.json()["access_token"])
    assert grandchild["lin"] == [*claims_of(child)["lin"], claims_of(child)["jti"]]
    refused(kit.exchange(second.json()["access_token"], scope="audit:read"), "invalid_scope")


def test_lifetime_never_exceeds_the_subject_token(kit: Kit) -> None:
    resp = kit.exchange(kit.mint("sys:read", ttl=40), scope="sys:read")
    assert resp.status_code == 200
    assert resp.json()["expires_in"] <= 40


def test_client_secret_post_and_basic_are_each_accepted_only_as_registered(kit: Kit) -> None:
    parent = kit.mint("sys:read")
    assert kit.exchange(parent, "hr", post=True, scope="sys:read").status_code == 200
    assert kit.exchange(parent, "crm", scope="sys:read").status_code == 200
    # Each client only with the method it registered.
    refused(kit.exchange(parent, "hr", scope="sys:read"), "invalid_client", 401)
    refused(kit.exchange(parent, "crm", post=True, scope="sys:read"), "invalid_client", 401)
    # Two methods at once are refused too.
    both = kit.exchange(parent, "hr", post=True, headers=kit.basic("hr"), scope="sys:read")
    refused(both, "invalid_client", 401)


def test_wrong_or_unknown_client_credentials_are_refused(kit: Kit) -> None:
    parent = kit.mint("sys:read")
    for headers in (kit.basic("crm", "srcs_wrong"), kit.basic("nobody", "srcs_x"), {}):
        resp = kit.client.post(
            "/v1/oauth/token",
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                "subject_token": parent,
                "subject_token_type": AT,
            },
            headers=headers,
        )
        refused(resp, "invalid_client", 401)
    assert resp.headers.get("www-authenticate") is None
    wrong = kit.exchange(parent, headers=kit.basic("crm", "srcs_wrong"))
    assert wrong.headers["www-authenticate"].startswith("Basic")
    denied = kit.events("oauth.token.exchange")[-1]
    assert denied["outcome"] == "denied" and denied["detail"]["error"] == "oauth-invalid-client"


def test_private_key_jwt_clients(kit: Kit) -> None:
    key = Ed25519PrivateKey.generate()
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    x = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    public = {"kty": "OKP", "crv": "Ed25519", "x": jws.b64u_encode(x), "kid": "k1", "use": "sig"}
    resp = kit.client.post(
        "/v1/oauth/clients",
        json={"client_id": "signer", "auth_method": "private_key_jwt", "jwks": {"keys": [public]}},
        headers=kit.auth(),
    )
    assert resp.status_code == 201 and "client_secret" not in resp.json()

    def assertion(aud: str = "http://127.0.0.1:8210/v1/oauth/token", jti: str = "a1") -> str:
        now = int(time.time())
        body = {"iss": "signer", "sub": "signer", "aud": aud, "exp": now + 60, "jti": jti}
        return jws.sign({"kid": "k1"}, json.dumps(body).encode(), key, "EdDSA")

    def call(client_assertion: str) -> Any:
        return kit.client.post(
            "/v1/oauth/token",
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                "subject_token": kit.mint("sys:read"),
                "subject_token_type": AT,
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": client_assertion,
            },
        )

    good = assertion()
    assert call(good).status_code == 200
    refused(call(good), "invalid_client", 401)  # replayed
    refused(call(assertion(aud="https://elsewhere.example/token", jti="a2")), "invalid_client", 401)
    other = Ed25519PrivateKey.generate()
    now = int(time.time())
    forged = jws.sign(
        {"kid": "k1"},
        json.dumps(
            {
                "iss": "signer",
                "sub": "signer",
                "aud": "http://127.0.0.1:8210/v1/oauth/token",
                "exp": now + 60,
                "jti": "a3",
            }
        ).encode(),
        other,
        "EdDSA",
    )
    refused(call(forged), "invalid_client", 401)


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"grant_type": "client_credentials"}, "unsupported_grant_type"),
        ({"subject_token": None}, "invalid_request"),
        ({"subject_token_type": None}, "invalid_request"),
        ({"subject_token_type": "urn:example:unknown"}, "invalid_request"),
        (
            {"requested_token_type": "urn:ietf:params:oauth:token-type:refresh_token"},
            "invalid_request",
        ),
        ({"audience": "someone-else"}, "invalid_target"),
        ({"resource": "https://elsewhere.example/api"}, "invalid_target"),
        ({"resource": "not a uri"}, "invalid_target"),
        ({"scope": ["sys:read", "sys:read"]}, "invalid_request"),
        ({"actor_token_type": AT}, "invalid_request"),
    ],
)
def test_malformed_requests(kit: Kit, params: dict[str, Any], error: str) -> None:
    form: dict[str, Any] = {
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token": kit.mint("sys:read"),
        "subject_token_type": AT,
    }
    form.update(params)
    form = {k: v for k, v in form.items() if v is not None}
    resp = kit.client.post("/v1/oauth/token", data=form, headers=kit.basic("crm"))
    refused(resp, error)
    assert kit.events("oauth.token.exchange")[-1]["outcome"] == "denied"


def test_own_audience_and_resource_are_accepted(kit: Kit) -> None:
    resp = kit.exchange(
        kit.mint("sys:read"), audience="strongroom", resource="http://127.0.0.1:8210/v1/sys"
    )
    assert resp.status_code == 200, resp.text


def test_a_json_body_is_refused_after_client_authentication(kit: Kit) -> None:
    resp = kit.client.post("/v1/oauth/token", json={"grant_type": "x"}, headers=kit.basic("crm"))
    refused(resp, "invalid_request")
    resp = kit.client.post("/v1/oauth/token", json={"grant_type": "x"})
    refused(resp, "invalid_client", 401)


def forge_access(kit: Kit, **changes: Any) -> str:
    token = kit.mint("sys:read")
    claims = claims_of(token)
    claims.update(changes)
    keyring = kit.node.keyring()
    version = keyring.current("token-signing")
    key = Ed25519PrivateKey.from_private_bytes(version.material)
    return jwt.encode(claims, key, algorithm="EdDSA", headers=header_of(token))


@pytest.mark.parametrize(
    "subject",
    ["expired", "wrong_issuer", "wrong_audience", "forged", "id_token_as_access", "garbage"],
)
def test_bad_subject_tokens_are_refused(kit: Kit, subject: str) -> None:
    now = int(time.time())
    if subject == "expired":
        token = forge_access(kit, iat=now - 400, nbf=now - 400, exp=now - 100)
    elif subject == "wrong_issuer":
        token = forge_access(kit, iss="https://evil.example")
    elif subject == "wrong_audience":
        token = forge_access(kit, aud="other")
    elif subject == "forged":
        claims = claims_of(kit.mint("sys:read"))
        token = jwt.encode(
            claims,
            Ed25519PrivateKey.generate(),
            algorithm="EdDSA",
            headers={"typ": "at+jwt", "kid": header_of(kit.mint())["kid"]},
        )
    elif subject == "id_token_as_access":
        token = kit.idp.id_token("alice")
    else:
        token = "not-a-token"
    refused(kit.exchange(token, scope="sys:read"), "invalid_request")
    event = kit.events("oauth.token.exchange")[-1]
    assert event["outcome"] == "denied"
    assert token not in kit.trail_text()


def test_an_id_token_is_not_an_access_token_on_the_api(kit: Kit) -> None:
    resp = kit.client.get("/v1/sys/keys", headers=kit.auth(kit.idp.id_token("alice")))
    assert resp.status_code == 401


def test_delegation_nests_act_and_honours_may_act(kit: Kit) -> None:
    actor = kit.mint("sys:read", subject="svc-batch")
    subject = kit.idp.id_token("alice", may_act={"sub": "svc-batch", "iss": issuer_of(kit)})
    resp = kit.exchange(
        subject,
        subject_token_type=ID_TOKEN_TYPE,
        scope="sys:read",
        actor_token=actor,
        actor_token_type=AT,
    )
    assert resp.status_code == 200, resp.text
    delegated = resp.json()["access_token"]
    assert claims_of(delegated)["act"] == {"sub": "svc-batch", "iss": issuer_of(kit)}
    # A second hop nests the first actor under the new one.
    second_actor = kit.mint("sys:read", subject="svc-relay")
    resp = kit.exchange(delegated, scope="sys:read", actor_token=second_actor, actor_token_type=AT)
    assert resp.status_code == 200, resp.text
    assert claims_of(resp.json()["access_token"])["act"] == {
        "sub": "svc-relay",
        "iss": issuer_of(kit),
        "act": {"sub": "svc-batch", "iss": issuer_of(kit)},
    }
    # may_act names someone else: refused.
    other = kit.mint("sys:read", subject="svc-intruder")
    refused(
        kit.exchange(
            subject, subject_token_type=ID_TOKEN_TYPE, actor_token=other, actor_token_type=AT
        ),
        "invalid_request",
    )


def issuer_of(kit: Kit) -> str:
    return kit.node.settings.resolved_issuer


def test_chains_longer_than_the_lineage_bound_are_refused(kit: Kit) -> None:
    token = kit.mint("sys:read")
    for _ in range(8):
        resp = kit.exchange(token, scope="sys:read")
        assert resp.status_code == 200, resp.text
        token = resp.json()["access_token"]
    refused(kit.exchange(token, scope="sys:read"), "invalid_request")


def test_approved_scopes_come_from_a_pluggable_source(kit: Kit) -> None:
    kit.node.broker.set_approved_scopes(lambda client_id: ["audit:read"])
    refused(kit.exchange(kit.mint("sys:read", "audit:read"), scope="sys:read"), "invalid_scope")
    resp = kit.exchange(kit.mint("sys:read", "audit:read"), scope="audit:read")
    assert resp.status_code == 200


@pytest.mark.parametrize("alg", ["none", "HS256"])
def test_alg_none_and_hs_confusion_subject_tokens_are_refused(kit: Kit, alg: str) -> None:
    import hashlib
    import hmac

    genuine = kit.mint("sys:read")
    header = {**header_of(genuine), "alg": alg}
    head = jws.b64u_encode(json.dumps(header).encode())
    body = genuine.split(".")[1]
    if alg == "none":
        token = f"{head}.{body}."
    else:
        jwks = kit.client.get("/.well-known/jwks.json").json()
        public = jws.b64u_decode(jwks["keys"][0]["x"])
        mac = hmac.new(public, f"{head}.{body}".encode(), hashlib.sha256).digest()
        token = f"{head}.{body}.{jws.b64u_encode(mac)}"
    refused(kit.exchange(token, scope="sys:read"), "invalid_request")
    assert kit.client.get("/v1/sys/keys", headers=kit.auth(token)).status_code == 401


@pytest.mark.parametrize(
    "authorization", ["Basic !!!", "Basic " + base64.b64encode(b"no-colon").decode(), "Digest x"]
)
def test_malformed_client_credentials_are_refused_and_audited(kit: Kit, authorization: str) -> None:
    resp = kit.exchange(kit.mint("sys:read"), headers={"Authorization": authorization})
    refused(resp, "invalid_client", 401)
    assert resp.headers["www-authenticate"].startswith("Basic")
    event = kit.events("oauth.token.exchange")[-1]
    assert event["outcome"] == "denied" and event["detail"]["error"] == "oauth-invalid-client"


def test_repeated_client_fields_are_refused(kit: Kit) -> None:
    resp = kit.client.post(
        "/v1/oauth/token",
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "client_id": ["hr", "crm"],
            "client_secret": kit.secrets["hr"],
        },
    )
    refused(resp, "invalid_client", 401)


def test_a_malformed_revocation_request_is_audited(kit: Kit) -> None:
    resp = kit.client.post("/v1/oauth/revoke", json={"token": "x"}, headers=kit.basic("crm"))
    refused(resp, "invalid_request")
    event = kit.events("oauth.token.revoke")[-1]
    assert event["outcome"] == "denied" and event["detail"]["error"] == "oauth-invalid-request"
