"""DPoP (RFC 9449): the published figures with a frozen clock, bound tokens at the token
endpoint, the full proof check list on the API, nonces, replay, and the DPoP policy."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from identity.broker.brokerkit import Kit
from identity.broker.test_exchange import claims_of, refused
from strongroom.crypto import jwk, jws
from strongroom.errors import InvalidDpopProofError, UseDpopNonceError
from strongroom.identity.dpop import DpopVerifier, MemoryReplayCache, NonceSource, normalise_uri

VECTORS = Path(__file__).resolve().parents[3] / "tests" / "vectors" / "jose"
TOKEN_URL = "http://127.0.0.1:8210/v1/oauth/token"
KEYS_URL = "http://127.0.0.1:8210/v1/sys/keys"


class FrozenClock:
    def __init__(self, seconds: int) -> None:
        self.seconds = seconds

    def now_us(self) -> int:
        return self.seconds * 1_000_000


def verifier(clock: Any, **kw: Any) -> DpopVerifier:
    return DpopVerifier(
        clock, MemoryReplayCache(clock), NonceSource(lambda: b"k" * 32, clock), **kw
    )


# -- the published figures -------------------------------------------------------------


def test_rfc9449_token_request_proof_jkt_and_ath() -> None:
    vector = json.loads((VECTORS / "rfc9449.json").read_text())
    figure = vector["token_request_proof"]
    checker = verifier(FrozenClock(figure["iat"]))
    checked = checker.verify(figure["proof"], htm=figure["htm"], htu=figure["htu"])
    assert checked.jkt == vector["jkt"]
    assert checked.jti == figure["jti"]
    assert jws.sha256_b64u(vector["access_token"].encode()) == vector["ath"]
    # The same proof is refused a second time, for another method or URI, and later on.
    with pytest.raises(InvalidDpopProofError):
        checker.verify(figure["proof"], htm=figure["htm"], htu=figure["htu"])
    for htm, htu, at in (
        ("GET", figure["htu"], figure["iat"]),
        ("POST", "https://server.example.com/other", figure["iat"]),
        ("POST", figure["htu"], figure["iat"] + 61),
        ("POST", figure["htu"], figure["iat"] - 6),
    ):
        with pytest.raises(InvalidDpopProofError):
            verifier(FrozenClock(at)).verify(figure["proof"], htm=htm, htu=htu)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("HTTPS://Server.Example.com:443/token", "https://server.example.com/token"),
        ("https://server.example.com/token?x=1#f", "https://server.example.com/token"),
        ("http://h:80", "http://h/"),
    ],
)
def test_htu_normalisation(a: str, b: str) -> None:
    assert normalise_uri(a) == normalise_uri(b)


def test_htu_differences_that_matter() -> None:
    assert normalise_uri("https://h:8443/t") != normalise_uri("https://h/t")
    assert normalise_uri("http://h/t") != normalise_uri("https://h/t")
    with pytest.raises(ValueError):
        normalise_uri("ftp://h/t")


# -- a client's DPoP key ---------------------------------------------------------------


class Holder:
    """A client's DPoP key pair, making proofs."""

    def __init__(self, alg: str = "EdDSA") -> None:
        self.alg = alg
        if alg == "EdDSA":
            self.key: Any = Ed25519PrivateKey.generate()
            raw = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
            self.jwk = {"kty": "OKP", "crv": "Ed25519", "x": jwk.b64u_encode(raw)}
        else:
            self.key = ec.generate_private_key(ec.SECP256R1())
            n = self.key.public_key().public_numbers()
            self.jwk = {
                "kty": "EC",
                "crv": "P-256",
                "x": jwk.b64u_encode(n.x.to_bytes(32, "big")),
                "y": jwk.b64u_encode(n.y.to_bytes(32, "big")),
            }
        self.jkt = jwk.thumbprint(self.jwk)

    def proof(
        self,
        htm: str,
        htu: str,
        token: str | None = None,
        *,
        header: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        body: dict[str, Any] = {
            "jti": secrets.token_urlsafe(12),
            "htm": htm,
            "htu": htu,
            "iat": int(time.time()),
        }
        if token is not None:
            body["ath"] = jws.sha256_b64u(token.encode())
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        head = {"typ": "dpop+jwt", "jwk": self.jwk, **(header or {})}
        return jws.sign(head, json.dumps(body).encode(), self.key, self.alg)


def bound_token(kit: Kit, holder: Holder, **proof_claims: Any) -> str:
    resp = kit.exchange(
        kit.mint("sys:read"),
        scope="sys:read",
        headers={"DPoP": holder.proof("POST", TOKEN_URL, **proof_claims)},
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["token_type"] == "DPoP"
    assert claims_of(body["access_token"])["cnf"] == {"jkt": holder.jkt}
    return str(body["access_token"])


def call(kit: Kit, token: str, proof: str | None, scheme: str = "DPoP") -> Any:
    headers = {"Authorization": f"{scheme} {token}"}
    if proof is not None:
        headers["DPoP"] = proof
    return kit.client.get("/v1/sys/keys", headers=headers)


@pytest.mark.parametrize("alg", ["EdDSA", "ES256"])
def test_a_bound_token_works_only_with_a_fresh_proof(kit: Kit, alg: str) -> None:
    holder = Holder(alg)
    token = bound_token(kit, holder)
    proof = holder.proof("GET", KEYS_URL, token)
    assert call(kit, token, proof).status_code == 200
    replayed = call(kit, token, proof)
    assert replayed.status_code == 401
    assert replayed.headers["www-authenticate"].startswith('DPoP error="invalid_dpop_proof"')


def test_a_bound_token_without_its_proof_is_refused(kit: Kit) -> None:
    holder = Holder()
    token = bound_token(kit, holder)
    as_bearer = call(kit, token, None, scheme="Bearer")
    assert as_bearer.status_code == 401
    assert as_bearer.headers["www-authenticate"].startswith("DPoP")
    assert call(kit, token, None).status_code == 401
    assert (
        call(kit, token, holder.proof("GET", KEYS_URL, token), scheme="Bearer").status_code == 401
    )
    events = kit.events("sys.keys.list")
    assert events[-1]["outcome"] == "denied"


@pytest.mark.parametrize(
    "bad",
    [
        "wrong_htm",
        "wrong_htu",
        "wrong_ath",
        "no_ath",
        "other_key",
        "old",
        "future",
        "typ_jwt",
        "alg_none",
        "hs256",
        "private_jwk",
        "no_jti",
        "crit",
    ],
)
def test_proof_checks_on_the_api(kit: Kit, bad: str) -> None:
    holder = Holder()
    token = bound_token(kit, holder)
    now = int(time.time())
    proof: str
    if bad == "wrong_htm":
        proof = holder.proof("POST", KEYS_URL, token)
    elif bad == "wrong_htu":
        proof = holder.proof("GET", "http://127.0.0.1:8210/v1/sys/seal-status", token)
    elif bad == "wrong_ath":
        proof = holder.proof("GET", KEYS_URL, token + "x")
    elif bad == "no_ath":
        proof = holder.proof("GET", KEYS_URL)
    elif bad == "other_key":
        proof = Holder().proof("GET", KEYS_URL, token)
    elif bad == "old":
        proof = holder.proof("GET", KEYS_URL, token, iat=now - 120)
    elif bad == "future":
        proof = holder.proof("GET", KEYS_URL, token, iat=now + 60)
    elif bad == "typ_jwt":
        proof = holder.proof("GET", KEYS_URL, token, header={"typ": "JWT"})
    elif bad == "no_jti":
        proof = holder.proof("GET", KEYS_URL, token, jti=None)
    elif bad == "crit":
        proof = holder.proof("GET", KEYS_URL, token, header={"crit": ["exp"]})
    elif bad == "private_jwk":
        private = holder.key.private_bytes_raw()
        proof = holder.proof(
            "GET", KEYS_URL, token, header={"jwk": {**holder.jwk, "d": jwk.b64u_encode(private)}}
        )
    else:
        good = holder.proof("GET", KEYS_URL, token)
        head, body, _ = good.split(".")
        header = json.loads(jwk.b64u_decode(head))
        if bad == "alg_none":
            header["alg"] = "none"
            proof = f"{jwk.b64u_encode(json.dumps(header).encode())}.{body}."
        else:  # HS256 keyed with the public key's bytes
            import hashlib
            import hmac

            header["alg"] = "HS256"
            h = jwk.b64u_encode(json.dumps(header).encode())
            mac = hmac.new(jwk.b64u_decode(holder.jwk["x"]), f"{h}.{body}".encode(), hashlib.sha256)
            proof = f"{h}.{body}.{jwk.b64u_encode(mac.digest())}"
    resp = call(kit, token, proof)
    assert resp.status_code == 401, bad
    assert resp.headers["www-authenticate"].startswith("DPoP")
    assert kit.events("sys.keys.list")[-1]["outcome"] == "denied"
    assert token not in kit.trail_text() and proof not in kit.trail_text()


def test_bad_proofs_at_the_token_endpoint_issue_nothing(kit: Kit) -> None:
    holder = Holder()
    for proof in (
        holder.proof("GET", TOKEN_URL),
        holder.proof("POST", "http://127.0.0.1:8210/v1/oauth/other"),
        holder.proof("POST", TOKEN_URL, header={"typ": "JWT"}),
        "garbage",
    ):
        resp = kit.exchange(kit.mint("sys:read"), scope="sys:read", headers={"DPoP": proof})
        refused(resp, "invalid_dpop_proof")
        assert kit.events("oauth.token.exchange")[-1]["outcome"] == "denied"
    same = holder.proof("POST", TOKEN_URL)
    assert kit.exchange(kit.mint("sys:read"), headers={"DPoP": same}).status_code == 200
    refused(kit.exchange(kit.mint("sys:read"), headers={"DPoP": same}), "invalid_dpop_proof")


def test_a_bound_subject_token_needs_its_key_to_be_exchanged(kit: Kit) -> None:
    holder = Holder()
    token = bound_token(kit, holder)
    refused(kit.exchange(token, scope="sys:read"), "invalid_request")
    other = Holder().proof("POST", TOKEN_URL)
    refused(kit.exchange(token, scope="sys:read", headers={"DPoP": other}), "invalid_request")
    own = holder.proof("POST", TOKEN_URL)
    resp = kit.exchange(token, scope="sys:read", headers={"DPoP": own})
    assert resp.status_code == 200 and resp.json()["token_type"] == "DPoP"


def test_server_nonces(make_kit: Callable[..., Kit]) -> None:
    kit = make_kit(dpop_require_nonce=True)
    holder = Holder()
    first = kit.exchange(
        kit.mint("sys:read"), scope="sys:read", headers={"DPoP": holder.proof("POST", TOKEN_URL)}
    )
    refused(first, "use_dpop_nonce")
    nonce = first.headers["dpop-nonce"]
    token = bound_token(kit, holder, nonce=nonce)
    resp = call(kit, token, holder.proof("GET", KEYS_URL, token))
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"].startswith('DPoP error="use_dpop_nonce"')
    nonce = resp.headers["dpop-nonce"]
    assert call(kit, token, holder.proof("GET", KEYS_URL, token, nonce=nonce)).status_code == 200
    bad = holder.proof("GET", KEYS_URL, token, nonce="forged-nonce")
    assert call(kit, token, bad).status_code == 401


def test_nonces_expire_after_two_windows() -> None:
    clock = FrozenClock(1_000_000)
    nonces = NonceSource(lambda: b"k" * 32, clock)
    nonce = nonces.issue()
    assert nonces.valid(nonce)
    clock.seconds += 60
    assert nonces.valid(nonce)
    clock.seconds += 60
    assert not nonces.valid(nonce)
    assert not NonceSource(lambda: b"j" * 32, clock).valid(nonces.issue())


def test_policy_requires_dpop_for_chosen_scopes(make_kit: Callable[..., Kit]) -> None:
    kit = make_kit(dpop_required_scopes=["sys:*"])
    plain = kit.exchange(kit.mint("sys:read"), scope="sys:read").json()["access_token"]
    resp = kit.client.get("/v1/sys/keys", headers=kit.auth(plain))
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"].startswith('DPoP error="invalid_token"')
    assert "needs DPoP" in kit.events("sys.keys.list")[-1]["detail"]["error"]
    holder = Holder()
    token = bound_token(kit, holder)
    assert call(kit, token, holder.proof("GET", KEYS_URL, token)).status_code == 200
    # Root (an operator's token) is exempt; other scopes are unaffected.
    assert kit.client.get("/v1/sys/keys", headers=kit.auth()).status_code == 200
    audit = kit.mint("audit:read")
    assert kit.client.get("/v1/audit/events", headers=kit.auth(audit)).status_code == 200


def test_a_shared_replay_store_refuses_a_proof_on_another_node(
    make_kit: Callable[..., Kit],
) -> None:
    a = make_kit(proof_replay_store="database")
    b = make_kit(proof_replay_store="database")
    holder = Holder()
    token = bound_token(a, holder)
    proof = holder.proof("GET", KEYS_URL, token)
    assert call(a, token, proof).status_code == 200
    assert call(b, token, proof).status_code == 401


def test_the_memory_replay_cache_is_bounded() -> None:
    clock = FrozenClock(100)
    cache = MemoryReplayCache(clock, max_entries=2)
    assert cache.first_use(b"a", 200_000_000) and cache.first_use(b"b", 200_000_000)
    assert not cache.first_use(b"c", 200_000_000)  # full of live entries: fail closed
    clock.seconds = 300
    assert cache.first_use(b"c", 400_000_000)  # the old ones expired


def test_nonce_errors_carry_a_fresh_nonce() -> None:
    clock = FrozenClock(int(time.time()))
    checker = verifier(clock, require_nonce=True)
    holder = Holder()
    with pytest.raises(UseDpopNonceError) as info:
        checker.verify(holder.proof("POST", TOKEN_URL), htm="POST", htu=TOKEN_URL)
    assert checker.nonces.valid(info.value.headers["DPoP-Nonce"])


def _redis_up() -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", 6379)) == 0


@pytest.mark.skipif(not _redis_up(), reason="no Redis on 127.0.0.1:6379")
def test_a_redis_replay_store_refuses_a_proof_on_another_node(
    make_kit: Callable[..., Kit],
) -> None:
    url = "redis://127.0.0.1:6379/0"
    a = make_kit(proof_replay_store="redis", redis_url=url)
    b = make_kit(proof_replay_store="redis", redis_url=url)
    holder = Holder()
    token = bound_token(a, holder)
    proof = holder.proof("GET", KEYS_URL, token)
    assert call(b, token, proof).status_code == 200
    assert call(a, token, proof).status_code == 401


def test_an_unreachable_redis_fails_closed() -> None:
    from strongroom.errors import StoreError
    from strongroom.identity.dpop import RedisReplayCache

    cache = RedisReplayCache("redis://127.0.0.1:1/0", FrozenClock(int(time.time())))
    with pytest.raises(StoreError):
        cache.first_use(b"x" * 32, (int(time.time()) + 60) * 1_000_000)
