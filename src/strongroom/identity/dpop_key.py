"""A DPoP key of Strongroom's own (RFC 9449 §4): proofs for the calls it makes itself.

The BFF forwards a micro app's calls to Strongroom's API with an exchanged access token.
When policy binds one of the app's scopes to DPoP (``dpop_required_scopes``), a bearer
token would be refused for it, so the BFF binds the tokens it obtains to a key of its own
and sends a fresh proof with each forwarded call, as any DPoP client would: ``typ:
dpop+jwt``, the public key in ``jwk``, a unique ``jti``, ``htm``, ``htu``, ``iat``,
``ath`` (the token's hash) and, when the server requires one, its current nonce.

The key is an Ed25519 key made when the process starts and never stored: a token bound to
it is useless anywhere else, and a restart makes every such token unusable (each forwarded
call obtains a new one anyway).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from strongroom.clock import Clock
from strongroom.crypto import jwk, jws
from strongroom.identity.dpop import PROOF_TYPE


class DpopKey:
    """An ephemeral Ed25519 DPoP key; ``jkt`` is its RFC 7638 thumbprint."""

    def __init__(self, clock: Clock, nonce: Callable[[], str | None] = lambda: None) -> None:
        self._private = Ed25519PrivateKey.generate()
        raw = self._private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self._clock = clock
        self._nonce = nonce
        #: The public key, as proofs carry it.
        self.jwk = {"kty": "OKP", "crv": "Ed25519", "x": jwk.b64u_encode(raw)}
        self.jkt = jwk.thumbprint(self.jwk)

    def proof(self, method: str, url: str, access_token: str) -> str:
        """A proof for one call of ``method`` to ``url`` (no query or fragment) with
        ``access_token``, which must be bound to this key."""
        claims: dict[str, object] = {
            "jti": secrets.token_urlsafe(16),
            "htm": method,
            "htu": url,
            "iat": self._clock.now_us() // 1_000_000,
            "ath": jws.sha256_b64u(access_token.encode("ascii")),
        }
        nonce = self._nonce()
        if nonce is not None:
            claims["nonce"] = nonce
        payload = json.dumps(claims, separators=(",", ":")).encode("utf-8")
        return jws.sign({"typ": PROOF_TYPE, "jwk": self.jwk}, payload, self._private, "EdDSA")

    def __repr__(self) -> str:
        return f"DpopKey(jkt={self.jkt!r})"
