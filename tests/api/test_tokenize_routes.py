"""Tokenization routes: scopes per app and policy, purposes, views, problems, idempotency."""

from __future__ import annotations

from typing import Any

from support import Ready

CARD = "4242424242424242"
BASE = "/v1/apps/shop/tokens"


def _policy(ready: Ready, **fields: Any) -> dict[str, Any]:
    resp = ready.client.post(f"{BASE}/policies", json=fields, headers=ready.auth())
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def test_scopes_name_the_app_and_policy(ready: Ready) -> None:
    made = _policy(ready, name="cards", region="default", scheme="fpe", format="card", keep_last=4)
    assert made["views"] == {"tokens:reveal:shop/cards": "plain"} and made["shredded"] is False
    _policy(ready, name="mail", region="default", scheme="opaque", format="email")
    writer = ready.mint("tokens:tokenize:shop/cards")
    analyst = ready.mint("tokens:detokenize:shop/cards", subject="analyst")
    owner = ready.mint("tokens:detokenize:shop/cards", "tokens:reveal:shop/cards", subject="owner")
    client = ready.client
    resp = client.post(
        f"{BASE}/cards/tokenize", json={"values": [CARD]}, headers=ready.auth(writer)
    )
    assert resp.status_code == 200, resp.text
    [token] = resp.json()["tokens"]
    assert token.endswith("4242") and len(token) == 16 and token != CARD
    # The tokenize scope of one policy is not that of another, nor detokenize.
    for path, body in (
        (f"{BASE}/mail/tokenize", {"values": ["a@x.com"]}),
        (f"{BASE}/cards/detokenize", {"tokens": [token], "purpose": "x"}),
        (f"{BASE}/policies", None),
    ):
        resp = client.post(path, json=body, headers=ready.auth(writer))
        assert resp.status_code == 403, path
    assert client.post(f"{BASE}/cards/tokenize", json={"values": [CARD]}).status_code == 401
    ask = {"tokens": [token], "purpose": "chargeback 1234"}
    masked = client.post(f"{BASE}/cards/detokenize", json=ask, headers=ready.auth(analyst))
    assert masked.json() == {"items": [{"view": "masked", "value": "****-****-****-4242"}]}
    shown = client.post(f"{BASE}/cards/detokenize", json=ask, headers=ready.auth(owner))
    assert shown.json() == {"items": [{"view": "plain", "value": CARD}]}
    no_purpose = client.post(
        f"{BASE}/cards/detokenize", json={"tokens": [token]}, headers=ready.auth(owner)
    )
    assert no_purpose.status_code == 422
    empty = client.post(
        f"{BASE}/cards/detokenize",
        json={"tokens": [token], "purpose": ""},
        headers=ready.auth(owner),
    )
    assert empty.status_code == 400 and "purpose" in empty.json()["detail"]


def test_problems_for_bad_items_and_tokens(ready: Ready) -> None:
    _policy(ready, name="cards", region="default", scheme="opaque", format="card")
    client, auth = ready.client, ready.auth()
    bad = client.post(
        f"{BASE}/cards/tokenize", json={"values": [CARD, "4242-ABCD-4242-4242"]}, headers=auth
    )
    assert bad.status_code == 422
    problem = bad.json()
    assert problem["type"] == "urn:strongroom:problem:batch-failed"
    assert problem["errors"][0]["index"] == 1 and "ABCD" not in bad.text
    one = client.post(f"{BASE}/cards/tokenize", json={"values": ["12"]}, headers=auth)
    assert one.status_code == 400 and one.json()["type"].endswith("invalid-format")
    forged = client.post(
        f"{BASE}/cards/detokenize",
        json={"tokens": ["tok_default_" + "A" * 32], "purpose": "x"},
        headers=auth,
    )
    assert forged.status_code == 400 and forged.json()["type"].endswith("invalid-token")
    unknown = client.post(f"{BASE}/nope/tokenize", json={"values": [CARD]}, headers=auth)
    assert unknown.status_code == 404
    bad_policy = client.post(
        f"{BASE}/policies",
        json={"name": "x", "region": "default", "scheme": "fpe", "format": "ssn", "keep_last": 4},
        headers=auth,
    )
    assert bad_policy.status_code == 400 and "domain minimum" in bad_policy.json()["detail"]
    too_many = client.post(f"{BASE}/cards/tokenize", json={"values": [CARD] * 10_001}, headers=auth)
    assert too_many.status_code == 413


def test_idempotency_header_erase_and_shred(ready: Ready) -> None:
    _policy(ready, name="mail", region="default", scheme="opaque", format="email")
    client, auth = ready.client, ready.auth()
    body = {"values": ["a@x.com", "b@x.com"]}
    headers = {**auth, "Idempotency-Key": "import-7"}
    first = client.post(f"{BASE}/mail/tokenize", json=body, headers=headers).json()["tokens"]
    again = client.post(f"{BASE}/mail/tokenize", json=body, headers=headers).json()["tokens"]
    assert first == again
    clash = client.post(f"{BASE}/mail/tokenize", json={"values": ["c@x.com"]}, headers=headers)
    assert clash.status_code == 409
    erased = client.post(f"{BASE}/mail/erase", json={"tokens": first[:1]}, headers=auth)
    assert erased.json() == {"count": 1}
    gone = client.post(
        f"{BASE}/mail/detokenize", json={"tokens": first[:1], "purpose": "dsar"}, headers=auth
    )
    assert gone.status_code == 410 and gone.json()["type"].endswith("token-gone")
    assert "erased" in gone.json()["detail"]
    assert client.post(f"{BASE}/policies/mail/shred", headers=auth).json()["shredded"] is True
    shredded = client.post(
        f"{BASE}/mail/detokenize", json={"tokens": first[1:], "purpose": "dsar"}, headers=auth
    )
    assert shredded.status_code == 410 and shredded.json()["type"].endswith("shredded")
    listed = client.get(f"{BASE}/policies", headers=auth).json()["policies"]
    assert [(p["name"], p["shredded"]) for p in listed] == [("mail", True)]
    assert client.post("/v1/tokens/purge", headers=auth).json() == {"count": 0}
    region = client.post("/v1/tokens/regions/default/shred", headers=auth)
    assert region.status_code == 200 and region.json()["policies"] == 0
    assert client.post("/v1/tokens/regions/mars/shred", headers=auth).status_code == 409


def test_unknown_token_scopes_are_refused_only_when_malformed(ready: Ready) -> None:
    token = ready.mint("tokens:admin:shop", "tokens:detokenize:shop/cards")
    assert token
    resp = ready.client.post(
        "/v1/auth/tokens",
        json={"subject": "x", "scopes": ["tokens:peek:shop"], "ttl": 60},
        headers=ready.auth(),
    )
    assert resp.status_code == 400


def test_rate_limited_detokenize_says_when_to_retry(ready: Ready) -> None:
    _policy(ready, name="mail", region="default", scheme="opaque", format="email")
    ready.node.vault.limiter.burst = 3
    ready.node.vault.limiter.rate = 0.5
    client, auth = ready.client, ready.auth()
    tokens = client.post(
        f"{BASE}/mail/tokenize", json={"values": ["a@x.com"] * 3}, headers=auth
    ).json()["tokens"]
    ask = {"tokens": tokens, "purpose": "export"}
    assert client.post(f"{BASE}/mail/detokenize", json=ask, headers=auth).status_code == 200
    limited = client.post(f"{BASE}/mail/detokenize", json=ask, headers=auth)
    assert limited.status_code == 429 and limited.json()["type"].endswith("rate-limited")
    assert 1 <= int(limited.headers["Retry-After"]) <= 6
