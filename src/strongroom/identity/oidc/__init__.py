"""OpenID Connect relying party: providers, ID-token validation, the authorization-code flow.

`providers` holds configured providers with their discovery document and JWKS cache,
`idtoken` validates ID tokens into a `VerifiedSubject`, and `client` runs the
authorization-code flow with PKCE (S256), ``state``, ``nonce`` and the RFC 9207 ``iss``
check.
"""

from strongroom.identity.oidc.idtoken import IdTokenVerifier, SubjectTokenVerifier, VerifiedSubject
from strongroom.identity.oidc.providers import Provider, ProviderRegistry

__all__ = [
    "IdTokenVerifier",
    "Provider",
    "ProviderRegistry",
    "SubjectTokenVerifier",
    "VerifiedSubject",
]
