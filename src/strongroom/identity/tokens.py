"""Access tokens: RFC 9068 JWTs signed with the keyring's Ed25519 ``token-signing`` keys.

Header: ``alg: EdDSA``, ``typ: at+jwt``, ``kid`` (the RFC 7638 thumbprint of the public
key). Claims: ``iss``, ``sub``, ``aud``, ``client_id``, ``scope``, ``jti``, ``iat``,
``nbf``, ``exp``. Verification accepts exactly that algorithm and type, a key the
keyring knows (refreshed from the store when a kid is new, so a rotation on another
replica is picked up), the configured issuer and audience, and a lifetime within the hard
ceiling. Every failure is the same `UnauthenticatedError`.
"""

from __future__ import annotations

import secrets
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc import jws, jwt
from joserfc.errors import JoseError, SecurityWarning
from joserfc.jwk import OKPKey

from strongroom.clock import Clock
from strongroom.config import TOKEN_TTL_HARD_CEILING
from strongroom.errors import InvalidRequestError, UnauthenticatedError
from strongroom.identity.principal import Principal
from strongroom.kms.keyring import Keyring, KeyVersion

PURPOSE = "token-signing"
ALGORITHM = "EdDSA"
TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
MAX_TOKEN_CHARS = 8192
CLOCK_SKEW_SECONDS = 30
_REFRESH_MIN_INTERVAL = 1.0

# RFC 9864 deprecates "EdDSA" in favour of "Ed25519"; the fully-specified name is not yet
# understood by common verifiers, so Strongroom keeps "EdDSA" (docs/adr/0003).
warnings.filterwarnings("ignore", message="EdDSA is deprecated", category=SecurityWarning)


@dataclass(frozen=True)
class IssuedToken:
    """A freshly minted token. The token string must only go to its holder."""

    access_token: str
    expires_in: int
    jti: str
    scopes: tuple[str, ...]

    def __repr__(self) -> str:
        return f"IssuedToken(jti={self.jti!r}, expires_in={self.expires_in})"


def _okp(key: KeyVersion) -> OKPKey:
    return OKPKey.import_key(Ed25519PrivateKey.from_private_bytes(key.material))


class TokenService:
    """Mints and verifies access tokens for one server."""

    def __init__(
        self,
        keyring_source: Callable[[], Keyring],
        refresh_keyring: Callable[[], None],
        clock: Clock,
        *,
        issuer: str,
        audience: str,
    ) -> None:
        self._keyring_source = keyring_source
        self._refresh_keyring = refresh_keyring
        self._clock = clock
        self.issuer = issuer
        self.audience = audience
        self._lock = threading.Lock()
        self._cache_owner: int | None = None
        self._by_kid: dict[str, OKPKey] = {}
        self._kid_by_version: dict[int, str] = {}
        self._last_refresh = 0.0

    def _keys(self) -> tuple[dict[str, OKPKey], dict[int, str]]:
        keyring = self._keyring_source()
        versions = keyring.versions(PURPOSE)
        marker = hash((id(keyring), tuple(v.version for v in versions)))
        with self._lock:
            if marker != self._cache_owner:
                by_kid: dict[str, OKPKey] = {}
                kid_by_version: dict[int, str] = {}
                for version in versions:
                    okp = _okp(version)
                    kid = okp.thumbprint()
                    by_kid[kid] = okp
                    kid_by_version[version.version] = kid
                self._by_kid, self._kid_by_version = by_kid, kid_by_version
                self._cache_owner = marker
            return self._by_kid, self._kid_by_version

    def forget(self) -> None:
        """Drop the cached signing keys (on seal)."""
        with self._lock:
            self._by_kid, self._kid_by_version, self._cache_owner = {}, {}, None

    def jwks(self) -> dict[str, Any]:
        """The public JWK Set: every live version, newest first."""
        by_kid, kid_by_version = self._keys()
        keys = []
        for version in sorted(kid_by_version, reverse=True):
            kid = kid_by_version[version]
            public = dict(by_kid[kid].as_dict(private=False))
            public.update({"kid": kid, "alg": ALGORITHM, "use": "sig"})
            keys.append(public)
        return {"keys": keys}

    def mint(self, subject: str, scopes: list[str], ttl: int, *, client_id: str) -> IssuedToken:
        """Sign a token for ``subject`` with ``scopes`` living ``ttl`` seconds."""
        if not 1 <= ttl <= TOKEN_TTL_HARD_CEILING:
            raise InvalidRequestError("ttl out of range")
        current = self._keyring_source().current(PURPOSE)
        by_kid, kid_by_version = self._keys()
        kid = kid_by_version[current.version]
        now = self._clock.now_us() // 1_000_000
        jti = secrets.token_urlsafe(16)
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.audience,
            "client_id": client_id,
            "scope": " ".join(scopes),
            "jti": jti,
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
        }
        header = {"alg": ALGORITHM, "typ": "at+jwt", "kid": kid}
        token = jwt.encode(header, claims, by_kid[kid], algorithms=[ALGORITHM])
        return IssuedToken(token, ttl, jti, tuple(scopes))

    def _key_for(self, kid: str) -> OKPKey | None:
        by_kid, _ = self._keys()
        if kid in by_kid:
            return by_kid[kid]
        # An unknown kid may come from a rotation on another replica: look once a second.
        now = time.monotonic()
        if now - self._last_refresh < _REFRESH_MIN_INTERVAL:
            return None
        self._last_refresh = now
        self._refresh_keyring()
        return self._keys()[0].get(kid)

    def verify(self, token: str) -> Principal:
        """The principal a valid token names; `UnauthenticatedError` for anything else."""
        if len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
            raise UnauthenticatedError()
        try:
            header = jws.extract_compact(token.encode("ascii")).protected
        except (JoseError, ValueError, UnicodeError):
            raise UnauthenticatedError() from None
        kid = header.get("kid")
        if (
            header.get("alg") != ALGORITHM
            or str(header.get("typ", "")).lower() not in TOKEN_TYPES
            or not isinstance(kid, str)
            or "crit" in header
        ):
            raise UnauthenticatedError()
        key = self._key_for(kid)
        if key is None:
            raise UnauthenticatedError()
        try:
            claims = jwt.decode(token, key, algorithms=[ALGORITHM]).claims
        except (JoseError, ValueError):
            raise UnauthenticatedError() from None
        return self._principal(claims)

    def _principal(self, claims: dict[str, Any]) -> Principal:
        now = self._clock.now_us() // 1_000_000
        try:
            iat, nbf, exp = (
                int(claims["iat"]),
                int(claims.get("nbf", claims["iat"])),
                int(claims["exp"]),
            )
            ok = (
                claims["iss"] == self.issuer
                and _audience_matches(claims["aud"], self.audience)
                and isinstance(claims["sub"], str)
                and isinstance(claims["jti"], str)
                and isinstance(claims.get("scope", ""), str)
                and nbf - CLOCK_SKEW_SECONDS <= now < exp
                and iat - CLOCK_SKEW_SECONDS <= now
                and 0 < exp - iat <= TOKEN_TTL_HARD_CEILING
            )
        except (KeyError, TypeError, ValueError):
            ok = False
        if not ok:
            raise UnauthenticatedError()
        return Principal(
            subject=claims["sub"],
            kind="access",
            token_id=claims["jti"],
            scopes=frozenset(str(claims.get("scope", "")).split()),
            expires_us=exp * 1_000_000,
        )


def _audience_matches(aud: Any, expected: str) -> bool:
    if isinstance(aud, str):
        return aud == expected
    return isinstance(aud, list) and expected in aud
