"""Sign-in tokens: how a server-side session becomes an RFC 8693 subject token.

The backend-for-frontend holds a session, not the user's ID token (ID tokens expire long
before a session does, and a stored one would be a credential at rest). To get an access
token for a session it exchanges a *sign-in token* at the token broker, through the same
code path as ``POST /v1/oauth/token``: a JWT signed with the token-signing keys for the
audience `AUDIENCE` only, so the API never accepts it as an access token. It names the
user, their roles and the session's lineage id (``sid``), lives as long as the token
the app should get (the exchanged token never outlives its subject token) and never
beyond its session, and never leaves the process.

Every token exchanged from a sign-in token carries the session's lineage id in ``lin``;
revoking that id (logout does) kills them all on their next call.
"""

from __future__ import annotations

from strongroom.errors import UnauthenticatedError
from strongroom.identity.subjects import VerifiedSubject, external_lineage_id
from strongroom.identity.tokens import TokenService

#: The RFC 8693 token type of a sign-in token (a Strongroom URN, not a registered one).
SIGN_IN_TOKEN_TYPE = "urn:strongroom:params:oauth:token-type:sign-in"  # noqa: S105
#: The audience of sign-in tokens: never Strongroom's API audience.
AUDIENCE = "urn:strongroom:sign-in"
_CLIENT_ID = "strongroom:sign-in"


def session_lineage(issuer: str, session_hash: bytes) -> str:
    """The lineage id of a session (from the SHA-256 of its id, never the id itself)."""
    return external_lineage_id(issuer, "session:" + session_hash.hex())


class SignInTokens:
    """Mints sign-in tokens for sessions and verifies them as subject tokens."""

    token_type = SIGN_IN_TOKEN_TYPE

    def __init__(self, tokens: TokenService) -> None:
        self._tokens = tokens

    def mint(self, subject: str, roles: tuple[str, ...], lineage_id: str, ttl: int) -> str:
        """A sign-in token for a live session, living ``ttl`` seconds.

        `InvalidRequestError` if ``ttl`` is out of the token service's range.
        """
        issued = self._tokens.mint(
            subject,
            [],
            ttl,
            client_id=_CLIENT_ID,
            audience=AUDIENCE,
            extra={"roles": sorted(roles), "sid": lineage_id},
        )
        return issued.access_token

    def verify(self, token: str) -> VerifiedSubject:
        """The session a valid sign-in token names; `UnauthenticatedError` otherwise."""
        claims = self._tokens.verify_claims(token, audience=AUDIENCE)
        roles, sid = claims.get("roles"), claims.get("sid")
        if (
            claims.get("aud") != AUDIENCE
            or claims.get("client_id") != _CLIENT_ID
            or not isinstance(sid, str)
            or not sid.startswith("s_")
            or not isinstance(roles, list)
            or not all(isinstance(r, str) for r in roles)
        ):
            raise UnauthenticatedError()
        return VerifiedSubject(
            subject=str(claims["sub"]),
            issuer=str(claims["iss"]),
            roles=frozenset(roles),
            lineage_id=sid,
            expires_s=int(claims["exp"]),
            claims={"iat": claims["iat"], "sub": claims["sub"]},
        )
