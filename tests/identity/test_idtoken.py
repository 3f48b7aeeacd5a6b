"""ID-token validation against forged, expired and misdirected tokens, and key rotation.

The far side is simulated in memory (an httpx MockTransport serving discovery and JWKS),
except in the rotation test, which restarts the real provider with a new key.
"""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, OctKey, RSAKey
from support import Ready

from identity.oidcop import new_keys
from identity.test_bff import bff_sign_in
from strongroom.config import OidcProviderSettings, load_settings
from strongroom.errors import ConfigError, ProviderError, SignInError
from strongroom.identity.oidc.idtoken import IdTokenVerifier, at_hash
from strongroom.identity.oidc.providers import JwksCache, Provider

ISSUER = "https://idp.example.test"


class Clock:
    def __init__(self) -> None:
        self.now = int(time.time())

    def now_us(self) -> int:
        return self.now * 1_000_000


def simulated(keys: KeySet, **doc: Any) -> tuple[Provider, list[str]]:
    calls: list[str] = []
    discovery = {
        "issuer": ISSUER,
        "authorization_endpoint": ISSUER + "/auth",
        "token_endpoint": ISSUER + "/token",
        "jwks_uri": ISSUER + "/jwks",
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        **doc,
    }

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path == "/.well-known/openid-configuration":
            return httpx.Response(200, json=discovery)
        return httpx.Response(200, json=keys.as_dict(private=False))

    config = OidcProviderSettings(
        name="sim", issuer=ISSUER, client_id="app", client_secret="s", groups_claim="groups"
    )
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return Provider(config, http, allow_http=False), calls


def claims(clock: Clock, **extra: Any) -> dict[str, Any]:
    base = {
        "iss": ISSUER,
        "sub": "u1",
        "aud": "app",
        "iat": clock.now,
        "exp": clock.now + 300,
        "nonce": "n-1",
        "email": "u1@example.test",
        "groups": ["eng"],
    }
    base.update(extra)
    return {k: v for k, v in base.items() if v is not None}


def sign(key: Any, body: dict[str, Any], alg: str = "RS256", **header: Any) -> str:
    return jwt.encode({"alg": alg, "kid": key.kid, **header}, body, key, algorithms=[alg])


@pytest.fixture
def setup() -> tuple[IdTokenVerifier, Any, Clock]:
    keys = new_keys("k1")
    provider, _ = simulated(keys)
    clock = Clock()
    return IdTokenVerifier(provider, clock), keys.keys[0], clock


def test_a_valid_token(setup: tuple[IdTokenVerifier, Any, Clock]) -> None:
    verifier, key, clock = setup
    subject = verifier.verify(sign(key, claims(clock)), nonce="n-1")
    assert (subject.subject, subject.username, subject.groups) == (
        "u1",
        "u1@example.test",
        ("eng",),
    )
    assert "u1@example.test" not in repr(subject)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"iss": "https://evil.example.test"}, "another issuer"),
        ({"aud": "other-app"}, "another client"),
        ({"aud": ["app", "other"]}, "authorized party"),
        ({"azp": "other"}, "authorized party"),
        ("expired", "expired"),
        ("future", "not valid yet"),
        ({"nonce": "n-2"}, "nonce"),
        ({"nonce": None}, "nonce"),
        ({"sub": None}, "no valid subject"),
        ({"sub": "x" * 256}, "no valid subject"),
        ({"email": "Root"}, "reserved"),
        ({"email": 7}, "usable 'email'"),
        ({"exp": "soon"}, "times"),
    ],
)
def test_bad_claims_are_refused(
    setup: tuple[IdTokenVerifier, Any, Clock], change: Any, message: str
) -> None:
    verifier, key, clock = setup
    if change == "expired":
        body = claims(clock, iat=clock.now - 1000, exp=clock.now - 61)
    elif change == "future":
        body = claims(clock, iat=clock.now + 120)
    else:
        body = claims(clock, **change)
    with pytest.raises(SignInError, match=message):
        verifier.verify(sign(key, body), nonce="n-1")


def test_forged_and_confused_tokens_are_refused(setup: tuple[IdTokenVerifier, Any, Clock]) -> None:
    verifier, key, clock = setup
    body = claims(clock)
    other = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    with pytest.raises(SignInError, match="signature"):
        verifier.verify(sign(other, body), nonce="n-1")
    hs = OctKey.import_key(b"k" * 32, {"kid": "k1"})
    with pytest.raises(SignInError, match="algorithm"):
        verifier.verify(sign(hs, body, "HS256"), nonce="n-1")
    header = "eyJhbGciOiJub25lIiwia2lkIjoiazEifQ"  # {"alg":"none","kid":"k1"}
    unsigned = header + "." + sign(key, body).split(".")[1] + "."
    with pytest.raises(SignInError, match="algorithm"):
        verifier.verify(unsigned, nonce="n-1")
    crit = base64.urlsafe_b64encode(b'{"alg":"RS256","kid":"k1","crit":["x"],"x":1}')
    valid = sign(key, body).split(".")
    with pytest.raises(SignInError, match="critical"):
        verifier.verify(crit.rstrip(b"=").decode() + "." + valid[1] + "." + valid[2], nonce="n-1")
    ec = ECKey.generate_key("P-256", parameters={"kid": "nope"})
    with pytest.raises(SignInError, match="does not publish"):
        verifier.verify(sign(ec, body, "ES256"), nonce="n-1")
    with pytest.raises(SignInError, match="compact JWS"):
        verifier.verify("not-a-token")


def test_at_hash_is_checked_when_present(setup: tuple[IdTokenVerifier, Any, Clock]) -> None:
    verifier, key, clock = setup
    token = sign(key, claims(clock, at_hash=at_hash("access-1", "RS256")))
    verifier.verify(token, nonce="n-1", access_token="access-1")
    with pytest.raises(SignInError, match="at_hash"):
        verifier.verify(token, nonce="n-1", access_token="access-2")


def test_unknown_kids_refetch_at_a_bounded_rate() -> None:
    fetched: list[int] = []
    keys = new_keys("k1")
    now = [100.0]

    def fetch() -> dict[str, Any]:
        fetched.append(1)
        return dict(keys.as_dict(private=False))

    cache = JwksCache(fetch, min_refetch_seconds=10, monotonic=lambda: now[0])
    assert cache.key("k1") is not None
    for _ in range(50):
        assert cache.key("forged") is None
    assert len(fetched) == 1
    now[0] += 11
    assert cache.key("forged") is None
    assert len(fetched) == 2


def test_discovery_is_checked() -> None:
    keys = new_keys("k1")
    for doc, message in (
        ({"issuer": "https://other.example.test"}, "another issuer"),
        ({"code_challenge_methods_supported": ["plain"]}, "S256"),
        ({"token_endpoint": "http://idp.example.test/token"}, "plain http"),
    ):
        provider, _ = simulated(keys, **doc)
        with pytest.raises(ProviderError, match=message):
            provider.metadata()


def test_http_issuers_need_dev_mode(tmp_path: Any) -> None:
    provider = {
        "name": "corp",
        "issuer": "http://127.0.0.1:9",
        "client_id": "c",
        "client_secret": "canary-secret-1",
    }
    with pytest.raises(ConfigError, match="http:// issuer needs dev mode") as caught:
        load_settings(data_dir=tmp_path, oidc_providers=[provider])
    assert "canary-secret-1" not in str(caught.value)
    assert load_settings(data_dir=tmp_path, dev=True, oidc_providers=[provider])
    https = {**provider, "issuer": "https://idp.example.test"}
    assert load_settings(data_dir=tmp_path, oidc_providers=[https])
    for bad in ({"client_secret": None}, {"scopes": ["email"]}, {"id_token_algorithms": ["HS256"]}):
        with pytest.raises(ConfigError):
            load_settings(data_dir=tmp_path, oidc_providers=[{**https, **bad}])


def test_client_secret_from_a_file(tmp_path: Any) -> None:
    secret = tmp_path / "secret"
    secret.write_text("from-file\n")
    settings = load_settings(
        data_dir=tmp_path,
        oidc_providers=[
            {
                "name": "corp",
                "issuer": "https://idp.example.test",
                "client_id": "c",
                "client_secret_file": str(secret),
            }
        ],
    )
    assert settings.oidc_providers[0].secret() == "from-file"


def test_provider_key_rotation_is_followed(sr: Ready, idp: Any) -> None:
    provider = sr.node.identity.registry.get("corp")
    provider.jwks.min_refetch_seconds = 0.0
    bff_sign_in(sr, "alice")
    before = provider.jwks.fetches
    old_kid = idp.keys.keys[0].kid
    new_kid = f"key-{uuid.uuid4().hex[:8]}"
    idp.restart(new_keys(new_kid))
    bff_sign_in(sr, "bob")
    assert provider.jwks.fetches == before + 1
    assert provider.jwks.key(new_kid) is not None
    assert provider.jwks.key(old_kid) is None


def test_a_reused_kid_with_a_new_key_is_refetched() -> None:
    first = new_keys("same")
    provider, calls = simulated(first)
    clock = Clock()
    verifier = IdTokenVerifier(provider, clock)
    verifier.verify(sign(first.keys[0], claims(clock)), nonce="n-1")
    second = new_keys("same")
    first.keys[0] = second.keys[0]  # the simulated provider now serves the new key
    provider.jwks.min_refetch_seconds = 0.0
    verifier.verify(sign(second.keys[0], claims(clock)), nonce="n-1")
    assert calls.count("/jwks") == 2
    forged = RSAKey.generate_key(2048, parameters={"kid": "same"})
    with pytest.raises(SignInError, match="signature"):
        verifier.verify(sign(forged, claims(clock)), nonce="n-1")


def test_subject_token_verifier_takes_real_id_tokens(sr: Ready) -> None:
    from identity.conftest import BASE
    from identity.oidcop import Browser
    from strongroom.identity.oidc import client

    provider = sr.node.identity.registry.get("corp")
    redirect = sr.node.identity.signin.redirect_uri("corp", "console")
    request = client.begin(provider, redirect)
    browser = Browser(BASE)
    try:
        callback = browser.sign_in(request.url, "bob")
    finally:
        browser.close()
    params = dict(httpx.URL(callback).params)
    assert params["state"] == request.state
    tokens = client.redeem(
        provider, client.read_callback(provider, params), redirect, request.binding
    )
    subject = sr.node.identity.subject_tokens.verify(tokens.id_token)
    assert subject.issuer == provider.issuer and subject.provider == "corp"
    assert subject.username == "bob@example.test" and subject.roles == ("admin",)
    assert subject.claims["nonce"] == request.nonce
    assert tokens.id_token not in repr(tokens) and "bob" not in repr(subject)
    header, body, signature = tokens.id_token.split(".")
    forged = base64.urlsafe_b64encode(b'{"iss":"https://evil.example.test"}').rstrip(b"=").decode()
    with pytest.raises(SignInError, match="not configured"):
        sr.node.identity.subject_tokens.verify(f"{header}.{forged}.{signature}")
    tampered = body[:-2] + ("AA" if body[-2:] != "AA" else "BB")
    with pytest.raises(SignInError):
        sr.node.identity.subject_tokens.verify(f"{header}.{tampered}.{signature}")
