"""Configured OpenID providers: discovery, and a JWKS cache that follows key rotation.

Discovery is fetched once per provider and checked: the document's ``issuer`` must equal
the configured one exactly, every endpoint must be https (plain http only in dev mode),
and the provider must support the ``code`` flow with PKCE S256. The JWKS cache refetches
when a token names a key id it does not know (a rotation), at most once per
``min_refetch_seconds``, so forged key ids cannot make Strongroom hammer the provider.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from strongroom.config import OidcProviderSettings, Settings
from strongroom.errors import NotFoundError, ProviderError

DISCOVERY_PATH = "/.well-known/openid-configuration"
MAX_DOCUMENT_BYTES = 256 * 1024
MAX_KEYS = 64
HTTP_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class ProviderMetadata:
    """The parts of a provider's discovery document Strongroom uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    iss_parameter_supported: bool


def _get_json(http: httpx.Client, url: str, what: str) -> dict[str, Any]:
    try:
        response = http.get(url, headers={"Accept": "application/json"})
    except httpx.HTTPError:
        raise ProviderError(f"cannot reach the provider's {what}") from None
    if response.status_code != 200 or len(response.content) > MAX_DOCUMENT_BYTES:
        raise ProviderError(f"the provider's {what} answered {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        raise ProviderError(f"the provider's {what} is not JSON") from None
    if not isinstance(body, dict):
        raise ProviderError(f"the provider's {what} is not a JSON object")
    return body


def _check_url(url: Any, allow_http: bool, what: str) -> str:
    if not isinstance(url, str):
        raise ProviderError(f"the provider's discovery document has no {what}")
    parsed = urlsplit(url)
    if not parsed.hostname or parsed.scheme not in ("https", "http"):
        raise ProviderError(f"the provider's {what} is not an https URL")
    if parsed.scheme == "http" and not allow_http:
        raise ProviderError(f"the provider's {what} is plain http (dev mode only)")
    return url


def parse_metadata(doc: dict[str, Any], issuer: str, allow_http: bool) -> ProviderMetadata:
    """Check a discovery document; `ProviderError` naming the first problem."""
    if doc.get("issuer") != issuer:
        raise ProviderError("the provider's discovery document names another issuer")
    if "code" not in doc.get("response_types_supported", []):
        raise ProviderError("the provider does not support the authorization code flow")
    # A provider that does not list S256 may silently accept a downgrade to no PKCE.
    if "S256" not in doc.get("code_challenge_methods_supported", []):
        raise ProviderError("the provider does not advertise PKCE with S256")
    return ProviderMetadata(
        issuer=issuer,
        authorization_endpoint=_check_url(
            doc.get("authorization_endpoint"), allow_http, "authorization_endpoint"
        ),
        token_endpoint=_check_url(doc.get("token_endpoint"), allow_http, "token_endpoint"),
        jwks_uri=_check_url(doc.get("jwks_uri"), allow_http, "jwks_uri"),
        iss_parameter_supported=doc.get("authorization_response_iss_parameter_supported") is True,
    )


class JwksCache:
    """A provider's signing keys by key id, refetched on an unknown kid at a bounded rate."""

    def __init__(
        self,
        fetch: Callable[[], dict[str, Any]],
        *,
        min_refetch_seconds: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self.min_refetch_seconds = min_refetch_seconds
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._keys: dict[str, Any] = {}
        self._single: Any = None
        self._fetched_at: float | None = None
        self.fetches = 0

    def _load(self) -> None:
        doc = self._fetch()
        try:
            key_set = KeySet.import_key_set(doc)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError):
            raise ProviderError("the provider's JWKS is not a valid JWK Set") from None
        if len(key_set.keys) > MAX_KEYS:
            raise ProviderError("the provider's JWKS holds too many keys")
        keys: dict[str, Any] = {}
        usable = []
        for key in key_set.keys:
            if key.get("use", "sig") != "sig" or key.is_private:
                continue
            usable.append(key)
            if key.kid:
                keys[key.kid] = key
        self._keys = keys
        self._single = usable[0] if len(usable) == 1 else None
        self.fetches += 1

    def key(self, kid: str | None, *, stale: Any = None) -> Any:
        """The public key named ``kid`` (or the only key, when ``kid`` is None), or None.

        An unknown kid refetches the set (rate-bounded). So does ``stale``: the key a
        signature just failed with, in case the provider reused its kid for a new key.
        """
        with self._lock:
            now = self._monotonic()
            if self._fetched_at is None:
                self._fetched_at = now
                self._load()
            found = self._lookup(kid)
            if (found is None or found is stale) and (
                now - self._fetched_at >= self.min_refetch_seconds
            ):
                self._fetched_at = now
                self._load()
                found = self._lookup(kid)
            return found

    def _lookup(self, kid: str | None) -> Any:
        if kid is None:
            return self._single
        return self._keys.get(kid)


class Provider:
    """One configured provider: its settings, discovery metadata and keys."""

    def __init__(self, config: OidcProviderSettings, http: httpx.Client, *, allow_http: bool):
        self.config = config
        self.name = config.name
        self.issuer = config.issuer
        self.client_id = config.client_id
        self._http = http
        self._allow_http = allow_http
        self._lock = threading.Lock()
        self._metadata: ProviderMetadata | None = None
        self.jwks = JwksCache(self._fetch_jwks)

    def __repr__(self) -> str:
        return f"Provider(name={self.name!r}, issuer={self.issuer!r})"

    @property
    def http(self) -> httpx.Client:
        return self._http

    def metadata(self) -> ProviderMetadata:
        """The checked discovery document (fetched once); `ProviderError` if unusable."""
        with self._lock:
            if self._metadata is None:
                url = self.issuer.rstrip("/") + DISCOVERY_PATH
                doc = _get_json(self._http, url, "discovery document")
                self._metadata = parse_metadata(doc, self.issuer, self._allow_http)
            return self._metadata

    def _fetch_jwks(self) -> dict[str, Any]:
        return _get_json(self._http, self.metadata().jwks_uri, "JWKS")

    def roles_for(self, groups: tuple[str, ...]) -> tuple[str, ...]:
        """The Strongroom roles the provider's group names map to, sorted."""
        roles: set[str] = set()
        for group in groups:
            roles.update(self.config.group_roles.get(group, ()))
        return tuple(sorted(roles))


class ProviderRegistry:
    """The configured providers by name, sharing one HTTP client."""

    def __init__(self, settings: Settings, http: httpx.Client | None = None) -> None:
        # A client (and its TLS context, which loads the CA bundle) only when there is a
        # provider to reach.
        self._http = http
        self._providers: dict[str, Provider] = {}
        if settings.oidc_providers:
            client = http or httpx.Client(timeout=HTTP_TIMEOUT_SECONDS, follow_redirects=False)
            self._http = client
            self._providers = {
                p.name: Provider(p, client, allow_http=settings.dev)
                for p in settings.oidc_providers
            }

    def get(self, name: str) -> Provider:
        """The provider named ``name``; `NotFoundError` if none is configured."""
        provider = self._providers.get(name)
        if provider is None:
            raise NotFoundError("no such identity provider")
        return provider

    def all(self) -> list[Provider]:
        return list(self._providers.values())

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
