"""Access tokens: RFC 9068 JWTs signed with the keyring's Ed25519 ``token-signing`` keys.

Header: ``alg: EdDSA``, ``typ: at+jwt``, ``kid`` (the RFC 7638 thumbprint of the public
key). Claims: ``iss``, ``sub``, ``aud``, ``client_id``, ``scope``, ``jti``, ``iat``,
``nbf``, ``exp``; exchanged tokens add ``roles``, ``lin`` (the ``jti`` values of their
ancestors, oldest first: revoking any ancestor kills the token), ``act`` (delegation) and
``cnf.jkt`` (DPoP binding).

Verification is strict and fast: the header must be exactly what Strongroom writes
(``EdDSA``, a type of ``at+jwt``, a ``kid`` the keyring knows, no ``crit``), so ``alg:
none``, other algorithms and HS-with-the-public-key are refused before any crypto runs.
Each key is pinned to EdDSA. Signing and verifying go through libsodium
(`strongroom.crypto.ed25519`), about twice as fast as OpenSSL here. Decoded keys and
accepted header segments are cached, so a verification costs one Ed25519 verify plus one
JSON parse. Unknown kids refresh the keyring from the store (at most once a second), so a
rotation on another replica is picked up.
Every failure is the same `UnauthenticatedError`.

Tokens that passed the full check are remembered (their claims and the `Principal` they
name) in a bounded cache keyed by the SHA-256 of the token string (never the token itself),
for the key set they were verified under: a repeat presentation skips the Ed25519 verify
but still gets every claim check (times included), so no entry outlives its ``exp``. The
checks that depend only on the claims (types, issuer, audience) are remembered with the
entry for the audience they passed for; the time checks run again on every hit. The
cache is dropped on seal and whenever the signing key set changes. Revocation and DPoP are
not this module's concern: callers check them on every request, cached or not.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from json import encoder as json_encoder
from types import MappingProxyType
from typing import Any

from joserfc.errors import SecurityWarning

from strongroom.clock import Clock
from strongroom.config import TOKEN_TTL_HARD_CEILING
from strongroom.crypto import ed25519, jws
from strongroom.crypto import jwk as jwk_mod
from strongroom.errors import (
    InvalidRequestError,
    JwkError,
    JwsError,
    StrongroomError,
    UnauthenticatedError,
)
from strongroom.identity.principal import Principal
from strongroom.kms.keyring import Keyring, KeyVersion

PURPOSE = "token-signing"
ALGORITHM = "EdDSA"
TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
MAX_TOKEN_CHARS = 8192
CLOCK_SKEW_SECONDS = 30
MAX_LINEAGE = 8
_REFRESH_MIN_INTERVAL = 1.0
_HEADER_CACHE_SIZE = 256
#: Verified tokens remembered at most; beyond it expired entries go, then the oldest.
VERIFIED_CACHE_SIZE = 8192
#: A full cache is cut to this share of its size: one sweep per many inserts, not each.
_VERIFIED_CACHE_KEEP = 0.75

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


@dataclass(frozen=True, slots=True)
class UnsignedToken:
    """A token `TokenService.prepare` built, awaiting its signature (`sign`).

    Signing apart from preparing lets the event loop sign a loop iteration's tokens one
    after another (`Broker.exchange_async`): Ed25519 signing runs about twice as fast
    when its code and tables are still in the CPU's caches from the signature before.
    """

    signing_input: str
    key: ed25519.SigningKey = field(repr=False)
    expires_in: int
    jti: str
    scopes: tuple[str, ...]

    def sign(self) -> IssuedToken:
        """The signed token (its string must only go to its holder)."""
        signature = self.key.sign(self.signing_input.encode("ascii"))
        token = f"{self.signing_input}.{jwk_mod.b64u_encode(signature)}"
        return IssuedToken(token, self.expires_in, self.jti, self.scopes)


@dataclass(frozen=True)
class _SigningKey:
    kid: str
    private: ed25519.SigningKey
    public: jwk_mod.PublicKey
    jwk: dict[str, str]
    header_segment: str


#: A verified token's cache entry: the key-set marker it was verified under, its claims,
#: the principal they name, the audience they passed every check for, and their times
#: ``(nbf, iat, exp)`` (see `_check_times`).
_Verified = tuple[int, dict[str, Any], Principal, str, tuple[int, int, int]]


def _signing_key(version: KeyVersion) -> _SigningKey:
    private = ed25519.SigningKey(version.material)
    public_jwk = {"kty": "OKP", "crv": "Ed25519", "x": jwk_mod.b64u_encode(private.public)}
    kid = jwk_mod.thumbprint(public_jwk)
    public = jwk_mod.import_public({**public_jwk, "kid": kid}, alg=ALGORITHM)
    header = {"alg": ALGORITHM, "typ": "at+jwt", "kid": kid}
    segment = jwk_mod.b64u_encode(json.dumps(header, separators=(",", ":")).encode())
    return _SigningKey(kid, private, public, public_jwk, segment)


def _refuse(value: object) -> object:
    raise TypeError(f"cannot encode {type(value).__name__}")


def _claims_encoder() -> Callable[[Mapping[str, Any]], str]:
    """``json.dumps(claims, separators=(",", ":"), ensure_ascii=False)``, with CPython's C
    encoder built once rather than at every call (every mint encodes a claim set).

    Checked against `json.dumps` on a sample before use; without the C encoder, or if
    they differ, `json.dumps` itself. Claims are JSON values (no cycles), so the
    circular-reference check is left out.
    """

    def reference(claims: Mapping[str, Any]) -> str:
        return json.dumps(claims, separators=(",", ":"), ensure_ascii=False)

    make = getattr(json_encoder, "c_make_encoder", None)
    if make is None:
        return reference
    try:
        one_shot = make(
            None, _refuse, json_encoder.encode_basestring, None, ":", ",", False, False, True
        )

        def encode(claims: Mapping[str, Any]) -> str:
            return "".join(one_shot(claims, 0))

        sample = {"sub": '\u00e9\u2028\x7f"', "n": [1, -2, True, None], "act": {"sub": "a"}}
        if encode(sample) == reference(sample):
            return encode
    except (TypeError, ValueError):
        pass
    return reference


_encode_claims = _claims_encoder()


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
        self._by_kid: dict[str, _SigningKey] = {}
        self._kid_by_version: dict[int, str] = {}
        self._headers: dict[str, str] = {}
        self._last_refresh = 0.0
        # SHA-256 of a token -> its entry (see `_Verified`).
        self._verified: dict[bytes, _Verified] = {}

    def _keys(self) -> tuple[dict[str, _SigningKey], dict[int, str]]:
        keyring = self._keyring_source()
        marker = keyring.generation  # a load or a wipe changes it
        if marker == self._cache_owner:
            return self._by_kid, self._kid_by_version
        versions = keyring.versions(PURPOSE)  # SealedError once wiped
        with self._lock:
            if marker != self._cache_owner:
                by_kid: dict[str, _SigningKey] = {}
                kid_by_version: dict[int, str] = {}
                for version in versions:
                    key = _signing_key(version)
                    by_kid[key.kid] = key
                    kid_by_version[version.version] = key.kid
                self._by_kid, self._kid_by_version = by_kid, kid_by_version
                self._headers = {}
                self._verified = {}
                self._cache_owner = marker
            return self._by_kid, self._kid_by_version

    def forget(self) -> None:
        """Drop the cached signing keys (on seal)."""
        with self._lock:
            self._by_kid, self._kid_by_version, self._cache_owner = {}, {}, None
            self._headers = {}
            self._verified = {}

    def jwks(self) -> dict[str, Any]:
        """The public JWK Set: every live version, newest first."""
        by_kid, kid_by_version = self._keys()
        keys = []
        for version in sorted(kid_by_version, reverse=True):
            kid = kid_by_version[version]
            keys.append({**by_kid[kid].jwk, "kid": kid, "alg": ALGORITHM, "use": "sig"})
        return {"keys": keys}

    def mint(
        self,
        subject: str,
        scopes: list[str],
        ttl: int,
        *,
        client_id: str,
        audience: str | list[str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> IssuedToken:
        """Sign a token for ``subject`` with ``scopes`` living ``ttl`` seconds.

        ``extra`` adds claims (``roles``, ``lin``, ``act``, ``cnf``); it cannot replace
        the registered ones. `InvalidRequestError` if ``ttl`` is out of range.
        """
        return self.prepare(
            subject, scopes, ttl, client_id=client_id, audience=audience, extra=extra
        ).sign()

    def prepare(
        self,
        subject: str,
        scopes: list[str],
        ttl: int,
        *,
        client_id: str,
        audience: str | list[str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> UnsignedToken:
        """`mint` up to the signature: the token's claims, encoded, and the key to sign
        them with (`UnsignedToken.sign`). The same checks and errors as `mint`."""
        if not 1 <= ttl <= TOKEN_TTL_HARD_CEILING:
            raise InvalidRequestError("ttl out of range")
        by_kid, kid_by_version = self._keys()
        if not kid_by_version:
            raise StrongroomError("keyring has no key for this purpose")
        # The newest version is the keyring's current one (`Keyring.current`).
        key = by_kid[kid_by_version[max(kid_by_version)]]
        now = self._clock.now_us() // 1_000_000
        jti = secrets.token_urlsafe(16)
        # One dict, ``extra`` first: a registered claim it names takes the value below
        # (as ``dict.update`` would), so ``extra`` cannot replace one.
        claims: dict[str, Any] = {
            **(extra or {}),
            "iss": self.issuer,
            "sub": subject,
            "aud": self.audience if audience is None else audience,
            "client_id": client_id,
            "scope": " ".join(scopes),
            "jti": jti,
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
        }
        payload = jwk_mod.b64u_encode(_encode_claims(claims).encode("utf-8"))
        signing_input = f"{key.header_segment}.{payload}"
        return UnsignedToken(signing_input, key.private, ttl, jti, tuple(scopes))

    def _key_for(self, kid: str) -> _SigningKey | None:
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

    def _kid_of(self, segment: str) -> str:
        known = self._headers.get(segment)
        if known is not None:
            return known
        try:
            header = jws.json_object(jwk_mod.b64u_decode(segment))
        except (JwkError, JwsError):
            raise UnauthenticatedError() from None
        kid = header.get("kid")
        typ = header.get("typ")
        if (
            header.get("alg") != ALGORITHM
            or not isinstance(typ, str)
            or typ.lower() not in TOKEN_TYPES
            or not isinstance(kid, str)
            or "crit" in header
            or self._key_for(kid) is None
        ):
            raise UnauthenticatedError()
        if len(self._headers) < _HEADER_CACHE_SIZE:
            self._headers[segment] = kid
        return kid

    def _cached(self, token: str, audience: str | None) -> tuple[dict[str, Any], Principal] | None:
        """The cache entry of ``token`` if it holds one under the current keys, with its
        claims re-checked now (`UnauthenticatedError` if they no longer pass): the time
        checks always, the others unless they passed for this audience already."""
        if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
            return None
        entry = self._verified.get(hashlib.sha256(token.encode()).digest())
        if entry is None:
            return None
        self._keys()  # a changed key set (or a seal) drops the cache
        marker, claims, principal, checked_for, times = entry
        if marker != self._cache_owner:
            return None
        wanted = audience or self.audience
        if wanted == checked_for:
            _check_times(times, self._clock.now_us() // 1_000_000)
        else:
            self._check_claims(claims, wanted)
        return claims, principal

    def cached_claims(self, token: str, *, audience: str | None = None) -> dict[str, Any] | None:
        """The claims of a token verified before under the current keys, re-checked now.

        None if the token is not in the cache (verify it with `verify_claims`);
        `UnauthenticatedError` if it is but its claims no longer pass (it expired).
        Never blocks: no store access, no signature check.
        """
        entry = self._cached(token, audience)
        return None if entry is None else dict(entry[0])

    def cached(
        self, token: str, *, audience: str | None = None
    ) -> tuple[Mapping[str, Any], Principal] | None:
        """`cached_claims`, read-only, with the principal they name (`principal_of`)."""
        entry = self._cached(token, audience)
        return None if entry is None else (MappingProxyType(entry[0]), entry[1])

    def _remember(
        self,
        token: str,
        marker: int | None,
        claims: dict[str, Any],
        principal: Principal,
        checked_for: str,
        times: tuple[int, int, int],
    ) -> None:
        if marker is None or marker != self._cache_owner:
            return
        digest = hashlib.sha256(token.encode()).digest()
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            with self._lock:
                now = self._clock.now_us() // 1_000_000
                snapshot = dict(self._verified)  # one C-level copy: safe against inserts
                live = {d: e for d, e in snapshot.items() if e[4][2] > now}
                # Then the oldest, well below the bound: a cache full of live tokens is
                # swept once per many inserts rather than on each one.
                keep = int(VERIFIED_CACHE_SIZE * _VERIFIED_CACHE_KEEP)
                for oldest in list(live)[: max(len(live) - keep, 0)]:
                    del live[oldest]
                self._verified = live
        self._verified[digest] = (marker, claims, principal, checked_for, times)

    def verify_claims(self, token: str, *, audience: str | None = None) -> dict[str, Any]:
        """The claims of a valid Strongroom access token; `UnauthenticatedError` otherwise.

        Checks signature, type, issuer, audience (Strongroom's own unless ``audience``
        names another, such as the sign-in tokens' one), times and lifetime; not
        revocation (the node's `RevocationState` does that) nor DPoP binding (the caller
        does). A token verified before under the same keys skips the signature check
        (`cached_claims`).
        """
        return dict(self._verified_entry(token, audience)[0])

    def verified(
        self, token: str, *, audience: str | None = None
    ) -> tuple[Mapping[str, Any], Principal]:
        """`verify_claims`, read-only, with the principal they name (`principal_of`): both
        are remembered with the token, so a repeat presentation builds neither again."""
        claims, principal = self._verified_entry(token, audience)
        return MappingProxyType(claims), principal

    def _verified_entry(self, token: str, audience: str | None) -> tuple[dict[str, Any], Principal]:
        """The claims and principal of a valid token (shared with the cache: callers hand
        out copies or read-only views)."""
        entry = self._cached(token, audience)
        if entry is not None:
            return entry
        if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
            raise UnauthenticatedError()
        self._keys()
        marker = self._cache_owner
        head, body, sig = token.split(".")
        key = self._key_for(self._kid_of(head))
        if key is None:
            raise UnauthenticatedError()
        try:
            signature = jwk_mod.b64u_decode(sig)
            payload = jwk_mod.b64u_decode(body)
        except JwkError:
            raise UnauthenticatedError() from None
        if not key.public.verify(f"{head}.{body}".encode("ascii"), signature):
            raise UnauthenticatedError()
        try:
            claims = json.loads(payload)
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise UnauthenticatedError() from None
        if not isinstance(claims, dict):
            raise UnauthenticatedError()
        wanted = audience or self.audience
        times = self._check_claims(claims, wanted)
        principal = principal_of(claims)
        self._remember(token, marker, claims, principal, wanted, times)
        return claims, principal

    def verify(self, token: str) -> Principal:
        """The principal a valid token names; `UnauthenticatedError` for anything else."""
        return self._verified_entry(token, None)[1]

    def _check_claims(self, claims: Mapping[str, Any], audience: str) -> tuple[int, int, int]:
        """Every claim check (`UnauthenticatedError` if one fails); ``(nbf, iat, exp)``,
        what `_check_times` needs to check the times again later."""
        now = self._clock.now_us() // 1_000_000
        try:
            iat, nbf, exp = (
                int(claims["iat"]),
                int(claims.get("nbf", claims["iat"])),
                int(claims["exp"]),
            )
            lineage = claims.get("lin", [])
            cnf = claims.get("cnf", {})
            ok = (
                claims["iss"] == self.issuer
                and _audience_matches(claims["aud"], audience)
                and isinstance(claims["sub"], str)
                and isinstance(claims["jti"], str)
                and isinstance(claims.get("scope", ""), str)
                and isinstance(claims.get("client_id", ""), str)
                and isinstance(lineage, list)
                and len(lineage) <= MAX_LINEAGE
                and all(isinstance(item, str) for item in lineage)
                and isinstance(cnf, dict)
                and isinstance(cnf.get("jkt", ""), str)
                and nbf - CLOCK_SKEW_SECONDS <= now < exp
                and iat - CLOCK_SKEW_SECONDS <= now
                and 0 < exp - iat <= TOKEN_TTL_HARD_CEILING
            )
        except (KeyError, TypeError, ValueError):
            ok = False
        if not ok:
            raise UnauthenticatedError()
        return nbf, iat, exp


def _check_times(times: tuple[int, int, int], now: int) -> None:
    """The time checks of `TokenService._check_claims` (`UnauthenticatedError` if one
    fails now): the claims they come from passed every check when they were cached."""
    nbf, iat, exp = times
    if not (nbf - CLOCK_SKEW_SECONDS <= now < exp and iat - CLOCK_SKEW_SECONDS <= now):
        raise UnauthenticatedError()


def principal_of(claims: Mapping[str, Any]) -> Principal:
    """The principal named by verified access-token claims."""
    cnf = claims.get("cnf") or {}
    return Principal(
        subject=claims["sub"],
        kind="access",
        token_id=claims["jti"],
        scopes=frozenset(str(claims.get("scope", "")).split()),
        expires_us=int(claims["exp"]) * 1_000_000,
        client_id=str(claims.get("client_id", "")),
        issued_at=int(claims["iat"]),
        lineage=tuple(claims.get("lin", ())),
        jkt=cnf.get("jkt") or None,
    )


def _audience_matches(aud: Any, expected: str) -> bool:
    if isinstance(aud, str):
        return aud == expected
    return isinstance(aud, list) and expected in aud
