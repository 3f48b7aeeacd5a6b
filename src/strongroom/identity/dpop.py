"""DPoP proofs (RFC 9449): checked in full at the token endpoint and on every API call.

The check list of RFC 9449 §4.3: one compact JWS; ``typ: dpop+jwt``; an asymmetric
algorithm from `ALGORITHMS`; a public ``jwk`` header (no private members) that verifies
the signature, pinned to the header's algorithm; ``jti``, ``htm``, ``htu``, ``iat``
present; ``htm`` equal to the request's method; ``htu`` equal to the request's URI with
query and fragment ignored, scheme and host case-folded and default ports dropped; ``iat``
no older than ``max_age`` and no more than `FUTURE_SKEW_SECONDS` ahead; ``ath`` equal to
the hash of the access token when one is presented; a server ``nonce`` when required; and a
``(jkt, jti)`` pair never seen before (the replay cache).

Failures raise `InvalidDpopProofError`, or `UseDpopNonceError` carrying a fresh
``DPoP-Nonce`` header when a nonce is missing or stale.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from strongroom.clock import Clock
from strongroom.crypto import jwk, jws
from strongroom.errors import (
    InvalidDpopProofError,
    JwkError,
    JwsError,
    StoreError,
    UseDpopNonceError,
)
from strongroom.store.engine import Database
from strongroom.store.repositories import oauth as repo

ALGORITHMS = frozenset({"EdDSA", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"})
FUTURE_SKEW_SECONDS = 5
MAX_JTI_CHARS = 128
NONCE_WINDOW_SECONDS = 60
PROOF_TYPE = "dpop+jwt"


def normalise_uri(uri: str) -> str:
    """The form ``htu`` is compared in: lower-case scheme and host, no default port,
    no query or fragment, ``/`` for an empty path. `ValueError` if not an http(s) URI."""
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not an http(s) URI")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    default = {"http": 80, "https": 443}[scheme]
    netloc = host if port in (None, default) else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path or '/'}"


class ReplayCache(Protocol):
    """Remembers used proofs until they expire."""

    def first_use(self, digest: bytes, expires_us: int) -> bool:
        """Record ``digest``; False if it was recorded before and has not expired."""


class MemoryReplayCache:
    """Used proofs in this process only: a proof replayed to another replica is not seen.

    Bounded: when ``max_entries`` live entries are held, new proofs are refused (fail
    closed) until old ones expire.
    """

    def __init__(self, clock: Clock, max_entries: int = 1_000_000) -> None:
        self._clock = clock
        self._max = max_entries
        self._seen: dict[bytes, int] = {}
        self._lock = threading.Lock()

    def first_use(self, digest: bytes, expires_us: int) -> bool:
        now = self._clock.now_us()
        with self._lock:
            previous = self._seen.get(digest)
            if previous is not None and previous > now:
                return False
            if len(self._seen) >= self._max:
                self._seen = {k: v for k, v in self._seen.items() if v > now}
                if len(self._seen) >= self._max:
                    return False
            self._seen[digest] = expires_us
            return True


class DatabaseReplayCache:
    """Used proofs in the shared database: a replay to any replica is refused."""

    def __init__(self, database: Database, clock: Clock) -> None:
        self._db = database
        self._clock = clock
        self._uses = 0

    def first_use(self, digest: bytes, expires_us: int) -> bool:
        now = self._clock.now_us()
        with self._db.transaction() as session:
            fresh = repo.first_use(session, digest, expires_us, now)
            self._uses += 1
            if self._uses % 1000 == 0:
                repo.purge_proofs(session, now)
        return fresh


class RedisReplayCache:
    """Used proofs in Redis (``SET NX PX``): a replay to any replica sharing it is refused.

    If Redis cannot be reached the proof is refused (fail closed) with `StoreError`.
    """

    def __init__(self, url: str, clock: Clock) -> None:
        import redis  # noqa: PLC0415 - only servers configured for Redis load the client

        self._redis = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        self._errors: tuple[type[Exception], ...] = (redis.RedisError,)
        self._clock = clock

    def first_use(self, digest: bytes, expires_us: int) -> bool:
        ttl_ms = max(1, (expires_us - self._clock.now_us()) // 1000)
        try:
            return bool(self._redis.set(b"strongroom:proof:" + digest, b"1", nx=True, px=ttl_ms))
        except self._errors:
            raise StoreError("the replay cache (Redis) cannot be reached") from None


class NonceSource:
    """Stateless server nonces: a time window and its HMAC under a keyring key.

    A nonce is valid in its window and the next one, on every replica sharing the key.
    """

    def __init__(self, key: Callable[[], bytes], clock: Clock) -> None:
        self._key = key
        self._clock = clock

    def _mac(self, window: int) -> bytes:
        message = b"strongroom/dpop-nonce/v1\x00" + struct.pack(">Q", window)
        return hmac.new(self._key(), message, hashlib.sha256).digest()[:16]

    def _window(self) -> int:
        return self._clock.now_us() // 1_000_000 // NONCE_WINDOW_SECONDS

    def issue(self) -> str:
        """A nonce for the current window."""
        window = self._window()
        return jwk.b64u_encode(struct.pack(">Q", window) + self._mac(window))

    def valid(self, nonce: object) -> bool:
        """Whether ``nonce`` is one of ours from this window or the previous one."""
        if not isinstance(nonce, str) or len(nonce) > 64:
            return False
        try:
            raw = jwk.b64u_decode(nonce)
        except JwkError:
            return False
        if len(raw) != 24:
            return False
        window = struct.unpack(">Q", raw[:8])[0]
        if window not in (self._window(), self._window() - 1):
            return False
        return hmac.compare_digest(raw[8:], self._mac(window))


@dataclass(frozen=True)
class CheckedProof:
    """What a valid proof established: the key's thumbprint and the proof's id."""

    jkt: str
    jti: str


class DpopVerifier:
    """Runs the RFC 9449 §4.3 checks; see the module docstring."""

    def __init__(
        self,
        clock: Clock,
        replay: ReplayCache,
        nonces: NonceSource,
        *,
        max_age_seconds: int = 60,
        require_nonce: bool = False,
    ) -> None:
        self._clock = clock
        self._replay = replay
        self.nonces = nonces
        self._max_age = max_age_seconds
        self.require_nonce = require_nonce

    def _nonce_error(self, detail: str) -> UseDpopNonceError:
        return UseDpopNonceError(detail, headers={"DPoP-Nonce": self.nonces.issue()})

    def verify(
        self, proof: str, *, htm: str, htu: str, access_token: str | None = None
    ) -> CheckedProof:
        """Check ``proof`` for a request; the errors are described in the module docstring."""
        bad = InvalidDpopProofError
        try:
            compact = jws.parse(proof)
        except JwsError:
            raise bad("the DPoP proof is not a valid JWS") from None
        header = compact.header
        alg = header.get("alg")
        if header.get("typ") != PROOF_TYPE:
            raise bad("the DPoP proof must have typ dpop+jwt")
        if alg not in ALGORITHMS:
            raise bad("the DPoP proof's algorithm is not allowed")
        proof_key = header.get("jwk")
        if not isinstance(proof_key, dict):
            raise bad("the DPoP proof needs a jwk header")
        try:
            key = jwk.import_public(proof_key, alg=str(alg), allowed=ALGORITHMS)
        except JwkError:
            raise bad("the DPoP proof's jwk is not a usable public key") from None
        if not jws.verify_with(compact, [key]):
            raise bad("the DPoP proof's signature does not verify")
        try:
            claims = jws.json_object(compact.payload)
        except JwsError:
            raise bad("the DPoP proof's claims are not a JSON object") from None
        jti, iat = claims.get("jti"), claims.get("iat")
        if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_CHARS:
            raise bad("the DPoP proof needs a jti")
        if claims.get("htm") != htm:
            raise bad("the DPoP proof is for another HTTP method")
        try:
            same_uri = normalise_uri(str(claims.get("htu", ""))) == normalise_uri(htu)
        except ValueError:
            same_uri = False
        if not same_uri:
            raise bad("the DPoP proof is for another URI")
        now = self._clock.now_us() // 1_000_000
        if not isinstance(iat, int) or isinstance(iat, bool):
            raise bad("the DPoP proof needs an integer iat")
        if not now - self._max_age <= iat <= now + FUTURE_SKEW_SECONDS:
            raise bad("the DPoP proof is too old or from the future")
        if access_token is not None and claims.get("ath") != jws.sha256_b64u(
            access_token.encode("ascii")
        ):
            raise bad("the DPoP proof's ath does not match the access token")
        if self.require_nonce and not self.nonces.valid(claims.get("nonce")):
            raise self._nonce_error("a fresh DPoP nonce is required")
        digest = hashlib.sha256(f"{key.jkt}\x00{jti}".encode()).digest()
        expires_us = (iat + self._max_age + FUTURE_SKEW_SECONDS + 1) * 1_000_000
        if not self._replay.first_use(digest, expires_us):
            raise bad("the DPoP proof was used before")
        return CheckedProof(key.jkt, jti)
