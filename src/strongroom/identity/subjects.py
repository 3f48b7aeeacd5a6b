"""Subject tokens for token exchange (RFC 8693): one verifier per ``subject_token_type``.

This module is the seam between sign-in and the token broker. A `SubjectTokenVerifier`
checks one kind of token and returns a `VerifiedSubject`; `SubjectVerifiers` is the
explicit registry the broker consults by the request's ``subject_token_type`` (and
``actor_token_type``). Strongroom registers `AccessTokenVerifier` for its own access
tokens; the OpenID Connect sign-in registers an ID-token verifier for
`ID_TOKEN_TYPE`. A verifier raises `UnauthenticatedError` for every bad token, whatever
the reason.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple, Protocol

from strongroom.errors import ConflictError, UnauthenticatedError
from strongroom.identity.principal import Principal
from strongroom.identity.tokens import TokenService

# Token type URIs (RFC 8693 §3), not secrets.
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"  # noqa: S105
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"  # noqa: S105


class VerifiedSubject(NamedTuple):
    """Who a verified subject (or actor) token names, and what it carries.

    ``lineage_id`` is what revoking kills descendants by: the ``jti`` of an access token,
    or a sign-in's session id (see `external_lineage_id`). ``lineage`` lists the ids of
    its own ancestors, oldest first. ``scopes`` is the ceiling an access token carries
    (None for sign-in tokens, whose ceiling comes from ``roles``). Never holds the token.
    A tuple: one is built per exchange, and a frozen dataclass costs several times more
    to build; its ``repr`` leaves the claims out.
    """

    subject: str
    issuer: str
    roles: frozenset[str]
    lineage_id: str
    lineage: tuple[str, ...] = ()
    scopes: frozenset[str] | None = None
    client_id: str | None = None
    jkt: str | None = None
    expires_s: int | None = None
    claims: Mapping[str, Any] = MappingProxyType({})

    def __repr__(self) -> str:
        return (
            f"VerifiedSubject(subject={self.subject!r}, issuer={self.issuer!r}, "
            f"lineage_id={self.lineage_id!r})"
        )

    @property
    def act(self) -> Mapping[str, Any] | None:
        """The ``act`` claim (the chain of current and prior actors), if any."""
        act = self.claims.get("act")
        return act if isinstance(act, Mapping) else None

    @property
    def may_act(self) -> Mapping[str, Any] | None:
        """The ``may_act`` claim (who may act for this subject), if any."""
        may_act = self.claims.get("may_act")
        return may_act if isinstance(may_act, Mapping) else None


class SubjectTokenVerifier(Protocol):
    """Verifies one kind of subject token."""

    @property
    def token_type(self) -> str:
        """The RFC 8693 token type URI this verifier handles."""

    def verify(self, token: str) -> VerifiedSubject:
        """The subject of a valid token; `UnauthenticatedError` for any other."""


class SubjectVerifiers:
    """An explicit registry of subject token verifiers, keyed by token type URI."""

    def __init__(self) -> None:
        self._by_type: dict[str, SubjectTokenVerifier] = {}

    def register(self, verifier: SubjectTokenVerifier, *, replace: bool = False) -> None:
        """Add ``verifier`` for its token type; `ConflictError` if one is there already."""
        if verifier.token_type in self._by_type and not replace:
            raise ConflictError("a verifier for that token type is registered already")
        self._by_type[verifier.token_type] = verifier

    def get(self, token_type: str) -> SubjectTokenVerifier | None:
        """The verifier for ``token_type``, or None if the type is not supported."""
        return self._by_type.get(token_type)

    def types(self) -> list[str]:
        """The token types that can be exchanged, sorted."""
        return sorted(self._by_type)


def external_lineage_id(issuer: str, session: str) -> str:
    """The lineage id of a sign-in at ``issuer`` (its ``sid``, else its ID token's ``jti``).

    Short and fixed-length, so any provider's session id fits the revocation table and
    none appears verbatim in Strongroom's tokens.
    """
    digest = hashlib.sha256(f"{issuer}\x00{session}".encode()).hexdigest()
    return "s_" + digest[:40]


class AccessTokenVerifier:
    """Verifies Strongroom's own access tokens as subject or actor tokens.

    ``check_revoked`` is the node's revocation check: a revoked or killed token cannot be
    exchanged.
    """

    token_type = ACCESS_TOKEN_TYPE

    def __init__(self, tokens: TokenService, check_revoked: Callable[[Principal], None]) -> None:
        self._tokens = tokens
        self._check_revoked = check_revoked

    def verify(self, token: str) -> VerifiedSubject:
        claims, principal = self._tokens.verified(token)
        self._check_revoked(principal)
        roles = claims.get("roles", [])
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise UnauthenticatedError()
        return VerifiedSubject(
            subject=principal.subject,
            issuer=str(claims["iss"]),
            roles=frozenset(roles),
            lineage_id=principal.token_id,
            lineage=principal.lineage,
            scopes=principal.scopes,
            client_id=principal.client_id or None,
            jkt=principal.jkt,
            expires_s=int(claims["exp"]),
            claims=claims,
        )
