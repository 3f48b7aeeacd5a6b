"""OAuth 2.0 Authorization Server Metadata (RFC 8414) of the token broker.

Every value is read from what the server actually does, never written out by hand: the
endpoints are the broker's routes, the authentication methods and their algorithms are
the ones `strongroom.identity.clients` accepts, the DPoP algorithms the ones
`strongroom.identity.dpop` verifies, and the grant the one `strongroom.identity.exchange`
serves. Strongroom has no authorization endpoint (users sign in at their OpenID
provider), so ``response_types_supported`` is empty and no ``authorization_endpoint`` is
named.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from strongroom.identity import scopes as scope_names
from strongroom.identity.broker import TOKEN_PATH
from strongroom.identity.clients import ASSERTION_ALGS, METHODS
from strongroom.identity.dpop import ALGORITHMS as DPOP_ALGORITHMS
from strongroom.identity.exchange import GRANT_TYPE

WELL_KNOWN = "/.well-known/oauth-authorization-server"
REVOCATION_PATH = "/v1/oauth/revoke"
INTROSPECTION_PATH = "/v1/oauth/introspect"
JWKS_PATH = "/.well-known/jwks.json"


def metadata_path(issuer: str) -> str:
    """Where the metadata of ``issuer`` is served (RFC 8414 §3: the issuer's path last)."""
    path = urlsplit(issuer).path.rstrip("/")
    return WELL_KNOWN + path


def authorization_server_metadata(issuer: str) -> dict[str, Any]:
    """The RFC 8414 document for ``issuer`` (the ``iss`` of Strongroom's tokens)."""
    base = issuer.rstrip("/")
    methods = list(METHODS)
    algs = sorted(ASSERTION_ALGS)
    return {
        "issuer": issuer,
        "token_endpoint": base + TOKEN_PATH,
        "jwks_uri": base + JWKS_PATH,
        "revocation_endpoint": base + REVOCATION_PATH,
        "introspection_endpoint": base + INTROSPECTION_PATH,
        "grant_types_supported": [GRANT_TYPE],
        "response_types_supported": [],
        "scopes_supported": sorted(s for s in scope_names.KNOWN if s not in scope_names.ROOT_ONLY),
        "token_endpoint_auth_methods_supported": methods,
        "token_endpoint_auth_signing_alg_values_supported": algs,
        "revocation_endpoint_auth_methods_supported": methods,
        "revocation_endpoint_auth_signing_alg_values_supported": algs,
        "introspection_endpoint_auth_methods_supported": methods,
        "introspection_endpoint_auth_signing_alg_values_supported": algs,
        "dpop_signing_alg_values_supported": sorted(DPOP_ALGORITHMS),
    }
