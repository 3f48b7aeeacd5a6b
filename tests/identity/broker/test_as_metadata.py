"""RFC 8414 metadata: every advertised endpoint, method and algorithm really works."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from identity.broker.brokerkit import AT, GRANT, ISSUER, Kit
from identity.broker.test_exchange import claims_of, header_of
from strongroom.crypto import jwk

WELL_KNOWN = "/.well-known/oauth-authorization-server"
_CURVES = {"ES256": (ec.SECP256R1(), 32, "P-256"), "ES384": (ec.SECP384R1(), 48, "P-384")}
_CURVES["ES512"] = (ec.SECP521R1(), 66, "P-521")
_HASHES = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}


class Signer:
    """A key pair for any JWS algorithm, with its public JWK."""

    def __init__(self, alg: str) -> None:
        self.alg = alg
        if alg == "EdDSA":
            self.key: Any = Ed25519PrivateKey.generate()
            raw = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
            self.jwk = {"kty": "OKP", "crv": "Ed25519", "x": jwk.b64u_encode(raw)}
        elif alg.startswith("ES"):
            curve, size, name = _CURVES[alg]
            self.key = ec.generate_private_key(curve)
            n = self.key.public_key().public_numbers()
            self.jwk = {
                "kty": "EC",
                "crv": name,
                "x": jwk.b64u_encode(n.x.to_bytes(size, "big")),
                "y": jwk.b64u_encode(n.y.to_bytes(size, "big")),
            }
        else:
            self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            n = self.key.public_key().public_numbers()
            self.jwk = {
                "kty": "RSA",
                "n": jwk.b64u_encode(n.n.to_bytes(256, "big")),
                "e": jwk.b64u_encode(n.e.to_bytes(3, "big")),
            }

    def sign(self, header: dict[str, Any], body: dict[str, Any]) -> str:
        head = jwk.b64u_encode(json.dumps({**header, "alg": self.alg}).encode())
        signing_input = f"{head}.{jwk.b64u_encode(json.dumps(body).encode())}".encode()
        digest = _HASHES.get(self.alg[-3:], hashes.SHA256())
        if self.alg == "EdDSA":
            signature = self.key.sign(signing_input)
        elif self.alg.startswith("ES"):
            size = _CURVES[self.alg][1]
            r, s = decode_dss_signature(self.key.sign(signing_input, ec.ECDSA(digest)))
            signature = r.to_bytes(size, "big") + s.to_bytes(size, "big")
        elif self.alg.startswith("PS"):
            pss = padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)
            signature = self.key.sign(signing_input, pss, digest)
        else:
            signature = self.key.sign(signing_input, padding.PKCS1v15(), digest)
        return f"{signing_input.decode()}.{jwk.b64u_encode(signature)}"


def metadata(kit: Kit) -> dict[str, Any]:
    resp = kit.client.get(WELL_KNOWN)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def test_the_document_names_this_server_and_only_what_it_serves(kit: Kit) -> None:
    doc = metadata(kit)
    assert doc["issuer"] == ISSUER
    assert claims_of(kit.mint("sys:read"))["iss"] == doc["issuer"]
    for name in ("token_endpoint", "jwks_uri", "revocation_endpoint", "introspection_endpoint"):
        assert doc[name].startswith(ISSUER + "/"), name
    assert "authorization_endpoint" not in doc and doc["response_types_supported"] == []
    assert doc["grant_types_supported"] == [GRANT]
    assert "tokens:create" not in doc["scopes_supported"]
    assert "sys:read" in doc["scopes_supported"]
    # RFC 8414 §3: an issuer without a path has no suffix; any other suffix is unknown.
    assert kit.client.get(WELL_KNOWN + "/other").status_code == 404


def test_the_jwks_uri_verifies_issued_tokens(kit: Kit) -> None:
    doc = metadata(kit)
    keys = kit.client.get(doc["jwks_uri"].removeprefix(ISSUER)).json()["keys"]
    token = kit.mint("sys:read")
    assert header_of(token)["kid"] in {k["kid"] for k in keys}


def _exchange(kit: Kit, doc: dict[str, Any], **extra: Any) -> Any:
    form = {"grant_type": GRANT, "subject_token": kit.mint("sys:read"), "subject_token_type": AT}
    headers = extra.pop("headers", {})
    return kit.client.post(
        doc["token_endpoint"].removeprefix(ISSUER), data={**form, **extra}, headers=headers
    )


def test_every_advertised_client_authentication_works(make_kit: Callable[..., Kit]) -> None:
    kit = make_kit(oauth_default_app_scopes=["sys:read"])
    doc = metadata(kit)
    methods = doc["token_endpoint_auth_methods_supported"]
    assert set(methods) == {"client_secret_basic", "client_secret_post", "private_key_jwt"}
    assert _exchange(kit, doc, headers=kit.basic("crm")).status_code == 200
    post = {"client_id": "hr", "client_secret": kit.secrets["hr"]}
    assert _exchange(kit, doc, **post).status_code == 200
    algs = doc["token_endpoint_auth_signing_alg_values_supported"]
    assert "none" not in algs and not any(a.startswith("HS") for a in algs)
    for alg in algs:
        signer = Signer(alg)
        public = {**signer.jwk, "kid": "k1", "alg": alg}
        name = "pkj-" + alg.lower()
        created = kit.client.post(
            "/v1/oauth/clients",
            json={"client_id": name, "auth_method": "private_key_jwt", "jwks": {"keys": [public]}},
            headers=kit.auth(),
        )
        assert created.status_code == 201, (alg, created.text)
        now = int(time.time())
        body = {
            "iss": name,
            "sub": name,
            "aud": doc["token_endpoint"],
            "exp": now + 60,
            "jti": secrets.token_urlsafe(8),
        }
        assertion = {
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": signer.sign({"kid": "k1"}, body),
        }
        resp = _exchange(kit, doc, **assertion)
        assert resp.status_code == 200, (alg, resp.text)
        assert claims_of(resp.json()["access_token"])["client_id"] == name


def test_every_advertised_dpop_algorithm_binds_a_token(kit: Kit) -> None:
    doc = metadata(kit)
    for alg in doc["dpop_signing_alg_values_supported"]:
        signer = Signer(alg)
        body = {
            "jti": secrets.token_urlsafe(12),
            "htm": "POST",
            "htu": doc["token_endpoint"],
            "iat": int(time.time()),
        }
        proof = signer.sign({"typ": "dpop+jwt", "jwk": signer.jwk}, body)
        resp = _exchange(kit, doc, scope="sys:read", headers={**kit.basic("crm"), "DPoP": proof})
        assert resp.status_code == 200, (alg, resp.text)
        assert resp.json()["token_type"] == "DPoP"
        assert claims_of(resp.json()["access_token"])["cnf"] == {"jkt": jwk.thumbprint(signer.jwk)}


@pytest.mark.parametrize("endpoint", ["revocation_endpoint", "introspection_endpoint"])
def test_revocation_and_introspection_take_the_advertised_methods(kit: Kit, endpoint: str) -> None:
    doc = metadata(kit)
    assert doc[endpoint + "_auth_methods_supported"] == doc["token_endpoint_auth_methods_supported"]
    path = doc[endpoint].removeprefix(ISSUER)
    introspect = doc["introspection_endpoint"].removeprefix(ISSUER)
    post = {"client_id": "hr", "client_secret": kit.secrets["hr"]}
    for creds, headers in (({}, kit.basic("crm")), (post, {})):
        token = _exchange(kit, doc, scope="sys:read", headers=headers, **creds).json()
        token = token["access_token"]
        resp = kit.client.post(path, data={"token": token, **creds}, headers=headers)
        assert resp.status_code == 200, resp.text
        state = kit.client.post(introspect, data={"token": token, **creds}, headers=headers)
        if endpoint == "revocation_endpoint":
            assert state.json() == {"active": False}
            assert kit.client.get("/v1/sys/keys", headers=kit.auth(token)).status_code == 401
        else:
            assert resp.json()["active"] is True and resp.json()["scope"] == "sys:read"
