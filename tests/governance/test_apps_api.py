"""The /v1/apps, /v1/reviews, /v1/schemas/manifest and /v1/manifest-keys routes."""

from __future__ import annotations

from manifests import GOOD, PLAIN_EMAIL, PLAIN_EMAIL_LINE
from support import Ready

from strongroom.crypto import dsse
from strongroom.governance import signing

CANARY = "ghp_CANARYcanaryCANARYcanary0123456789"


def _tokens(ready: Ready) -> tuple[dict[str, str], dict[str, str]]:
    owner = ready.mint("apps:submit", "apps:read", "reviews:approve", subject="alice@example.com")
    reviewer = ready.mint("reviews:approve", "apps:read", subject="rita@example.com")
    return ready.auth(owner), ready.auth(reviewer)


def test_schema_is_served_publicly(ready: Ready) -> None:
    resp = ready.client.get("/v1/schemas/manifest")
    assert resp.status_code == 200
    assert resp.json()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_submit_review_and_fetch_signed_manifest(ready: Ready) -> None:
    owner, reviewer = _tokens(ready)
    client = ready.client

    denied = client.post("/v1/apps", json={"manifest": PLAIN_EMAIL}, headers=owner)
    assert denied.status_code == 200, denied.text
    body = denied.json()
    assert body["status"] == "rejected"
    assert body["decision"]["deny"][0]["line"] == PLAIN_EMAIL_LINE

    pending = client.post("/v1/apps", json={"manifest": GOOD}, headers=owner).json()
    assert pending["status"] == "pending"
    ident = pending["id"]
    assert client.get("/v1/apps/crm-helper/manifest", headers=owner).status_code == 404

    listed = client.get("/v1/reviews", headers=reviewer).json()["submissions"]
    assert [s["id"] for s in listed] == [ident]

    own = client.post(f"/v1/reviews/{ident}/approve", json={"reason": "mine"}, headers=owner)
    assert own.status_code == 403
    assert own.json()["type"] == "urn:strongroom:problem:forbidden"

    ok = client.post(f"/v1/reviews/{ident}/approve", json={"reason": "ok"}, headers=reviewer)
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "approved"

    status = client.get("/v1/apps/crm-helper", headers=owner).json()
    assert status["approved_submission"] == ident
    assert status["approved_scopes"] == ["data:read:pii.email", "secrets:read:crm-helper/hubspot"]

    envelope = client.get("/v1/apps/crm-helper/manifest", headers=owner).json()
    keys = client.get("/v1/manifest-keys").json()["keys"]
    trusted = {k["keyid"]: signing.load_public_key(k["pem"].encode()) for k in keys}
    signed = signing.verify(dsse.Envelope.from_json(envelope), trusted)
    assert signed["app"] == "crm-helper" and signed["submission"] == ident


def test_bad_input_is_a_clear_error(ready: Ready) -> None:
    owner, reviewer = _tokens(ready)
    client = ready.client
    bad = client.post(
        "/v1/apps",
        json={"manifest": GOOD.replace("region: eu", f"region: eu\nsecret_key: {CANARY}")},
        headers=owner,
    )
    assert bad.status_code == 422
    problem = bad.json()
    assert problem["type"] == "urn:strongroom:problem:invalid-manifest"
    assert problem["errors"][0]["field"] == "secret_key"
    assert CANARY not in bad.text

    wrong = client.post("/v1/apps", json={"manifest": GOOD, "findings": [{"x": 1}]}, headers=owner)
    assert wrong.status_code == 422
    unknown = client.post("/v1/apps", json={"manifest": GOOD, "extra": 1}, headers=owner)
    assert unknown.status_code == 422
    missing = client.post(
        "/v1/reviews/sub_000000000000000000000000/deny", json={"reason": "x"}, headers=reviewer
    )
    assert missing.status_code == 404
    malformed = client.post("/v1/reviews/nope/deny", json={"reason": "x"}, headers=reviewer)
    assert malformed.status_code == 422


def test_scopes_are_enforced(ready: Ready) -> None:
    reader = ready.auth(ready.mint("apps:read", subject="carol@example.com"))
    assert ready.client.post("/v1/apps", json={"manifest": GOOD}, headers=reader).status_code == 403
    assert ready.client.get("/v1/reviews", headers=reader).status_code == 403
