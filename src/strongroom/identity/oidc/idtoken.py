"""ID-token validation (OpenID Connect Core §3.1.3.7) into a `VerifiedSubject`.

Checks, in order: compact JWS shape and size; ``alg`` among the provider's allowed
asymmetric algorithms (never ``none`` or HS*), no unknown ``crit``; the signature with the
key its ``kid`` names in the provider's JWKS (refetched on an unknown kid); ``iss`` equal
to the provider's issuer; ``aud`` containing the client id, and ``azp`` equal to it when
present or when there are several audiences; ``exp``, ``iat`` and ``nbf`` with a leeway;
``nonce`` when the sign-in sent one; ``at_hash`` when the token carries one and an access
token came with it. Every failure is a `SignInError` naming the check, never a token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError

from strongroom.clock import Clock
from strongroom.errors import SignInError
from strongroom.identity.oidc.providers import Provider, ProviderRegistry
from strongroom.identity.scopes import RESERVED_SUBJECTS

MAX_ID_TOKEN_CHARS = 16_384
DEFAULT_LEEWAY_SECONDS = 60
MAX_ID_TOKEN_AGE_SECONDS = 86_400
_HASHES = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}


@dataclass(frozen=True)
class VerifiedSubject:
    """Who a valid ID token names. ``username`` is the Strongroom subject of the user."""

    subject: str
    issuer: str
    provider: str
    username: str
    groups: tuple[str, ...]
    roles: tuple[str, ...]
    expires_at: int
    claims: Mapping[str, Any] = field(repr=False, compare=False)

    def __repr__(self) -> str:
        return f"VerifiedSubject(provider={self.provider!r}, roles={self.roles!r})"


def _b64url_json(segment: str) -> dict[str, Any]:
    padded = segment + "=" * (-len(segment) % 4)
    value = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    if not isinstance(value, dict):
        raise ValueError("not an object")
    return value


def at_hash(access_token: str, alg: str) -> str:
    """The OIDC ``at_hash`` of ``access_token`` for a token signed with ``alg``."""
    digest = hashlib.sha512 if alg == "EdDSA" else _HASHES.get(alg[-3:])
    if digest is None:
        raise SignInError("the ID token's algorithm has no at_hash function")
    half = digest(access_token.encode("ascii")).digest()
    half = half[: len(half) // 2]
    return base64.urlsafe_b64encode(half).rstrip(b"=").decode("ascii")


class IdTokenVerifier:
    """Validates ID tokens from one provider."""

    def __init__(
        self, provider: Provider, clock: Clock, *, leeway: int = DEFAULT_LEEWAY_SECONDS
    ) -> None:
        self.provider = provider
        self._clock = clock
        self._leeway = leeway

    def verify(
        self, id_token: str, *, nonce: str | None = None, access_token: str | None = None
    ) -> VerifiedSubject:
        """Validate ``id_token``; `SignInError` naming the failed check.

        ``nonce`` is required to match when given (a sign-in always gives it); tokens
        carrying a nonce are accepted without one only when ``nonce`` is None (token
        exchange). ``access_token`` is checked against ``at_hash`` when both are present.
        """
        if len(id_token) > MAX_ID_TOKEN_CHARS or id_token.count(".") != 2:
            raise SignInError("the ID token is not a compact JWS")
        try:
            header = _b64url_json(id_token.split(".", 1)[0])
        except (ValueError, UnicodeError):
            raise SignInError("the ID token header is malformed") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.provider.config.id_token_algorithms:
            raise SignInError("the ID token's algorithm is not allowed")
        if "crit" in header:
            raise SignInError("the ID token has critical header parameters")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise SignInError("the ID token's key id is malformed")
        key = self.provider.jwks.key(kid)
        if key is None:
            raise SignInError("the ID token is signed by a key the provider does not publish")
        claims = self._decode(id_token, alg, kid, key)
        self._check_claims(claims, nonce)
        if access_token is not None and "at_hash" in claims:
            expected = at_hash(access_token, alg)
            if not hmac.compare_digest(str(claims["at_hash"]), expected):
                raise SignInError("the ID token's at_hash does not match the access token")
        return self._subject(claims)

    def _decode(self, id_token: str, alg: str, kid: str | None, key: Any) -> dict[str, Any]:
        # One retry with a refetched key when the provider reused a kid for a new key.
        for attempt in (key, None):
            current = attempt if attempt is not None else self.provider.jwks.key(kid, stale=key)
            if current is None or (attempt is None and current is key):
                break
            key_alg = current.get("alg")
            if key_alg is not None and key_alg != alg:
                raise SignInError("the ID token's algorithm does not match its key")
            try:
                return dict(jwt.decode(id_token, current, algorithms=[alg]).claims)
            except (JoseError, ValueError, TypeError):
                continue
        raise SignInError("the ID token's signature does not verify")

    def _check_claims(self, claims: dict[str, Any], nonce: str | None) -> None:
        client_id = self.provider.client_id
        if claims.get("iss") != self.provider.issuer:
            raise SignInError("the ID token comes from another issuer")
        aud = claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else aud
        if not isinstance(audiences, list) or client_id not in audiences:
            raise SignInError("the ID token is meant for another client")
        azp = claims.get("azp")
        if (len(audiences) > 1 or azp is not None) and azp != client_id:
            raise SignInError("the ID token's authorized party is another client")
        # OIDC Core §2: sub is at most 255 ASCII characters.
        if not isinstance(claims.get("sub"), str) or not 0 < len(claims["sub"]) <= 255:
            raise SignInError("the ID token has no valid subject")
        now = self._clock.now_us() // 1_000_000
        try:
            exp, iat = int(claims["exp"]), int(claims["iat"])
            nbf = int(claims.get("nbf", iat))
        except (KeyError, TypeError, ValueError):
            raise SignInError("the ID token's times are missing or malformed") from None
        if now >= exp + self._leeway:
            raise SignInError("the ID token has expired")
        if iat > now + self._leeway or nbf > now + self._leeway:
            raise SignInError("the ID token is not valid yet")
        if now - iat > MAX_ID_TOKEN_AGE_SECONDS:
            raise SignInError("the ID token is too old")
        if nonce is not None and not hmac.compare_digest(
            str(claims.get("nonce", "")).encode(), nonce.encode()
        ):
            raise SignInError("the ID token's nonce does not match the sign-in")

    def _subject(self, claims: dict[str, Any]) -> VerifiedSubject:
        config = self.provider.config
        raw_groups = claims.get(config.groups_claim, [])
        if isinstance(raw_groups, str):
            raw_groups = [raw_groups]
        groups = (
            tuple(g for g in raw_groups if isinstance(g, str))
            if isinstance(raw_groups, list)
            else ()
        )
        username = claims.get(config.username_claim)
        if not isinstance(username, str) or not 0 < len(username) <= 256:
            raise SignInError(f"the ID token has no usable {config.username_claim!r} claim")
        if username.lower() in RESERVED_SUBJECTS:
            raise SignInError("the user name is reserved for Strongroom's own actors")
        return VerifiedSubject(
            subject=claims["sub"],
            issuer=claims["iss"],
            provider=self.provider.name,
            username=username,
            groups=groups,
            roles=self.provider.roles_for(groups),
            expires_at=int(claims["exp"]),
            claims=claims,
        )


class SubjectTokenVerifier:
    """Verifies an ID token from any configured provider, picked by its ``iss``.

    The seam for token exchange (RFC 8693 ``subject_token_type`` id_token): the issuer is
    read unverified only to choose the provider; that provider's full validation follows.
    """

    def __init__(self, registry: ProviderRegistry, clock: Clock) -> None:
        self._verifiers = {p.issuer: IdTokenVerifier(p, clock) for p in registry.all()}

    def verify(self, id_token: str) -> VerifiedSubject:
        """`VerifiedSubject` of a valid ID token; `SignInError` otherwise."""
        parts = id_token.split(".")
        if len(parts) != 3 or len(id_token) > MAX_ID_TOKEN_CHARS:
            raise SignInError("the ID token is not a compact JWS")
        try:
            issuer = _b64url_json(parts[1]).get("iss")
        except (ValueError, UnicodeError):
            raise SignInError("the ID token's claims are malformed") from None
        verifier = self._verifiers.get(issuer) if isinstance(issuer, str) else None
        if verifier is None:
            raise SignInError("the ID token comes from an issuer that is not configured")
        return verifier.verify(id_token)
