"""Access tokens checked by an independent JOSE library, every refusal, and root tokens.

Tokens are verified with PyJWT against the JWK Set the API publishes, and forged with
PyJWT (or by hand, for headers PyJWT will not write) to check that the server refuses them.

Checks that only mint and verify share one SQLite node (the module's ``ready``); those that
change keys or root tokens get a node of their own on every backend (``fresh``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi.testclient import TestClient
from support import Ready

from strongroom.api.app import create_app
from strongroom.clock import SystemClock
from strongroom.config import Settings, load_settings
from strongroom.errors import InvalidRequestError, UnauthenticatedError
from strongroom.identity import root_tokens
from strongroom.identity import tokens as tokens_mod
from strongroom.identity.tokens import MAX_TOKEN_CHARS, principal_of
from strongroom.node import Call, Node

AUDIENCE = "strongroom"


# --- helpers ----------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_json(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def jwks(ready: Ready) -> dict[str, Any]:
    resp = ready.client.get("/.well-known/jwks.json")
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def independent_decode(ready: Ready, token: str) -> dict[str, Any]:
    """Verify ``token`` with PyJWT against the published JWK Set only."""
    keyset = jwt.PyJWKSet.from_dict(jwks(ready))
    kid = jwt.get_unverified_header(token)["kid"]
    claims: dict[str, Any] = jwt.decode(
        token,
        key=keyset[kid].key,
        algorithms=["EdDSA"],
        audience=AUDIENCE,
        issuer=ready.node.tokens.issuer,
    )
    return claims


def signing_key(node: Node, version: int | None = None) -> Ed25519PrivateKey:
    keyring = node.keyring()
    key = (
        keyring.current("token-signing")
        if version is None
        else keyring.get("token-signing", version)
    )
    return Ed25519PrivateKey.from_private_bytes(key.material)


def current_kid(ready: Ready) -> str:
    return str(jwks(ready)["keys"][0]["kid"])


def claims_for(node: Node, **changes: Any) -> dict[str, Any]:
    now = node.clock.now_us() // 1_000_000
    claims: dict[str, Any] = {
        "iss": node.tokens.issuer,
        "sub": "mallory",
        "aud": AUDIENCE,
        "client_id": "root",
        "scope": "sys:read",
        "jti": "forged-jti",
        "iat": now,
        "nbf": now,
        "exp": now + 60,
    }
    for name, value in changes.items():
        if value is DROP:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


DROP = object()


def forge(
    ready: Ready,
    claims: dict[str, Any] | None = None,
    *,
    key: Ed25519PrivateKey | None = None,
    **header: Any,
) -> str:
    """A token signed with PyJWT (by default with the real current key and kid)."""
    headers = {"kid": current_kid(ready), "typ": "at+jwt", **header}
    return jwt.encode(
        claims if claims is not None else claims_for(ready.node),
        key or signing_key(ready.node),
        algorithm="EdDSA",
        headers=headers,
    )


def hand_made(header: dict[str, Any], claims: dict[str, Any], sign: Any) -> str:
    signing_input = f"{b64url_json(header)}.{b64url_json(claims)}"
    return f"{signing_input}.{b64url(sign(signing_input.encode()))}"


def refused(ready: Ready, token: str) -> None:
    with pytest.raises(UnauthenticatedError) as info:
        ready.node.tokens.verify(token)
    assert str(info.value) == "A valid token is required."
    with pytest.raises(UnauthenticatedError):
        ready.node.authenticate(token)


def mint(node: Node, ttl: int = 60, scopes: list[str] | None = None) -> str:
    scope_list = ["sys:read", "audit:read"] if scopes is None else scopes
    return node.tokens.mint("alice", scope_list, ttl, client_id="root").access_token


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start_s: int) -> None:
        self.us = start_s * 1_000_000

    def now_us(self) -> int:
        return self.us

    def set(self, seconds: int) -> None:
        self.us = seconds * 1_000_000


START = 1_750_000_000


@pytest.fixture(scope="module")
def ready(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ready]:
    """One unsealed node (SQLite) shared by the tests that only mint and verify."""
    tmp = tmp_path_factory.mktemp("tokens")
    settings = load_settings(
        database_url=f"sqlite:///{(tmp / 'strongroom.db').as_posix()}",
        data_dir=tmp / "data",
        addr="127.0.0.1:8210",
    )
    node = Node.open(settings)
    try:
        with TestClient(create_app(node), raise_server_exceptions=False) as client:
            done = node.initialize(Call("t-init"), shares=3, threshold=2)
            for share in done.result.shares[:2]:
                node.unseal(Call("t-unseal"), share)
            yield Ready(node, client, list(done.result.shares), done.root_token)
    finally:
        node.close()


@pytest.fixture
def fresh(node: Node, client: TestClient) -> Ready:
    """A node of its own on every backend, for tests that change keys or root tokens."""
    done = node.initialize(Call("t-init"), shares=3, threshold=2)
    for share in done.result.shares[:2]:
        node.unseal(Call("t-unseal"), share)
    return Ready(node, client, list(done.result.shares), done.root_token)


@pytest.fixture
def timed(settings: Settings) -> Iterator[tuple[Node, FakeClock]]:
    clock = FakeClock(START)
    node = Node.open(settings, clock=clock)
    try:
        done = node.initialize(Call("t"), shares=1, threshold=1)
        node.unseal(Call("t"), done.result.shares[0])
        yield node, clock
    finally:
        node.close()


# --- minting, checked independently -----------------------------------------------------


def test_minted_token_verifies_with_an_independent_library(fresh: Ready) -> None:
    issued = fresh.node.tokens.mint("alice", ["sys:read", "audit:read"], 120, client_id="ops")
    claims = independent_decode(fresh, issued.access_token)
    assert claims["iss"] == fresh.node.settings.resolved_issuer == fresh.node.tokens.issuer
    assert claims["sub"] == "alice"
    assert claims["aud"] == AUDIENCE
    assert claims["client_id"] == "ops"
    assert claims["scope"] == "sys:read audit:read"
    assert claims["jti"] == issued.jti
    assert claims["exp"] - claims["iat"] == 120
    assert claims["nbf"] == claims["iat"]
    assert abs(claims["iat"] - time.time()) < 60
    assert set(claims) == {"iss", "sub", "aud", "client_id", "scope", "jti", "iat", "nbf", "exp"}
    assert issued.expires_in == 120
    assert issued.scopes == ("sys:read", "audit:read")


def test_header_names_type_key_and_algorithm(ready: Ready) -> None:
    header = jwt.get_unverified_header(mint(ready.node))
    assert header == {"alg": "EdDSA", "typ": "at+jwt", "kid": current_kid(ready)}


def test_jwks_is_public_and_kid_is_the_rfc7638_thumbprint(ready: Ready) -> None:
    keys = jwks(ready)["keys"]
    assert len(keys) == 1
    (key,) = keys
    assert key["kty"] == "OKP"
    assert key["crv"] == "Ed25519"
    assert key["alg"] == "EdDSA"
    assert key["use"] == "sig"
    assert "d" not in key
    public = signing_key(ready.node).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert key["x"] == b64url(public)
    members = json.dumps(
        {"crv": "Ed25519", "kty": "OKP", "x": key["x"]}, separators=(",", ":"), sort_keys=True
    )
    assert key["kid"] == b64url(hashlib.sha256(members.encode()).digest())


def test_verify_returns_the_principal(ready: Ready) -> None:
    issued = ready.node.tokens.mint("alice", ["sys:read"], 60, client_id="root")
    principal = ready.node.tokens.verify(issued.access_token)
    assert principal.subject == "alice"
    assert principal.kind == "access"
    assert principal.token_id == issued.jti
    assert principal.scopes == frozenset({"sys:read"})
    assert principal.has_scope("sys:read")
    assert not principal.has_scope("sys:write")
    claims = independent_decode(ready, issued.access_token)
    assert principal.expires_us == claims["exp"] * 1_000_000


def test_verified_claims_are_read_only_and_name_the_principal(ready: Ready) -> None:
    issued = ready.node.tokens.mint("alice", ["sys:read"], 60, client_id="root")
    for _ in range(2):  # verified, then from the cache
        claims, principal = ready.node.tokens.verified(issued.access_token)
        assert dict(claims) == independent_decode(ready, issued.access_token)
        assert principal == principal_of(claims) == ready.node.tokens.verify(issued.access_token)
        with pytest.raises(TypeError):
            claims["scope"] = "sys:write"  # type: ignore[index]
    assert ready.node.tokens.verify_claims(issued.access_token)["scope"] == "sys:read"


def test_claims_keep_any_unicode_and_verify_independently(ready: Ready) -> None:
    subject = 'zo\u00eb \u2028 \U0001f512 "quoted" \x7f'
    issued = ready.node.tokens.mint(subject, ["sys:read"], 60, client_id="root")
    assert independent_decode(ready, issued.access_token)["sub"] == subject
    assert ready.node.tokens.verify(issued.access_token).subject == subject
    payload = issued.access_token.split(".")[1]
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    assert "zo\u00eb".encode() in raw  # UTF-8, not \u escapes


def test_every_token_has_its_own_jti(ready: Ready) -> None:
    jtis = {
        jwt.decode(mint(ready.node), options={"verify_signature": False})["jti"] for _ in range(20)
    }
    assert len(jtis) == 20


@pytest.mark.parametrize("ttl", [0, -1, 901, 10_000])
def test_mint_refuses_a_lifetime_out_of_range(ready: Ready, ttl: int) -> None:
    with pytest.raises(InvalidRequestError):
        mint(ready.node, ttl=ttl)


def test_mint_allows_the_ceiling(ready: Ready) -> None:
    claims = independent_decode(ready, mint(ready.node, ttl=900))
    assert claims["exp"] - claims["iat"] == 900


# --- forged tokens: controls first -------------------------------------------------------


def test_a_token_forged_with_the_real_key_is_accepted(ready: Ready) -> None:
    """The control for every refusal below: only the named change makes them fail."""
    principal = ready.node.tokens.verify(forge(ready))
    assert principal.subject == "mallory"
    principal = ready.node.tokens.verify(
        hand_made(
            {"alg": "EdDSA", "typ": "at+jwt", "kid": current_kid(ready)},
            claims_for(ready.node),
            signing_key(ready.node).sign,
        )
    )
    assert principal.token_id == "forged-jti"


@pytest.mark.parametrize("typ", ["at+jwt", "application/at+jwt", "AT+JWT"])
def test_accepted_token_types(ready: Ready, typ: str) -> None:
    ready.node.tokens.verify(forge(ready, typ=typ))


def test_an_audience_list_naming_us_is_accepted(ready: Ready) -> None:
    ready.node.tokens.verify(forge(ready, claims_for(ready.node, aud=["other", AUDIENCE])))


def test_lifetime_at_the_ceiling_is_accepted(ready: Ready) -> None:
    now = int(time.time())
    ready.node.tokens.verify(forge(ready, claims_for(ready.node, iat=now, nbf=now, exp=now + 900)))


# --- forged tokens: refusals ------------------------------------------------------------


def test_wrong_signature_is_refused(ready: Ready) -> None:
    refused(ready, forge(ready, key=Ed25519PrivateKey.generate()))


def test_tampered_payload_is_refused(ready: Ready) -> None:
    header, _, signature = mint(ready.node, scopes=["sys:read"]).split(".")
    claims = claims_for(ready.node, sub="alice", scope="sys:read sys:write")
    refused(ready, f"{header}.{b64url_json(claims)}.{signature}")


def test_tampered_header_is_refused(ready: Ready) -> None:
    _, payload, signature = mint(ready.node).split(".")
    header = {"alg": "EdDSA", "typ": "at+jwt", "kid": current_kid(ready), "x": 1}
    refused(ready, f"{b64url_json(header)}.{payload}.{signature}")


def test_signature_from_another_token_is_refused(ready: Ready) -> None:
    a = mint(ready.node).split(".")
    b = mint(ready.node).split(".")
    refused(ready, f"{a[0]}.{a[1]}.{b[2]}")
    refused(ready, f"{a[0]}.{a[1]}.{a[2][:-4]}")
    refused(ready, f"{a[0]}.{a[1]}.")


@pytest.mark.parametrize(
    "changes",
    [
        {"aud": "other"},
        {"aud": ["other"]},
        {"aud": []},
        {"aud": "Strongroom"},
        {"iss": "https://evil.example"},
        {"iss": ""},
    ],
    ids=["aud", "aud-list", "aud-empty", "aud-case", "iss", "iss-empty"],
)
def test_wrong_audience_or_issuer_is_refused(ready: Ready, changes: dict[str, Any]) -> None:
    refused(ready, forge(ready, claims_for(ready.node, **changes)))


@pytest.mark.parametrize("claim", ["iss", "sub", "aud", "exp", "iat", "jti"])
def test_missing_claim_is_refused(ready: Ready, claim: str) -> None:
    refused(ready, forge(ready, claims_for(ready.node, **{claim: DROP})))


@pytest.mark.parametrize(
    "changes",
    [{"sub": 7}, {"jti": 7}, {"scope": ["sys:read"]}, {"exp": "soon"}, {"iat": None}],
    ids=["sub", "jti", "scope", "exp", "iat"],
)
def test_claims_of_the_wrong_type_are_refused(ready: Ready, changes: dict[str, Any]) -> None:
    refused(ready, forge(ready, claims_for(ready.node, **changes)))


def test_expired_is_refused(ready: Ready) -> None:
    now = int(time.time())
    refused(ready, forge(ready, claims_for(ready.node, iat=now - 120, nbf=now - 120, exp=now - 60)))
    refused(ready, forge(ready, claims_for(ready.node, iat=now - 60, nbf=now - 60, exp=now)))


def test_not_yet_valid_is_refused(ready: Ready) -> None:
    now = int(time.time())
    refused(ready, forge(ready, claims_for(ready.node, nbf=now + 120, exp=now + 180)))
    refused(ready, forge(ready, claims_for(ready.node, iat=now + 120, nbf=now, exp=now + 180)))


@pytest.mark.parametrize("lifetime", [901, 3600, 0, -10])
def test_lifetime_out_of_range_is_refused(ready: Ready, lifetime: int) -> None:
    now = int(time.time())
    refused(
        ready,
        forge(ready, claims_for(ready.node, iat=now - 5, nbf=now - 5, exp=now - 5 + lifetime)),
    )


def test_alg_none_is_refused(ready: Ready) -> None:
    claims = claims_for(ready.node)
    for alg in ("none", "None", "NONE"):
        header = {"alg": alg, "typ": "at+jwt", "kid": current_kid(ready)}
        refused(ready, f"{b64url_json(header)}.{b64url_json(claims)}.")
        refused(ready, hand_made(header, claims, lambda data: b""))


def test_hmac_signed_with_the_public_key_is_refused(ready: Ready) -> None:
    """Key confusion: an HS256 token keyed with the published public key."""
    public = signing_key(ready.node).public_key()
    x = jwks(ready)["keys"][0]["x"]
    secrets = [
        public.public_bytes(Encoding.Raw, PublicFormat.Raw),
        public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo),
        x.encode(),
        json.dumps(jwks(ready)["keys"][0]).encode(),
    ]
    claims = claims_for(ready.node)
    for alg, digest in (("HS256", hashlib.sha256), ("HS512", hashlib.sha512)):
        for secret in secrets:
            header = {"alg": alg, "typ": "at+jwt", "kid": current_kid(ready)}
            refused(
                ready,
                hand_made(
                    header, claims, lambda data, s=secret, d=digest: hmac.new(s, data, d).digest()
                ),
            )


@pytest.mark.parametrize("alg", ["Ed25519", "ES256", "RS256", "EdDSA "])
def test_other_algorithm_names_are_refused(ready: Ready, alg: str) -> None:
    header = {"alg": alg, "typ": "at+jwt", "kid": current_kid(ready)}
    refused(ready, hand_made(header, claims_for(ready.node), signing_key(ready.node).sign))


def test_unknown_kid_is_refused(ready: Ready) -> None:
    refused(ready, forge(ready, kid="no-such-key"))
    refused(ready, forge(ready, kid=""))
    header = {"alg": "EdDSA", "typ": "at+jwt", "kid": 1}
    refused(ready, hand_made(header, claims_for(ready.node), signing_key(ready.node).sign))
    header = {"alg": "EdDSA", "typ": "at+jwt"}
    refused(ready, hand_made(header, claims_for(ready.node), signing_key(ready.node).sign))


@pytest.mark.parametrize("typ", ["JWT", "jwt", "", "at+jwt+x", "application/jwt"])
def test_wrong_type_is_refused(ready: Ready, typ: str) -> None:
    refused(ready, forge(ready, typ=typ))


def test_missing_type_is_refused(ready: Ready) -> None:
    header = {"alg": "EdDSA", "kid": current_kid(ready)}
    refused(ready, hand_made(header, claims_for(ready.node), signing_key(ready.node).sign))


def test_crit_header_is_refused(ready: Ready) -> None:
    header = {"alg": "EdDSA", "typ": "at+jwt", "kid": current_kid(ready), "crit": ["exp"]}
    refused(ready, hand_made(header, claims_for(ready.node), signing_key(ready.node).sign))
    header["crit"] = []
    refused(ready, hand_made(header, claims_for(ready.node), signing_key(ready.node).sign))


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        ".",
        "..",
        "...",
        "a.b.c",
        "a.b",
        "a.b.c.d",
        "not a token",
        "Bearer x.y.z",
        "é.é.é",
        "eyJhbGciOiJFZERTQSJ9.e30.",
        "e30.e30.e30",
        "W10.W10.",
        "bnVsbA.bnVsbA.",
        "\x00.\x00.\x00",
    ],
)
def test_garbage_is_refused(ready: Ready, garbage: str) -> None:
    with pytest.raises(UnauthenticatedError):
        ready.node.tokens.verify(garbage)


def test_oversized_token_is_refused(ready: Ready) -> None:
    big = forge(ready, claims_for(ready.node, pad="p" * 6_500))
    assert len(big) > MAX_TOKEN_CHARS
    refused(ready, big)
    # The same with a smaller pad is accepted: the size is what was refused.
    fits = forge(ready, claims_for(ready.node, pad="p" * 5_000))
    assert len(fits) < MAX_TOKEN_CHARS
    ready.node.tokens.verify(fits)
    with pytest.raises(UnauthenticatedError):
        ready.node.tokens.verify("a" * 100_000 + ".b.c")


def test_a_cached_token_gets_every_check_again_for_another_audience(ready: Ready) -> None:
    tokens = ready.node.tokens
    token = tokens.mint("alice", ["sys:read"], 60, client_id="root").access_token
    tokens.verify(token)  # cached, its checks passed for Strongroom's own audience
    assert tokens.cached(token) is not None
    with pytest.raises(UnauthenticatedError):
        tokens.verify_claims(token, audience="someone-else")
    with pytest.raises(UnauthenticatedError):
        tokens.cached_claims(token, audience="someone-else")
    assert tokens.verify_claims(token)["sub"] == "alice"


def test_a_full_cache_of_live_tokens_drops_the_oldest_and_keeps_the_newest(
    ready: Ready, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tokens_mod, "VERIFIED_CACHE_SIZE", 8)
    tokens = ready.node.tokens
    minted = [tokens.mint("svc", [], 60, client_id="c").access_token for _ in range(30)]
    for token in minted:
        tokens.verify(token)
        assert len(tokens._verified) <= 8
    assert tokens.cached(minted[-1]) is not None
    assert tokens.cached(minted[0]) is None
    # Dropped from the cache is not refused: the next check verifies it afresh.
    assert tokens.verify(minted[0]).subject == "svc"


# --- time, with a clock the test moves ---------------------------------------------------


def test_expiry_follows_the_clock(timed: tuple[Node, FakeClock]) -> None:
    node, clock = timed
    token = node.tokens.mint("alice", [], 60, client_id="root").access_token
    payload = jwt.decode(token, options={"verify_signature": False})
    assert (payload["iat"], payload["exp"]) == (START, START + 60)
    clock.set(START + 59)
    assert node.tokens.verify(token).subject == "alice"
    clock.set(START + 60)
    with pytest.raises(UnauthenticatedError):
        node.tokens.verify(token)
    clock.set(START + 10_000)
    with pytest.raises(UnauthenticatedError):
        node.tokens.verify(token)


def test_not_yet_valid_follows_the_clock(timed: tuple[Node, FakeClock]) -> None:
    node, clock = timed
    token = node.tokens.mint("alice", [], 300, client_id="root").access_token
    clock.set(START - 30)  # within the allowed skew
    node.tokens.verify(token)
    clock.set(START - 31)
    with pytest.raises(UnauthenticatedError):
        node.tokens.verify(token)
    clock.set(START - 86_400)
    with pytest.raises(UnauthenticatedError):
        node.tokens.verify(token)


# --- rotation ---------------------------------------------------------------------------


def test_rotation_keeps_old_tokens_valid_and_signs_new_ones_with_the_new_key(
    fresh: Ready,
) -> None:
    old = mint(fresh.node)
    old_kid = jwt.get_unverified_header(old)["kid"]
    info = fresh.node.rotate_key(Call("t"), "token-signing")
    assert info.version == 2
    new = mint(fresh.node)
    new_kid = jwt.get_unverified_header(new)["kid"]
    assert new_kid != old_kid
    kids = [k["kid"] for k in jwks(fresh)["keys"]]
    assert kids == [new_kid, old_kid]
    assert fresh.node.tokens.verify(old).subject == "alice"
    assert fresh.node.tokens.verify(new).subject == "alice"
    assert independent_decode(fresh, old)["sub"] == "alice"
    assert independent_decode(fresh, new)["sub"] == "alice"
    # A token claiming the new kid but signed with the old key is refused.
    refused(fresh, forge(fresh, key=signing_key(fresh.node, 1), kid=new_kid))


# --- root tokens ------------------------------------------------------------------------


def _all_values(node: Node) -> list[bytes]:
    found: list[bytes] = []
    inspector = sa.inspect(node.db.engine)
    with node.db.engine.connect() as conn:
        for table in inspector.get_table_names():
            for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')):
                for value in row:
                    raw = value if isinstance(value, bytes | memoryview) else str(value).encode()
                    found.append(bytes(raw))
    return found


def test_root_token_is_stored_only_as_its_sha256(fresh: Ready) -> None:
    token = fresh.root_token
    assert token.startswith(root_tokens.PREFIX)
    with fresh.node.db.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT token_hash, kind, revoked_us FROM root_tokens")).all()
    assert [(bytes(h), k, r) for h, k, r in rows] == [
        (hashlib.sha256(token.encode()).digest(), "init", None)
    ]
    secret_part = token.removeprefix(root_tokens.PREFIX)
    for value in _all_values(fresh.node):
        assert secret_part.encode() not in value
        assert secret_part[:16].encode() not in value


def test_root_token_authenticates_as_root(fresh: Ready) -> None:
    principal = fresh.node.authenticate(fresh.root_token)
    assert (principal.subject, principal.kind) == ("root", "root")
    assert principal.has_scope("sys:write")
    assert principal.token_id.startswith("rt_")
    assert fresh.root_token not in repr(principal)
    for wrong in (fresh.root_token + "x", fresh.root_token[:-1], fresh.root_token.upper()):
        with pytest.raises(UnauthenticatedError):
            fresh.node.authenticate(wrong)
    with pytest.raises(UnauthenticatedError):
        fresh.node.authenticate("")
    with pytest.raises(UnauthenticatedError):
        fresh.node.authenticate("srr." + "a" * 9000)


def _authenticates(node: Node, token: str) -> bool:
    with node.db.transaction() as session:
        return root_tokens.authenticate(session, token) is not None


def test_replace_dev_replaces_the_previous_dev_token(fresh: Ready) -> None:
    node, clock = fresh.node, SystemClock()
    with node.db.transaction() as session:
        first = root_tokens.replace_dev(session, clock, None)
    assert first.startswith(root_tokens.PREFIX)
    assert _authenticates(node, first)
    with node.db.transaction() as session:
        second = root_tokens.replace_dev(session, clock, None)
    assert second != first
    assert not _authenticates(node, first)
    assert _authenticates(node, second)
    with node.db.transaction() as session:
        fixed = root_tokens.replace_dev(session, clock, "dev-fixed-token")
    assert fixed == "dev-fixed-token"
    assert not _authenticates(node, second)
    assert _authenticates(node, fixed)
    with pytest.raises(UnauthenticatedError):
        node.authenticate(second)
    # The init root token is not a dev token and is untouched.
    assert _authenticates(node, fresh.root_token)
    with node.db.engine.connect() as conn:
        kinds = sorted(conn.execute(sa.text("SELECT kind FROM root_tokens")).scalars())
    assert kinds == ["dev", "init"]


def test_revoked_root_token_stops_authenticating(fresh: Ready) -> None:
    node, clock = fresh.node, SystemClock()
    with node.db.transaction() as session:
        assert root_tokens.revoke_kind(session, clock, "init") == 1
        assert root_tokens.revoke_kind(session, clock, "init") == 0
    assert not _authenticates(node, fresh.root_token)
    with pytest.raises(UnauthenticatedError):
        node.authenticate(fresh.root_token)
