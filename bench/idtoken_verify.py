"""ID-token validations per second, next to the raw RS256 verify rate of `cryptography`.

Signs one realistic ID token (RS256, 2048-bit key) and times, for a fixed duration each:

- raw: `cryptography`'s RSA PKCS#1 v1.5 SHA-256 verify of the token's signing input (the
  limit: every validation must do one);
- Strongroom: `IdTokenVerifier.verify` (header checks, key lookup in the cached JWKS,
  signature by joserfc, every claim check, at_hash), with the provider's discovery and
  JWKS served in memory so no network is timed.

Prints one table; the exit code is 1 only if a validation fails.
"""

from __future__ import annotations

import argparse
import base64
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from rich.console import Console
from rich.table import Table

from strongroom.clock import SystemClock
from strongroom.config import OidcProviderSettings
from strongroom.identity.oidc.idtoken import IdTokenVerifier, at_hash
from strongroom.identity.oidc.providers import Provider

ISSUER = "https://idp.bench.example"


def rate(fn: Callable[[], Any], seconds: float) -> float:
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for _ in range(50):
            fn()
        done += 50
    return done / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig", "alg": "RS256"})
    keys = KeySet([key])
    doc = {
        "issuer": ISSUER,
        "authorization_endpoint": ISSUER + "/auth",
        "token_endpoint": ISSUER + "/token",
        "jwks_uri": ISSUER + "/jwks",
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
    }

    def serve(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("openid-configuration"):
            return httpx.Response(200, json=doc)
        return httpx.Response(200, json=keys.as_dict(private=False))

    config = OidcProviderSettings(
        name="bench", issuer=ISSUER, client_id="strongroom", client_secret="unused"
    )
    provider = Provider(
        config, httpx.Client(transport=httpx.MockTransport(serve)), allow_http=False
    )
    verifier = IdTokenVerifier(provider, SystemClock())
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": "248289761001",
        "aud": "strongroom",
        "iat": now,
        "exp": now + 3600,
        "nonce": "n-0S6_WzA2Mj",
        "email": "jane@example.com",
        "groups": ["eng", "platform"],
        "at_hash": at_hash("access-token", "RS256"),
    }
    token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key, algorithms=["RS256"])
    signing_input, _, signature_b64 = token.rpartition(".")
    signature = base64.urlsafe_b64decode(signature_b64 + "=" * (-len(signature_b64) % 4))
    public = key.get_op_key("verify")

    def raw() -> None:
        public.verify(signature, signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())

    def ours() -> None:
        verifier.verify(token, nonce="n-0S6_WzA2Mj", access_token="access-token")

    ours()
    raw_rate = rate(raw, args.seconds)
    our_rate = rate(ours, args.seconds)
    table = Table(title="ID-token validation (RS256, 2048-bit), one core")
    table.add_column("what")
    table.add_column("per second", justify="right")
    table.add_column("of raw", justify="right")
    table.add_row("cryptography RSA verify (raw limit)", f"{raw_rate:,.0f}", "100%")
    table.add_row(
        "Strongroom IdTokenVerifier.verify", f"{our_rate:,.0f}", f"{our_rate / raw_rate:.0%}"
    )
    Console().print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
