"""ID tokens from configured OpenID providers as RFC 8693 subject tokens.

The sign-in side (`strongroom.identity.oidc`) validates an ID token fully (signature from
the provider's JWKS, ``iss``, ``aud``, expiry, ``azp``); this adapter gives the broker what
it needs from the result: the user's Strongroom subject (their user name), their roles,
and the lineage id of the sign-in that revoking it kills descendants by: the provider's
session id (``sid``), else the ID token's ``jti``, else a digest of the ID token itself
(each sign-in gets a token of its own, so the digest names that sign-in).
"""

from __future__ import annotations

import hashlib

from strongroom.errors import SignInError, UnauthenticatedError
from strongroom.identity.oidc.idtoken import SubjectTokenVerifier as OidcVerifier
from strongroom.identity.subjects import ID_TOKEN_TYPE, VerifiedSubject, external_lineage_id


class IdTokenSubjects:
    """A `SubjectTokenVerifier` for ``urn:ietf:params:oauth:token-type:id_token``."""

    token_type = ID_TOKEN_TYPE

    def __init__(self, verifier: OidcVerifier) -> None:
        self._verifier = verifier

    def verify(self, token: str) -> VerifiedSubject:
        """The sign-in an ID token names; `UnauthenticatedError` for any bad token."""
        try:
            found = self._verifier.verify(token)
        except SignInError:
            raise UnauthenticatedError() from None
        session = found.claims.get("sid") or found.claims.get("jti")
        if not isinstance(session, str) or not session:
            session = "idt:" + hashlib.sha256(token.encode()).hexdigest()
        return VerifiedSubject(
            subject=found.username,
            issuer=found.issuer,
            roles=frozenset(found.roles),
            lineage_id=external_lineage_id(found.issuer, session),
            expires_s=found.expires_at,
            claims=found.claims,
        )
