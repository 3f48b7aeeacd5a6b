"""The authorization-code flow with PKCE S256, ``state``, ``nonce`` and RFC 9207 ``iss``.

`begin` makes the request: a fresh ``state`` and ``nonce`` and a browser-binding secret
from which the PKCE verifier is derived, so the verifier is never stored server-side.
`read_callback` checks the provider's answer (error, ``iss``) and returns the code;
`redeem` exchanges the code at the token endpoint with client_secret_basic and the
verifier. URL building and the S256 challenge come from Authlib.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from strongroom.errors import ProviderError, SignInError
from strongroom.identity.oidc.providers import MAX_DOCUMENT_BYTES, Provider

MAX_PARAM_CHARS = 2048


@dataclass(frozen=True)
class AuthorizationRequest:
    """A started sign-in. ``binding`` goes to the browser only, in a cookie."""

    url: str
    state: str
    nonce: str
    binding: str

    def __repr__(self) -> str:
        return "AuthorizationRequest(<secrets hidden>)"


@dataclass(frozen=True)
class TokenResponse:
    """What the provider's token endpoint returned. Never logged."""

    id_token: str
    access_token: str | None

    def __repr__(self) -> str:
        return "TokenResponse(<tokens hidden>)"


def pkce_verifier(binding: str) -> str:
    """The PKCE code verifier (43 characters, RFC 7636 §4.1) derived from ``binding``."""
    digest = hashlib.sha256(b"strongroom-pkce-v1\x00" + binding.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def begin(provider: Provider, redirect_uri: str) -> AuthorizationRequest:
    """Build the authorization URL for ``provider``; `ProviderError` if it is unusable."""
    metadata = provider.metadata()
    binding = secrets.token_urlsafe(32)
    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(24)
    url = prepare_grant_uri(
        metadata.authorization_endpoint,
        provider.client_id,
        "code",
        redirect_uri=redirect_uri,
        scope=" ".join(provider.config.scopes),
        state=state,
        nonce=nonce,
        code_challenge=create_s256_code_challenge(pkce_verifier(binding)),
        code_challenge_method="S256",
    )
    return AuthorizationRequest(url=url, state=state, nonce=nonce, binding=binding)


def read_callback(provider: Provider, params: Mapping[str, str]) -> str:
    """The authorization code of a callback; `SignInError` for an error or a bad ``iss``.

    RFC 9207: when the provider advertises the ``iss`` parameter it must be present, and
    whenever present it must name this provider (a mix-up attack otherwise).
    """
    if any(len(v) > MAX_PARAM_CHARS for v in params.values()):
        raise SignInError("a callback parameter is too long")
    iss = params.get("iss")
    if iss is None and provider.metadata().iss_parameter_supported:
        raise SignInError("the provider's answer lacks the iss parameter (RFC 9207)")
    if iss is not None and iss != provider.issuer:
        raise SignInError("the provider's answer names another issuer (RFC 9207)")
    if "error" in params:
        # The provider's error code is shown; its free-text description is not echoed.
        error = params["error"] if params["error"].replace("_", "").isalpha() else "invalid"
        raise SignInError(f"the provider refused the sign-in: {error[:64]}")
    code = params.get("code")
    if not code:
        raise SignInError("the provider's answer has no authorization code")
    return code


def redeem(provider: Provider, code: str, redirect_uri: str, binding: str) -> TokenResponse:
    """Exchange ``code`` for tokens; `SignInError` if refused, `ProviderError` if down."""
    try:
        response = provider.http.post(
            provider.metadata().token_endpoint,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": pkce_verifier(binding),
            },
            auth=(provider.client_id, provider.config.secret()),
            headers={"Accept": "application/json"},
        )
    except httpx.HTTPError:
        raise ProviderError("cannot reach the provider's token endpoint") from None
    if len(response.content) > MAX_DOCUMENT_BYTES:
        raise ProviderError("the provider's token response is too large")
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if response.status_code != 200 or not isinstance(body, dict):
        error = body.get("error") if isinstance(body, dict) else None
        shown = error if isinstance(error, str) and error.replace("_", "").isalpha() else "error"
        raise SignInError(f"the provider refused the code: {shown[:64]}")
    id_token = body.get("id_token")
    if not isinstance(id_token, str):
        raise SignInError("the provider's token response has no ID token")
    access = body.get("access_token")
    return TokenResponse(id_token, access if isinstance(access, str) else None)
