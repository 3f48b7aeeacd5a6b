"""A small identity provider for tests: an ES256 key, its JWKS served over real HTTP on
loopback, ID tokens signed with it, and a verifier registered for the ID-token type.

The production ID-token verifier comes with OpenID Connect sign-in; this one stands in
for it so that token exchange, revocation of a sign-in and delegation can be tested.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import ec

from strongroom.crypto import jwk, jws
from strongroom.errors import JwkError, JwsError, UnauthenticatedError
from strongroom.identity.subjects import ID_TOKEN_TYPE, VerifiedSubject, external_lineage_id

GROUP_ROLES = {"sg-admins": "admin", "sg-users": "app-user", "sg-owners": "app-owner"}


def _public_jwk(key: ec.EllipticCurvePrivateKey, kid: str) -> dict[str, str]:
    numbers = key.public_key().public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": jwk.b64u_encode(numbers.x.to_bytes(32, "big")),
        "y": jwk.b64u_encode(numbers.y.to_bytes(32, "big")),
        "kid": kid,
        "alg": "ES256",
        "use": "sig",
    }


class Idp:
    """Signs ID tokens; serves its JWKS at ``jwks_url``."""

    def __init__(self, url: str) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.kid = "idp-key-1"
        self.jwks = {"keys": [_public_jwk(self.key, self.kid)]}
        self.issuer = url
        self.jwks_url = url + "/jwks"
        self.audience = "strongroom-bff"

    def id_token(self, subject: str = "alice", **claims: Any) -> str:
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.audience,
            "iat": now,
            "exp": now + 600,
            "jti": secrets.token_urlsafe(8),
            "sid": "session-" + secrets.token_hex(4),
            "groups": ["sg-admins"],
        }
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        return jws.sign(
            {"typ": "JWT", "kid": self.kid}, json.dumps(body).encode(), self.key, "ES256"
        )


class IdTokenVerifier:
    """Verifies the test provider's ID tokens against its JWKS, fetched over HTTP once."""

    token_type = ID_TOKEN_TYPE

    def __init__(self, idp: Idp) -> None:
        self.idp = idp
        self._keys: jwk.KeySet | None = None

    def _keyset(self) -> jwk.KeySet:
        if self._keys is None:
            self._keys = jwk.import_set(httpx.get(self.idp.jwks_url).json())
        return self._keys

    def verify(self, token: str) -> VerifiedSubject:
        try:
            compact = jws.verify(token, self._keyset())
            claims = jws.json_object(compact.payload)
        except (JwkError, JwsError):
            raise UnauthenticatedError() from None
        now = int(time.time())
        if (
            str(compact.header.get("typ", "JWT")).lower() == "at+jwt"
            or claims.get("iss") != self.idp.issuer
            or claims.get("aud") != self.idp.audience
            or not isinstance(claims.get("exp"), int)
            or claims["exp"] <= now
            or not isinstance(claims.get("sub"), str)
        ):
            raise UnauthenticatedError()
        roles = frozenset(GROUP_ROLES[g] for g in claims.get("groups", []) if g in GROUP_ROLES)
        session = claims.get("sid") or claims.get("jti")
        return VerifiedSubject(
            subject=claims["sub"],
            issuer=claims["iss"],
            roles=roles,
            lineage_id=external_lineage_id(claims["iss"], str(session)),
            expires_s=claims["exp"],
            claims=claims,
        )


@contextmanager
def running_idp() -> Iterator[Idp]:
    """A provider whose JWKS is served by a real HTTP server on 127.0.0.1."""
    holder: dict[str, Idp] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(holder["idp"].jwks).encode()
            status = 200 if self.path == "/jwks" else 404
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder["idp"] = Idp(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder["idp"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
